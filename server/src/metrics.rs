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
            "unauthorized_total",
            "counter",
            "Requests refused for a bad token.",
            g(&self.unauthorized),
        );
        line("documents", "gauge", "Documents stored.", docs);
        out
    }
}
