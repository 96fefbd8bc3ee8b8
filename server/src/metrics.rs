//! Counters exposed as Prometheus text at `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Server counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// WebSocket connections accepted.
    pub connections: AtomicU64,
    /// WebSocket connections open now.
    pub open_connections: AtomicU64,
    /// Frames received.
    pub frames_in: AtomicU64,
    /// Frames sent.
    pub frames_out: AtomicU64,
    /// Document changes made durable.
    pub changes: AtomicU64,
    /// Storage transactions committed.
    pub commits: AtomicU64,
    /// Changes refused and quarantined.
    pub quarantined: AtomicU64,
    /// Logins that succeeded.
    pub logins: AtomicU64,
    /// Requests refused for a missing, bad or expired token.
    pub unauthorized: AtomicU64,
    /// Connections closed for reading too slowly.
    pub too_slow: AtomicU64,
    /// Connections closed for sending nothing (no pong) too long, or not taking a write.
    pub timed_out: AtomicU64,
    /// Sync connections and live streams refused at a limit.
    pub over_limit: AtomicU64,
    /// Logins refused by the throttle.
    pub throttled: AtomicU64,
    /// Refused changes answered but not stored (their writer's quarantine was full).
    pub quarantine_dropped: AtomicU64,
    /// Residents' reports received.
    pub reports: AtomicU64,
    /// Photos stored.
    pub photos: AtomicU64,
}

impl Metrics {
    /// Prometheus text exposition.
    pub fn render(&self, docs: u64) -> String {
        let mut out = String::new();
        let mut line = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP gridvisit_{name} {help}\n# TYPE gridvisit_{name} {kind}\ngridvisit_{name} {v}"
            );
        };
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        line(
            "connections_total",
            "counter",
            "WebSocket connections accepted.",
            g(&self.connections),
        );
        line(
            "open_connections",
            "gauge",
            "WebSocket connections open.",
            g(&self.open_connections),
        );
        line(
            "frames_in_total",
            "counter",
            "Frames received.",
            g(&self.frames_in),
        );
        line(
            "frames_out_total",
            "counter",
            "Frames sent.",
            g(&self.frames_out),
        );
        line(
            "changes_total",
            "counter",
            "Document changes made durable.",
            g(&self.changes),
        );
        line(
            "commits_total",
            "counter",
            "Storage transactions committed.",
            g(&self.commits),
        );
        line(
            "quarantined_total",
            "counter",
            "Changes refused and quarantined.",
            g(&self.quarantined),
        );
        line(
            "logins_total",
            "counter",
            "Successful logins.",
            g(&self.logins),
        );
        line(
            "reports_total",
            "counter",
            "Residents' reports received.",
            g(&self.reports),
        );
        line("photos_total", "counter", "Photos stored.", g(&self.photos));
        line(
            "unauthorized_total",
            "counter",
            "Requests refused for a bad token.",
            g(&self.unauthorized),
        );
        line(
            "too_slow_total",
            "counter",
            "Connections closed for reading too slowly.",
            g(&self.too_slow),
        );
        line(
            "timed_out_total",
            "counter",
            "Connections closed by the idle or write timeout.",
            g(&self.timed_out),
        );
        line(
            "over_limit_total",
            "counter",
            "Connections and streams refused at a limit.",
            g(&self.over_limit),
        );
        line(
            "throttled_total",
            "counter",
            "Logins refused by the throttle.",
            g(&self.throttled),
        );
        line(
            "quarantine_dropped_total",
            "counter",
            "Refused changes not stored: their writer's quarantine was full.",
            g(&self.quarantine_dropped),
        );
        line("documents", "gauge", "Documents stored.", docs);
        out
    }
}
