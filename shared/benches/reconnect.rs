//! Reconnect cost: bytes and round trips for a worker holding 3,000 records, with 0 and with
//! 50 changed elsewhere while it was offline, with gridvisit's extension and with plain
//! automerge-repo per-document sync, in the same run.
//!
//! `cargo bench -p shared --bench reconnect` (pass `-- --held N --changed N,N` to vary).

use shared::sim::reconnect_cost;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let held: usize = arg("--held").and_then(|s| s.parse().ok()).unwrap_or(3000);
    let changed: Vec<usize> = arg("--changed")
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![0, 50]);
    println!(
        "reconnect cost, {held} records held (in-memory network, bytes of WebSocket payloads)"
    );
    println!(
        "{:>8} | {:>22} | {:>22} | {:>8}",
        "changed", "gridvisit bytes (rt)", "plain bytes (rt)", "ratio"
    );
    for &n in &changed {
        let ext = reconnect_cost(held, n, true, 7).unwrap_or_else(|e| panic!("gridvisit: {e}"));
        let plain = reconnect_cost(held, n, false, 7).unwrap_or_else(|e| panic!("plain: {e}"));
        println!(
            "{:>8} | {:>14} B ({:>2} rt) | {:>14} B ({:>2} rt) | {:>7.1}x",
            n,
            ext.bytes(),
            ext.round_trips(),
            plain.bytes(),
            plain.round_trips(),
            plain.bytes() as f64 / ext.bytes().max(1) as f64
        );
        println!(
            "         | up {} B / down {} B, {} frames | up {} B / down {} B, {} frames |",
            ext.bytes_up,
            ext.bytes_down,
            ext.frames_up + ext.frames_down,
            plain.bytes_up,
            plain.bytes_down,
            plain.frames_up + plain.frames_down
        );
    }
}
