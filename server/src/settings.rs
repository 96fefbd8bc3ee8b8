//! The settings of a running server: what `gridvisit`'s flags set, with the limits that keep
//! one client from taking the server down.

use std::time::Duration;

/// Settings of a running server.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a login token lasts.
    pub token_ttl_ms: i64,
    /// Largest WebSocket frame accepted.
    pub max_frame: usize,
    /// The built field app (`cargo xtask app` writes `target/app`), served at `/`.
    pub app_dir: Option<std::path::PathBuf>,
    /// Bytes of frames one connection may have waiting for the engine: past it, the server
    /// stops reading that socket until the engine catches up (TCP pushes back on the sender).
    pub inbound_credit: usize,
    /// Bytes of frames queued for one connection: past it, the connection counts as too slow
    /// to read and is closed (it resyncs when it comes back).
    pub outbound_budget: usize,
    /// A frame that cannot be written to the socket in this time closes it.
    pub write_timeout: Duration,
    /// How often the server pings an open socket.
    pub ping_every: Duration,
    /// A socket that sends nothing (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
    /// Open sync connections per user (a person with several tabs and phones).
    pub max_conns_per_user: usize,
    /// Open sync connections in all (past it: 503 with `Retry-After`).
    pub max_conns: usize,
    /// Open live-figure streams per user and in all.
    pub max_live_per_user: usize,
    /// Open live-figure streams in all.
    pub max_live: usize,
    /// Refused changes kept per user; past it they are answered and counted, not stored.
    pub quarantine_per_user: usize,
    /// Failed logins per username within [`Settings::login_window`] before 429.
    pub login_failures_per_user: u32,
    /// Failed logins per client address within the window (a carrier NAT hides many phones).
    pub login_failures_per_ip: u32,
    /// The window of the login throttle.
    pub login_window: Duration,
    /// Cookies carry `Secure` (set when serving HTTPS or behind an HTTPS proxy).
    pub secure_cookies: bool,
    /// Whether the published demo password signs in (only on a loopback address).
    pub demo_password_allowed: bool,
    /// Days of visits and closed issues a worker's phone holds (DESIGN decision 10).
    pub window_days: i64,
    /// The address phones reach this server at, used in QR codes and links (`--public-url`;
    /// without it, the address the request that asks for a code came to).
    pub public_url: Option<String>,
    /// The local certificate authority's certificate, served at `/ca.pem` for phones to
    /// trust (`--tls-local-ca`).
    pub ca_cert: Option<std::path::PathBuf>,
    /// How long a one-time code that signs a phone in lasts.
    pub provision_ttl_ms: i64,
    /// Residents' reports from one address to one grid per [`Settings::report_window`].
    pub reports_per_ip_grid: u32,
    /// Residents' reports from one address (a carrier NAT hides many phones) per window.
    pub reports_per_ip: u32,
    /// Residents' reports to one grid, from everyone, per window.
    pub reports_per_grid: u32,
    /// The window of the report limits.
    pub report_window: Duration,
    /// The largest photo accepted (the app scales to about 300 KB; other clients may not).
    pub photo_max_bytes: usize,
    /// Bytes of photos one uploader may hold, and one grid.
    pub photo_quota: (u64, u64),
    /// A photo no record refers to is removed this long after its upload.
    pub photo_grace_ms: i64,
    /// Engine threads: documents are sharded across this many hubs, each gathering its part
    /// of a batch on its own thread before the batch's one commit (`--engine-threads`).
    pub engine_threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_ttl_ms: 7 * 24 * 3_600_000,
            max_frame: shared::wire::DEFAULT_MAX_FRAME,
            app_dir: None,
            inbound_credit: 16 * 1024 * 1024,
            outbound_budget: 64 * 1024 * 1024,
            write_timeout: Duration::from_secs(30),
            ping_every: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            max_conns_per_user: 32,
            max_conns: 20_000,
            max_live_per_user: 8,
            max_live: 2_000,
            quarantine_per_user: 100,
            login_failures_per_user: 5,
            login_failures_per_ip: 100,
            login_window: Duration::from_secs(15 * 60),
            secure_cookies: false,
            demo_password_allowed: true,
            window_days: shared::sync::DEFAULT_WINDOW_DAYS,
            public_url: None,
            ca_cert: None,
            provision_ttl_ms: 10 * 60_000,
            reports_per_ip_grid: 5,
            reports_per_ip: 60,
            reports_per_grid: 200,
            report_window: Duration::from_secs(10 * 60),
            photo_max_bytes: 2 * 1024 * 1024,
            photo_quota: (500 * 1024 * 1024, 5 * 1024 * 1024 * 1024),
            photo_grace_ms: 7 * 24 * 3_600_000,
            engine_threads: default_engine_threads(),
        }
    }
}

/// One engine thread per core, at most two: past two the batch's single commit and the
/// routing on the first thread are most of what is left (BENCHMARKS.md, replay).
pub fn default_engine_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}
