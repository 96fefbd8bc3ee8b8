//! gridvisit's sync server: an axum + tokio driver around `shared`'s sans-I/O engine.
//!
//! # Layout
//!
//! - [`store`]: the `Storage` trait and its embedded redb implementation.
//! - [`engine`]: the thread that owns the sync hub, commits in batches and fans out.
//! - [`ws`]: the `/sync` WebSocket endpoint (automerge-repo protocol).
//! - [`api`]: the JSON HTTP API, SSE live figures, CSV export, health and metrics.
//! - [`auth`]: argon2 passwords and expiring, revocable tokens.
//! - [`demo`]: the demo city seeded on first start.
//! - [`cli`]: the binary's flags, banner and signal handling.
//! - [`tls`]: HTTPS from PEM files or a local certificate authority for a LAN.
//!
//! [`app`] builds the router from an [`AppState`]; [`serve`] runs it on a listener until a
//! shutdown future completes, then lets the engine finish its last commit.

pub mod api;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod demo;
pub mod engine;
pub mod generate;
pub mod import;
pub mod limits;
pub mod metrics;
pub mod resident;
pub mod settings;
pub mod store;
pub mod tls;
pub mod upgrade;
pub mod watchers;
pub mod ws;

use std::future::Future;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, mpsc};

use axum::Router;
use shared::aggregate::Dashboard;
use shared::ids::{PeerId, StorageId};
use shared::sync::{Hub, HubConfig, ScopePolicy};
use shared::time::Calendar;
use tokio::sync::watch;

use crate::engine::{Cmd, Engine};
use crate::metrics::Metrics;
pub use crate::settings::Settings;

use crate::store::Storage;
use crate::store::redb_store::RedbStore;
/// The allocator the server's binaries use (`#[global_allocator]`): memory freed on another
/// thread than it was allocated on (a frame a hub gathered, sent by the engine thread, freed
/// by a socket task) is cheap in mimalloc and took a fifth of the engine's time in glibc's
/// malloc (issue 16's profile).
pub use mimalloc::MiMalloc as Allocator;

/// The engine thread, which returns why it stopped early.
type EngineThread = std::thread::JoinHandle<Result<(), engine::EngineError>>;

/// Everything handlers share, behind one `Arc`: a request or a socket task holds one pointer,
/// not a copy of every handle (each open socket's task keeps its `AppState`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Tells everything that the server is shutting down: the flag first, then every socket, so a
/// socket that subscribes too late to hear it finds the flag set.
fn announce_shutdown(flag: &watch::Sender<bool>, sessions: &limits::Sessions) {
    let _ = flag.send(true);
    sessions.end(limits::Ended::Shutdown);
}

#[cfg(test)]
impl AppState {
    /// Shuts down as `serve` does when its signal comes.
    pub(crate) fn announce_shutdown(&self) {
        announce_shutdown(&self.shutdown_tx, &self.sessions);
    }

