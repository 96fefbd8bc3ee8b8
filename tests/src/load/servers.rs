//! The three servers loadgen runs the same work against, each a child process on 127.0.0.1:
//! gridvisit (this repository's server, re-executed from the loadgen binary), the reference JS
//! server (`tests/js/sync-server.mjs`: automerge-repo's `NodeWSServerAdapter` and
//! `NodeFSStorageAdapter`) and a minimal samod server ([`samod_main`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{ADMIN_PASSWORD, demo_login};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// This repository's server.
    Gridvisit,
    /// automerge-repo's reference sync server (Node.js).
    Js,
    /// samod (Rust) with its axum acceptor.
    Samod,
}

impl Kind {
    /// Every kind, in the order tables print them.
    pub const ALL: [Self; 3] = [Self::Gridvisit, Self::Js, Self::Samod];

    /// Its name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gridvisit => "gridvisit",
            Self::Js => "automerge-repo (JS)",
            Self::Samod => "samod",
        }
    }

    /// Parses `gridvisit`, `js` or `samod`.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "gridvisit" => Ok(Self::Gridvisit),
            "js" => Ok(Self::Js),
            "samod" => Ok(Self::Samod),
            _ => anyhow::bail!("unknown server {s:?}: gridvisit, js or samod"),
        }
    }

    /// Whether clients negotiate gridvisit's extension and sign in (plain automerge-repo
    /// clients otherwise).
    pub fn native(self) -> bool {
        self == Self::Gridvisit
    }
}

/// A running server.
pub struct Server {
    /// Which.
    pub kind: Kind,
    /// Its data folder (kept across restarts).
    pub data: PathBuf,
    child: Child,
    /// Its port.
    pub port: u16,
}

fn loadgen_exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("locating the loadgen binary")
}

impl Server {
    /// Starts a server of `kind` on `data` (created if missing) and waits until it listens.
    pub async fn start(kind: Kind, data: &Path) -> anyhow::Result<Self> {
        Self::start_on(kind, data, 0).await
    }

    /// [`Server::start`] on a given port (0: any free one; gridvisit only).
    pub async fn start_on(kind: Kind, data: &Path, port: u16) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data)?;
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = match kind {
            Kind::Gridvisit => {
                let mut c = Command::new(loadgen_exe()?);
                c.arg("serve-gridvisit")
                    .args(["--listen", listen.as_str(), "--demo", "full"])
                    .arg("--demo-accounts-only")
                    .args(["--admin-password", ADMIN_PASSWORD, "--data"])
                    .arg(data)
                    .env("RUST_LOG", "error");
                c
            }
            Kind::Js => {
                let mut c = Command::new("node");
                c.current_dir(crate::js_dir())
                    .arg("sync-server.mjs")
                    .arg(data)
                    .arg("0");
                c
            }
            Kind::Samod => {
                let mut c = Command::new(loadgen_exe()?);
                c.arg("serve-samod").arg(data);
                c
            }
        };
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting the {} server", kind.name()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(120), async {
            while let Ok(Some(line)) = lines.next_line().await {
                let port =
                    if let Some(rest) = line.strip_prefix("gridvisit is running: open http://") {
                        rest.split('/')
                            .next()
                            .and_then(|a| a.rsplit(':').next())
                            .and_then(|p| p.parse().ok())
                    } else {
                        line.strip_prefix("listening on ")
                            .and_then(|p| p.trim().parse().ok())
                    };
                if port.is_some() {
                    return port;
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .with_context(|| format!("the {} server did not say where it listens", kind.name()))?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            kind,
            data: data.to_owned(),
            child,
            port,
        })
    }

    /// `http://127.0.0.1:port`.
    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where a client of `user` connects (`token` only for gridvisit).
    pub fn ws(&self, token: Option<&str>) -> String {
        match (self.kind, token) {
            (Kind::Gridvisit, Some(t)) => format!("ws://127.0.0.1:{}/sync?token={t}", self.port),
            _ => format!("ws://127.0.0.1:{}/", self.port),
        }
    }

    /// Signs a user in (gridvisit; the others have no accounts).
    pub async fn token(&self, user: &str) -> Option<String> {
        if self.kind.native() {
            Some(demo_login(&self.http(), user).await)
        } else {
            None
        }
    }

    /// The server process's ID.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss(&self) -> u64 {
        self.child.id().map_or(0, rss_of)
    }

    /// CPU time the server process has used so far (user + system, every thread), in µs.
    pub fn cpu_micros(&self) -> u64 {
        self.child.id().map_or(0, cpu_micros_of)
    }

    /// A reader of [`Server::rss`] that a sampling task can own.
    pub fn rss_reader(&self) -> impl Fn() -> u64 + Send + 'static {
        let pid = self.child.id();
        move || pid.map_or(0, rss_of)
    }

    /// SIGKILL: the outage. Nothing is flushed.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Starts the same server again on the same data, after [`Server::kill`].
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        *self = Self::start(self.kind, &self.data.clone()).await?;
        Ok(())
    }

    /// Starts the same gridvisit server again on the same data and the same port, so phones
    /// reconnect to the address they know.
    pub async fn restart_in_place(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        *self = Self::start_on(self.kind, &self.data.clone(), self.port).await?;
        Ok(())
    }
}

/// `loadgen serve-samod <data-dir>`: the minimal samod server. samod's `Repo` on tokio with its
/// filesystem storage (the layout of automerge-repo's `NodeFSStorageAdapter`) and its axum
/// WebSocket acceptor at `/`. Like the automerge-repo sync server it announces nothing: peers
/// get the documents they ask for by ID. Binds 127.0.0.1 on a free port and prints
/// `listening on <port>`.
pub async fn samod_main(data: &Path) -> anyhow::Result<()> {
    use axum::extract::State;
    use axum::extract::ws::WebSocketUpgrade;
    use axum::response::Response;

    async fn sync(State(acceptor): State<samod::AcceptorHandle>, ws: WebSocketUpgrade) -> Response {
        ws.on_upgrade(move |socket| async move {
            if acceptor.accept_axum(socket, None).is_err() {
                eprintln!("samod-server: the repo stopped");
            }
        })
    }

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SAMOD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    std::fs::create_dir_all(data)?;
    let repo = samod::Repo::build_tokio()
        .with_storage(samod::storage::TokioFilesystemStorage::new(data))
        .with_share_policy(samod::ShareConfig::read_write().with_announce(false))
        .load()
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let acceptor = repo
        .make_acceptor(url::Url::parse(&format!("ws://{addr}/"))?)
        .map_err(|_| anyhow::anyhow!("the repo stopped before it accepted connections"))?;
    let app = axum::Router::new()
        .route("/", axum::routing::get(sync))
        .with_state(acceptor);
    println!("listening on {}", addr.port());
    axum::serve(listener, app).await?;
    Ok(())
}

/// User + system CPU time of a process (all its threads), in µs, from `/proc/<pid>/stat`
/// (fields 14 and 15, in clock ticks of 1/100 s: Linux's `USER_HZ`).
pub fn cpu_micros_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The command name (field 2) may hold spaces: count from its closing parenthesis.
            let rest = &s[s.rfind(')')? + 1..];
            let mut f = rest.split_whitespace().skip(11);
            let user: u64 = f.next()?.parse().ok()?;
            let system: u64 = f.next()?.parse().ok()?;
            Some((user + system) * 10_000)
        })
        .unwrap_or(0)
}

/// Resident memory of a process, in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
