//! Abuse under load (`loadgen steady --abuse`): sockets that never read and one token that
//! floods frames, beside the phones. What it costs the server shows as memory, the phones'
//! latency and the server's CPU time, against the same run without it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use shared::ids::{DocumentId, PeerId};
use shared::wire::{Message, PeerMetadata};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::Server;

/// The running abuse.
pub struct Abuse {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Frames the flooder sent.
    pub flooded: Arc<AtomicU64>,
    /// Sockets that never read which the server accepted.
    pub silent: Arc<AtomicU64>,
}

fn join(name: &str) -> WsMessage {
    let m = Message::Join {
        sender_id: PeerId::new(name).expect("peer id"),
        peer_metadata: Some(PeerMetadata::default()),
        supported_protocol_versions: vec!["1".into()],
    };
    WsMessage::Binary(m.encode().into())
}

fn request(n: u64) -> WsMessage {
    use automerge::sync::SyncDoc;
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_le_bytes());
    id[8] = 0xab;
    let data = automerge::Automerge::new()
        .generate_sync_message(&mut automerge::sync::State::new())
        .map(|m| m.encode())
        .unwrap_or_default();
    let m = Message::Request {
        target_id: PeerId::new("server").expect("peer id"),
        document_id: DocumentId::from_bytes(id),
        data,
        sender_id: PeerId::new("flooder").expect("peer id"),
    };
    WsMessage::Binary(m.encode().into())
}

/// Opens `silent` sockets (one per token, round robin) that send a join and a few requests and
/// then never read, and one socket on `flood_token` sending `rate` frames a second (requests
/// for documents that do not exist), until `until`.
pub async fn start(
    server: &Server,
    tokens: &[Option<String>],
    flood_token: &str,
    silent: usize,
    rate: u64,
    until: Instant,
) -> Abuse {
    let flooded = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let live: Vec<&String> = tokens.iter().flatten().collect();
    for i in 0..silent {
        let url = server.ws(live.get(i % live.len().max(1)).map(|t| t.as_str()));
        let accepted = Arc::clone(&accepted);
        tasks.push(tokio::spawn(async move {
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
                return;
            };
            accepted.fetch_add(1, Ordering::Relaxed);
            let _ = ws.send(join(&format!("silent-{i}"))).await;
            for n in 0..50 {
                let _ = ws.send(request(1_000_000 * (i as u64 + 1) + n)).await;
            }
            // Never read: hold the socket open until the run ends.
            tokio::time::sleep_until(until.into()).await;
        }));
    }
    let url = server.ws(Some(flood_token));
    let sent = Arc::clone(&flooded);
    tasks.push(tokio::spawn(async move {
        let Ok((ws, _)) = tokio_tungstenite::connect_async(url).await else {
            return;
        };
        let (mut tx, mut rx) = ws.split();
        // The flooder reads what it is sent (a flooder that did not would be cut off sooner).
        let reader = tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
        if tx.send(join("flooder")).await.is_err() {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let per_tick = (rate / 100).max(1);
        let mut n = 0u64;
        while Instant::now() < until {
            tick.tick().await;
            for _ in 0..per_tick {
                n += 1;
                if tx.send(request(n)).await.is_err() {
                    reader.abort();
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        reader.abort();
    }));
    Abuse {
        tasks,
        flooded,
        silent: accepted,
    }
}

impl Abuse {
    /// Ends every abusing socket.
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

/// CPU time (user + system) of a process so far, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat: 12 and 13 after the state field.
    (ticks(11) + ticks(12)) / 100.0
}