    /// The state to change, before anything else holds it.
    pub(crate) fn unshared(&mut self) -> &mut Shared {
        Arc::get_mut(&mut self.0).expect("the state is not shared yet")
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// Storage.
    pub store: Arc<dyn Storage>,
    /// Commands to the engine thread.
    pub engine: mpsc::Sender<Cmd>,
    /// The dashboard fold.
    pub dashboard: Arc<Mutex<Dashboard>>,
    /// Bumped after each commit.
    pub changed: watch::Receiver<u64>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Connection IDs.
    pub next_conn: Arc<AtomicU64>,
    /// Settings.
    pub settings: Settings,
    /// Tells WebSocket tasks to close on shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Open sync connections, per user and in all.
    pub conns: Arc<limits::Slots>,
    /// Open live-figure streams, per user and in all.
    pub live: Arc<limits::Slots>,
    /// Failed logins per username and address.
    pub throttle: Arc<limits::LoginThrottle>,
    /// Ended logins, heard by their open sockets.
    pub sessions: limits::Sessions,
    /// An argon2 hash of nothing anyone knows: an unknown username is checked against it, so
    /// it takes as long to refuse as a wrong password.
    pub dummy_hash: Arc<String>,
    /// Runs argon2 on two dedicated threads (each hash takes ~19 MiB): a login storm queues
    /// instead of growing memory on every blocking thread.
    pub hasher: auth::Hasher,
    /// The database's epoch.
    pub epoch: Arc<str>,
    /// The key that takes a backup through this server (`POST /api/backup`), written into
    /// the data folder's [`backup::RUNNING`] file for `gridvisit backup`.
    pub backup_key: Arc<str>,
    /// Household imports running or finished.
    pub imports: api::import::Imports,
    /// Residents' reports: their limits and recent ones per grid.
    pub desk: Arc<resident::Desk>,
    engine_thread: Mutex<Option<EngineThread>>,
    shutdown_tx: Arc<watch::Sender<bool>>,
}

/// Opens the embedded store in `data` and starts the engine.
pub fn open(data: &Path, settings: Settings) -> anyhow::Result<AppState> {
    let store = RedbStore::open(data)?;
    let epoch = store.epoch().to_owned();
    start(Arc::new(store), &epoch, settings)
}

/// Starts the engine over any storage.
pub fn start(store: Arc<dyn Storage>, epoch: &str, settings: Settings) -> anyhow::Result<AppState> {
    let mut actor = [0u8; 16];
    getrandom::fill(&mut actor).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = HubConfig::new(
        PeerId::new(format!("gridvisit-server-{}", &epoch[..8.min(epoch.len())]))?,
        Some(StorageId::new(format!("gridvisit-{epoch}"))?),
        automerge::ActorId::from(&actor[..]),
    );
    config.max_frame = settings.max_frame;
    config.window_days = settings.window_days;
    let hubs = (0..settings.engine_threads.max(1))
        .map(|_| Hub::new(config.clone(), Box::new(ScopePolicy)))
        .collect();
    let dashboard = Arc::new(Mutex::new(fold_stored(store.as_ref())?));
    let (changed_tx, changed) = watch::channel(0);
    let metrics = Arc::new(Metrics::default());
    let (tx, rx) = mpsc::channel();
    let engine = Engine::new(
        hubs,
        store.clone(),
        dashboard.clone(),
        changed_tx,
        metrics.clone(),
        engine::Limits {
            max_frame: settings.max_frame,
            outbound_budget: settings.outbound_budget,
            quarantine_per_user: settings.quarantine_per_user,
        },
    )?;
    let (shutdown_tx, shutdown) = watch::channel(false);
    let shutdown_tx = Arc::new(shutdown_tx);
    let stop = shutdown_tx.clone();
    let sessions = limits::Sessions::default();
    let stop_sessions = sessions.clone();
    let handle = std::thread::Builder::new()
        .name("gridvisit-engine".into())
        .spawn(move || {
            let result = engine.run(rx);
            if let Err(err) = &result {
                // Without its engine the server can only refuse: shut everything down.
                tracing::error!(%err, "engine stopped");
                announce_shutdown(&stop, &stop_sessions);
            }
            result
        })?;
    Ok(AppState(Arc::new(Shared {
        store,
        engine: tx,
        dashboard,
        changed,
        metrics,
        next_conn: Arc::new(AtomicU64::new(1)),
        conns: limits::Slots::new(settings.max_conns_per_user, settings.max_conns),
        live: limits::Slots::new(settings.max_live_per_user, settings.max_live),
        throttle: Arc::new(limits::LoginThrottle::new(
            settings.login_failures_per_user,
            settings.login_failures_per_ip,
            settings.login_window,
        )),
        sessions,
        dummy_hash: Arc::new(auth::hash_password(&auth::new_token()?)?),
        settings,
        shutdown,
        hasher: auth::Hasher::start(2)?,
        epoch: Arc::from(epoch),
        backup_key: Arc::from(auth::new_token()?.as_str()),
        imports: api::import::Imports::default(),
        desk: Arc::new(resident::Desk::default()),
        engine_thread: Mutex::new(Some(handle)),
        shutdown_tx,
    })))
}

/// The Content-Security-Policy of every response: only this origin's scripts (and its
/// WebAssembly), styles and connections; no inline script or style, no plugins, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// The router: WebSocket sync, JSON API, health and metrics, and the field app at `/` when
/// it is built.
pub fn app(state: AppState) -> Router {
    use axum::http::{HeaderValue, header};
    use tower_http::set_header::SetResponseHeaderLayer;
    let router = api::routes().merge(ws::routes());
    let router = match &state.settings.app_dir {
        Some(dir) => router.fallback_service(
            tower::ServiceBuilder::new()
                // Brotli or gzip, as the browser accepts: the app's files as `cargo xtask app`
                // precompressed them (brotli at its best), anything else on the fly.
                .layer(tower_http::compression::CompressionLayer::new())
                // Revalidate every time (ETag / Last-Modified make that cheap); offline, the
                // service worker answers from its versioned cache.
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                ))
                .service(
                    tower_http::services::ServeDir::new(dir)
                        .precompressed_br()
                        .precompressed_gzip(),
                ),
        ),
        None => router.route("/", axum::routing::get(api::index)),
    };
    router
        .with_state(state)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// Serves `state` on `listener` until `signal` completes (or the engine stops on a failed
