//! Starting the real server for tests: in-process on 127.0.0.1:0, or as a child process that
//! a test can kill with SIGKILL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use server::Settings;
use server::demo::{DEMO_PASSWORD, Size};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The admin password of test servers.
pub const ADMIN_PASSWORD: &str = "admin-test-password";

/// A folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh folder under the system temp dir.
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gridvisit-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server running inside the test process.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (store, dashboard, metrics).
    pub state: server::AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: TempDir,
}

impl TestServer {
    /// Starts a server with the small demo city on 127.0.0.1:0.
    pub async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    /// Starts a server with custom settings.
    pub async fn start_with(settings: Settings) -> Self {
        Self::start_city(settings, Size::Small).await
    }

    /// Starts a server with custom settings and a demo city of the given size.
    pub async fn start_city(settings: Settings, size: Size) -> Self {
        let dir = TempDir::new("server");
        let state = server::open(&dir.0, settings).expect("open server");
        server::demo::seed(
            state.store.as_ref(),
            size,
            ADMIN_PASSWORD,
            DEMO_PASSWORD,
            server::engine::now(),
        )
        .expect("seed");
        server::rebuild_dashboard(&state).expect("dashboard");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let task = tokio::spawn(async move {
            server::serve(listener, st, async move {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        Self {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// `http://addr`.
    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The sync URL for a token.
    pub fn ws(&self, token: &str) -> String {
        format!("ws://{}/sync?token={token}", self.addr)
    }

    /// Stops it gracefully.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// Signs in and returns the token.
pub async fn login(http: &str, user: &str, password: &str) -> String {
    let reply: Value = reqwest::Client::new()
        .post(format!("{http}/api/login"))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("login request")
        .json()
        .await
        .expect("login json");
    reply["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {reply}"))
        .to_owned()
}

/// Signs in a demo user.
pub async fn demo_login(http: &str, user: &str) -> String {
    login(http, user, DEMO_PASSWORD).await
}

/// GET a JSON API path with a token; returns (status, body).
pub async fn get_json(http: &str, path: &str, token: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{http}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The server as a child process (`gv-test-server`), killable with SIGKILL.
pub struct ProcessServer {
    /// The process.
    pub child: tokio::process::Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ProcessServer {
    /// Starts the server binary on `data` (seeding the small demo city on first start) and waits
    /// for it to print its address.
    pub async fn spawn(bin: &Path, data: &Path) -> Self {
        Self::spawn_with(bin, data, &[]).await
    }

    /// [`ProcessServer::spawn`] with more flags.
    pub async fn spawn_with(bin: &Path, data: &Path, flags: &[&std::ffi::OsStr]) -> Self {
        let mut child = tokio::process::Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(flags)
            .args(["--admin-password", ADMIN_PASSWORD])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("gridvisit is running: open http://") {
                    let addr = rest.split('/').next().unwrap_or_default();
                    return addr.parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("server printed its address");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, addr }
    }

    /// `http://addr`.
    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The sync URL for a token.
    pub fn ws(&self, token: &str) -> String {
        format!("ws://{}/sync?token={token}", self.addr)
    }

    /// SIGKILL: no chance to flush anything.
    pub async fn kill9(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
