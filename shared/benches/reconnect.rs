//! Reconnect cost: bytes and round trips for a worker holding 3,000 records, with 0 and with
//! 50 changed elsewhere while it was offline, with gridvisit's extension and with plain
//! automerge-repo per-document sync, in the same run. Then a new phone's first sync of the
//! same number of records, in bulk and one document at a time, against the documents' saved
//! size.
//!
//! `cargo bench -p shared --bench reconnect` (pass `-- --held N --changed N,N` to vary).

use shared::sim::{first_sync_cost, reconnect_cost};

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
    println!();
    println!("first sync of a new phone, {held} records (saved size: what the server stores)");
    let bulk = first_sync_cost(held, true, 7).unwrap_or_else(|e| panic!("bulk: {e}"));
    let each = first_sync_cost(held, false, 7).unwrap_or_else(|e| panic!("per document: {e}"));
    println!("saved size {} B of {} documents", bulk.saved, bulk.docs);
    for (name, f) in [("bulk", bulk), ("per document", each)] {
        let s = f.stats;
        println!(
            "{name:>12}: {} B ({:.2}x saved; up {} B, down {} B), {} frames (up {}, down {}), {} rt",
            s.bytes(),
            s.bytes() as f64 / f.saved.max(1) as f64,
            s.bytes_up,
            s.bytes_down,
            s.frames_up + s.frames_down,
            s.frames_up,
            s.frames_down,
            s.round_trips()
        );
    }
    let frames = |f: &shared::sim::FirstSync| f.stats.frames_up + f.stats.frames_down;
    println!(
        "bulk: {:.1}x fewer frames, {:.1}x fewer bytes than per document",
        frames(&each) as f64 / frames(&bulk).max(1) as f64,
        each.stats.bytes() as f64 / bulk.stats.bytes().max(1) as f64
    );
}
