//! The command line of the `gridvisit` binary: flags (also from the environment), first-start
//! seeding, the start banner, and graceful shutdown on SIGTERM and Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::demo::{self, DEMO_PASSWORD, Size};
use crate::{Settings, engine::now};
use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// gridvisit sync server.
#[derive(Parser, Debug)]
#[command(name = "gridvisit", version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "GRIDVISIT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data folder (created if missing).
    #[arg(
        long,
        env = "GRIDVISIT_DATA",
        default_value = "gridvisit-data",
        global = true
    )]
    data: PathBuf,
    /// A maintenance command instead of serving.
    #[command(subcommand)]
    command: Option<Command>,
    /// Admin password; generated and printed on first start when not given.
    #[arg(long, env = "GRIDVISIT_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Size of the demo city seeded on first start.
    #[arg(long, env = "GRIDVISIT_DEMO", value_enum, default_value = "small")]
    demo: Size,
    /// Do not seed a demo city on first start (accounts: admin only).
    #[arg(long, env = "GRIDVISIT_NO_DEMO")]
    no_demo: bool,
    /// Seed only the demo city's accounts, no records (what the load generator starts from).
    #[arg(long, env = "GRIDVISIT_DEMO_ACCOUNTS_ONLY", conflicts_with = "no_demo")]
    demo_accounts_only: bool,
    /// Folder of the built field app, served at `/` (`cargo xtask app` builds `target/app`).
    #[arg(long, env = "GRIDVISIT_APP")]
    app: Option<PathBuf>,
    /// The address phones reach this server at, used in QR codes and links
    /// (`https://192.168.1.20:8443`); by default the address it listens on.
    #[arg(long, env = "GRIDVISIT_PUBLIC_URL")]
    public_url: Option<String>,
    /// Serve HTTPS with this certificate (PEM, the chain after it), with `--tls-key`.
    #[arg(long, env = "GRIDVISIT_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, env = "GRIDVISIT_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS on a LAN with no certificate: make a local certificate authority on first
    /// start (`DATA/tls/ca.pem`, served at `/ca.pem` for phones to trust) and a certificate
    /// it signs for `--tls-names` and the host of `--public-url`.
    #[arg(long, env = "GRIDVISIT_TLS_LOCAL_CA", conflicts_with = "tls_cert")]
    tls_local_ca: bool,
    /// Names and addresses phones reach the server by (`192.168.1.20,gridvisit.lan`), for the
    /// local CA's certificate.
    #[arg(long, env = "GRIDVISIT_TLS_NAMES", value_delimiter = ',')]
    tls_names: Vec<String>,
    /// Cookies carry `Secure` (serving behind an HTTPS proxy).
    #[arg(long, env = "GRIDVISIT_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Hours a login token lasts.
    #[arg(long, env = "GRIDVISIT_TOKEN_TTL_HOURS", default_value_t = 168)]
    token_ttl_hours: i64,
    /// Days of visits and closed issues a worker's phone holds (older ones are fetched on
    /// demand).
    #[arg(long, env = "GRIDVISIT_WINDOW_DAYS", default_value_t = shared::sync::DEFAULT_WINDOW_DAYS,
          value_parser = clap::value_parser!(i64).range(1..=3660))]
    window_days: i64,
    /// Engine threads (documents are sharded across them); default: one per core, at most 2.
    #[arg(long, env = "GRIDVISIT_ENGINE_THREADS",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    engine_threads: Option<u16>,
}