/// commit); then closes WebSockets, lets the engine commit what it has, and returns (the
/// engine's error, if it failed).
pub async fn serve<L>(
    listener: L,
    state: AppState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
    PeerAddr: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let shutdown_tx = state.shutdown_tx.clone();
    let sessions = state.sessions.clone();
    let engine = state.engine.clone();
    let thread = state.clone();
    let mut engine_stopped = state.shutdown.clone();
    let gc = tokio::spawn(collect_photos(state.clone()));
    let router = app(state);
    // Connect info gives handlers the client's address (the login throttle keys on it).
    let service = router.into_make_service_with_connect_info::<PeerAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = signal => {}
                _ = engine_stopped.wait_for(|s| *s) => {}
            }
            announce_shutdown(&shutdown_tx, &sessions);
        })
        .into_future()
        .await?;
    gc.abort();
    let _ = engine.send(Cmd::Shutdown);
    let handle = thread
        .engine_thread
        .lock()
        .map_err(|_| anyhow::anyhow!("engine lock poisoned"))?
        .take();
    if let Some(handle) = handle {
        tokio::task::spawn_blocking(move || handle.join())
            .await?
            .map_err(|_| anyhow::anyhow!("engine panicked"))??;
    }
    Ok(())
}

/// Every hour (and at start), removes the photos no record refers to once their grace
/// period is over (an upload whose record was never written).
async fn collect_photos(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let store = state.store.clone();
        let before = engine::now().0 - state.settings.photo_grace_ms;
        match tokio::task::spawn_blocking(move || store.collect_photos(before)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(removed = n, "photos no record refers to removed"),
            Ok(Err(err)) => tracing::warn!(%err, "collecting photos failed"),
            Err(err) => tracing::warn!(%err, "collecting photos stopped"),
        }
    }
}

/// The address a connection came from, over plain TCP or TLS.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub std::net::SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::TlsListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tls::TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// The dashboard folded from every stored contribution, streaming over the rows.
fn fold_stored(store: &dyn Storage) -> anyhow::Result<Dashboard> {
    let mut dashboard = Dashboard::new(Calendar::CHINA);
    // Visits before last week count in no figure the dashboard shows: skipping them keeps a
    // year of visits out of memory at start (the figures over time are stored per day).
    let now = engine::now();
    let oldest = Calendar::CHINA.week(now) - 1;
    store.for_each_row(&mut |_, row| {
        if let Some(shared::aggregate::Contribution::Visit { week, .. }) = &row.contribution
            && *week < oldest
        {
            return;
        }
        dashboard.replace(None, row.contribution.as_ref());
    })?;
    dashboard.prune(now);
    Ok(dashboard)
}

/// Rebuilds the dashboard from stored contributions (after seeding behind the engine's back).
pub fn rebuild_dashboard(state: &AppState) -> anyhow::Result<()> {
    let fresh = fold_stored(state.store.as_ref())?;
    *state
        .dashboard
        .lock()
        .map_err(|_| anyhow::anyhow!("dashboard lock poisoned"))? = fresh;
    Ok(())
}