/// Maintenance commands (the server must not be running on the same data folder, except for
/// `backup`).
#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Writes a city of G grids × H households × W weeks of visits and issues into an empty
    /// data folder, with the demo city's accounts.
    Generate {
        /// Grids (the seed-shaped layout has 514).
        #[arg(long, default_value_t = 514, value_parser = clap::value_parser!(u16).range(1..=514))]
        grids: u16,
        /// Households per grid.
        #[arg(long, default_value_t = 300)]
        households: usize,
        /// Weeks of weekly visits, ending this week.
        #[arg(long, default_value_t = 13)]
        weeks: u32,
        /// Varies names, outcomes and issues.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Recomputes the figures over time (and everything else derived from each record) from
    /// the records themselves.
    RebuildFigures,
    /// Writes a consistent backup of the data folder (through the server when it runs).
    Backup {
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Restores a backup into the data folder of a stopped server (a new database with a new
    /// epoch; the one there is kept beside it, renamed).
    Restore {
        /// The backup file to read.
        #[arg(long)]
        from: PathBuf,
    },
}

/// Runs a maintenance command.
fn run_command(cli: &Cli, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Backup { out } => {
            let t = std::time::Instant::now();
            let c = crate::backup::take(&cli.data, out, now().0)?;
            println!(
                "backed up {} records, {} accounts, {} logins and {} photos in {:.1} s: {}",
                c.docs,
                c.accounts,
                c.tokens,
                c.photos,
                t.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(())
        }
        Command::Restore { from } => {
            let t = std::time::Instant::now();
            let (c, kept) = crate::backup::restore(&cli.data, from, now().0)?;
            println!(
                "restored {} records, {} accounts, {} logins and {} photos in {:.1} s into {} (a new epoch: clients send what it lacks when they reconnect)",
                c.docs,
                c.accounts,
                c.tokens,
                c.photos,
                t.elapsed().as_secs_f64(),
                cli.data.display()
            );
            if let Some(k) = kept {
                println!("  the database it replaced is kept as {}", k.display());
            }
            Ok(())
        }
        Command::RebuildFigures => {
            let store = crate::store::redb_store::RedbStore::open(&cli.data)
                .with_context(|| format!("opening {}", cli.data.display()))?;
            let t = std::time::Instant::now();
            let n = store.rebuild_figures(|n| {
                if n % 100_000 < 5_000 {
                    eprintln!("  {n} records ({:.0} s)", t.elapsed().as_secs_f64());
                }
            })?;
            println!(
                "rebuilt the figures of {n} records in {:.1} s: {}",
                t.elapsed().as_secs_f64(),
                cli.data.display()
            );
            Ok(())
        }
        Command::Generate {
            grids,
            households,
            weeks,
            seed,
        } => {
            let store = crate::store::redb_store::RedbStore::open(&cli.data)
                .with_context(|| format!("opening {}", cli.data.display()))?;
            use crate::store::Storage;
            anyhow::ensure!(
                store.doc_count()? == 0,
                "{} already holds records: generate into an empty data folder",
                cli.data.display()
            );
            let password = cli
                .admin_password
                .clone()
                .unwrap_or_else(|| DEMO_PASSWORD.to_owned());
            demo::seed_accounts(&store, Size::Full, &password, DEMO_PASSWORD)?;
            let plan = crate::generate::Plan {
                grids: usize::from(*grids),
                households: *households,
                weeks: *weeks,
                now: now(),
                seed: *seed,
            };
            let t = std::time::Instant::now();
            let mut last = std::time::Instant::now();
            let made = crate::generate::generate(&store, &plan, |n| {
                if last.elapsed().as_secs() >= 10 {
                    last = std::time::Instant::now();
                    eprintln!("  {n} records written ({:.0} s)", t.elapsed().as_secs_f64());
                }
            })?;
            println!(
                "generated {} households, {} visits, {} issues ({} open) in {} grids × {} weeks in {:.1} s: {}",
                made.households,
                made.visits,
                made.issues,
                made.open,
                grids,
                weeks,
                t.elapsed().as_secs_f64(),
                cli.data.display()
            );
            println!(
                "  demo logins (city, street-s01, sec-s01-c01, w-s01-c01-g01, …) share the password {DEMO_PASSWORD}; admin: {password}"
            );
            Ok(())
        }
    }
}

/// Runs the server as the binary does, with the process arguments.
pub async fn main() -> anyhow::Result<()> {
    main_from(std::env::args_os()).await
}

/// [`main`] with these arguments (the first is the program's name).
pub async fn main_from(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    let cli = Cli::parse_from(args);
    if let Some(command) = &cli.command {
        return run_command(&cli, command);
    }
    // Off loopback anyone on the network can reach the server: the published demo password
    // must not sign anyone in there.
    let loopback = cli.listen.ip().is_loopback();
    let tls = tls_config(&cli)?;
    let settings = Settings {
        token_ttl_ms: cli.token_ttl_hours * 3_600_000,
        app_dir: cli.app.clone(),
        secure_cookies: cli.secure_cookies || tls.is_some(),
        ca_cert: tls
            .as_ref()
            .and_then(|t| t.1.as_ref())
            .map(|ca| ca.ca.clone()),
        demo_password_allowed: loopback,
        window_days: cli.window_days,
        public_url: cli.public_url.clone(),
        engine_threads: cli
            .engine_threads
            .map_or_else(crate::settings::default_engine_threads, usize::from),
        ..Settings::default()
    };
    let state = crate::open(&cli.data, settings)
        .with_context(|| format!("opening {}", cli.data.display()))?;
    let first_start = state.store.account("admin")?.is_none();
    let mut banner = Vec::new();
    if first_start {
        let (password, generated) = match cli.admin_password.clone() {
            Some(p) => (p, false),
            None => (crate::auth::new_token()?[..16].to_owned(), true),
        };
        let demo_password = if loopback {
            DEMO_PASSWORD.to_owned()
        } else {
            crate::auth::new_token()?[..12].to_owned()
        };
        if cli.no_demo {
            crate::demo::seed_admin(state.store.as_ref(), &password)?;
            banner.push(
                "  an empty city: sign in as admin and follow the setup guide (organisation, people, households) / 空白城市：以管理员登录，按引导设置组织、人员和住户".into(),
            );
        } else if cli.demo_accounts_only {
            demo::seed_accounts(state.store.as_ref(), cli.demo, &password, &demo_password)?;
            banner.push(format!(
                "  {:<36} {demo_password}",
                "演示账号密码 demo accounts' password"
            ));
        } else {
            let t = std::time::Instant::now();
            let seeded = demo::seed(
                state.store.as_ref(),
                cli.demo,
                &password,
                &demo_password,
                now(),
            )?;
            tracing::info!(
                grids = seeded.grids,
                records = seeded.records,
                secs = t.elapsed().as_secs_f32(),
                "demo city seeded"
            );
            for (user, role) in seeded.logins.iter().skip(1) {
                banner.push(format!("  {role:<36} {user} / {demo_password}"));
            }
        }
        banner.insert(
            0,
            format!(
                "  {:<36} admin / {}{}",
                "管理员 admin",
                password,
                if generated {
                    "  (generated: keep it)"
                } else {
                    ""
                }
            ),
        );
        // The dashboard was built before seeding: rebuild it from what is now stored.
        crate::rebuild_dashboard(&state)?;
    }
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr()?;
    let running = cli.data.join(crate::backup::RUNNING);
    let (http, ws) = if tls.is_some() {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    write_running(&running, &format!("{http}://{addr}"), &state.backup_key)?;
    println!(
        "gridvisit is running: open {http}://{addr}/  (sync: {ws}://{addr}/sync, data: {})",
        cli.data.display()
    );
    if let Some(url) = &cli.public_url {
        println!("  phones reach it at {url} (QR codes and links)");
    }
    if let Some((_, Some(ca))) = &tls {
        println!(
            "  HTTPS by the local CA {} for {}{}: each phone trusts it once, from {http}://<this server>/ca.pem (README: HTTPS on a LAN)",
            ca.ca.display(),
            ca.names.join(", "),
            if ca.created { " (made now)" } else { "" }
        );
    }
    if banner.is_empty() && loopback {
        println!("  sign in with your accounts; demo users share the password {DEMO_PASSWORD}");
    } else if banner.is_empty() {
        println!(
            "  sign in with your accounts (off loopback the published demo password is refused)"
        );
    } else {
        println!(
            "  {}",
            if cli.no_demo {
                "logins / 登录:"
            } else {
                "demo logins:"
            }
        );
        for line in banner {
            println!("{line}");
        }
    }
    match tls {
        Some((config, _)) => {
            let listener = crate::tls::TlsListener::new(listener, config)?;
            crate::serve(listener, state, shutdown_signal()).await?;
        }
        None => crate::serve(listener, state, shutdown_signal()).await?,
    }
    let _ = std::fs::remove_file(&running);
    tracing::info!("stopped");
    Ok(())
}

/// The TLS configuration the flags ask for, with what the local CA made.
fn tls_config(
    cli: &Cli,
) -> anyhow::Result<
    Option<(
        std::sync::Arc<rustls::ServerConfig>,
        Option<crate::tls::LocalCa>,
    )>,
> {
    if let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) {
        return Ok(Some((crate::tls::config_from_files(cert, key)?, None)));
    }
    if !cli.tls_local_ca {
        return Ok(None);
    }
    let mut names = cli.tls_names.clone();
    if let Some(host) = cli
        .public_url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .and_then(|rest| rest.split(['/', ':']).next())
    {
        names.push(host.to_owned());
    }
    if !cli.listen.ip().is_unspecified() {
        names.push(cli.listen.ip().to_string());
    }
    std::fs::create_dir_all(&cli.data)?;
    let (config, ca) = crate::tls::local_ca(&cli.data, &names, time::OffsetDateTime::now_utc())?;
    Ok(Some((config, Some(ca))))
}

/// Writes where this server listens and its backup key, readable by its owner only.
fn write_running(path: &std::path::Path, url: &str, key: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let body = serde_json::to_vec(&crate::backup::Running {
        url: url.to_owned(),
        key: key.to_owned(),
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(&body)?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: finishing in-flight writes");
}
