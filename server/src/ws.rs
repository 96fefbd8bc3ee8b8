//! `/sync`: automerge-repo's WebSocket protocol, authenticated at the upgrade, with the limits
//! of one connection: open sockets per user and in all, inbound credit (the socket is not read
//! past what the engine has not handled), the outbound byte budget (in the engine), write and
//! idle timeouts with pings, and the end of its login (logout, expiry, an admin).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use shared::sync::{ConnId, Principal};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::AppState;
use crate::api::{AppError, bearer_token, cookie_token};
use crate::engine::{Cmd, Out, Outbox};
use crate::limits::{Ended, Full, Slot};
use crate::upgrade::Upgrade;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/sync", get(upgrade))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// What a connection knows of its login.
#[derive(Debug)]
pub struct Login {
    /// Its slot among the open sockets (given back when the socket closes).
    pub slot: Option<Slot>,
    /// The key of its token (a logout names it).
    pub token_key: String,
    /// When the token expires (ms since the epoch).
    pub expires_at: i64,
    /// Hears of ended logins; subscribed before the upgrade, so a logout racing the upgrade
    /// is not missed.
    pub ended: tokio::sync::broadcast::Receiver<Ended>,
}

async fn upgrade(
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Result<Response, AppError> {
    // Browsers cannot set headers on a WebSocket: the token comes as `?token=` or a cookie.
    let from_cookie = q.token.is_none() && bearer_token(&headers).is_none();
    let token = q
        .token
        .or_else(|| bearer_token(&headers))
        .or_else(|| cookie_token(&headers));
    if from_cookie && token.is_some() && !same_origin(&headers) {
        // A cookie rides along on any page's request: only this site's pages may use it.
        return Err(AppError::Forbidden(
            "a sync connection signed in by cookie must come from this site (Origin)".into(),
        ));
    }
    let ended = state.sessions.subscribe();
    let checked = crate::api::authenticate_row(&state, token.as_deref()).await?;
    let principal = checked.account.principal;
    let slot = state.conns.take(principal.user.as_str()).map_err(|full| {
        state.metrics.over_limit.fetch_add(1, Ordering::Relaxed);
        match full {
            Full::Key => AppError::TooMany {
                message: format!(
                    "{} already has {} sync connections open",
                    principal.user, state.settings.max_conns_per_user
                ),
                retry_after: Duration::from_secs(10),
            },
            Full::Total => AppError::Unavailable {
                message: "the server is at its connection limit: try again shortly".into(),
                retry_after: Duration::from_secs(5),
            },
        }
    })?;
    let login = Login {
        slot: Some(slot),
        token_key: checked.key,
        expires_at: checked.row.expires_at,
        ended,
    };
    // The socket accepts up to twice the protocol limit so the engine can answer an oversize
    // message with an `error` naming the limit; beyond that the socket itself gives up (1009).
    let max = state.settings.max_frame.saturating_mul(2);
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        // tungstenite's default read buffer is 128 KiB per socket, allocated up front: with
        // 10,000 idle phones that alone is 1.3 GB. The socket is read a chunk at a time
        // through `upgrade::Spill`, so a small buffer costs no extra system calls.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER);
    Ok(ws.on_upgrade(config, move |socket| {
        let (sink, stream) = socket.split();
        run(sink, stream, state, principal, login)
    }))
}

/// Whether the request's `Origin` is this server (its `Host`).
fn same_origin(headers: &HeaderMap) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(o), Some(h)) => o
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == h),
        _ => false,
    }
}

/// tungstenite's read buffer, kept by every socket for its life (a frame larger than it grows
/// it to the frame's size).
const READ_BUFFER: usize = 512;
/// Bytes buffered before a write reaches the socket (each frame is flushed as it is sent).
const WRITE_BUFFER: usize = 16 * 1024;
/// Inbound credit is counted in these units.
const CREDIT_UNIT: usize = 1024;

/// Drives one socket, given as its two halves (axum's WebSocket, or channels in a test):
/// frames in go to the engine, frames out come from it.
pub async fn run<W, R, E>(
    mut sink: W,
    mut stream: R,
    state: AppState,
    principal: Principal,
    mut login: Login,
) where
    W: Sink<WsMessage> + Unpin,
    R: Stream<Item = Result<WsMessage, E>> + Unpin,
    E: std::fmt::Display,
{
    let conn = ConnId(state.next_conn.fetch_add(1, Ordering::Relaxed));
    let (outbox, mut rx) = Outbox::new();
    let queued = outbox.queued.clone();
    state.metrics.connections.fetch_add(1, Ordering::Relaxed);
    state
        .metrics
        .open_connections
        .fetch_add(1, Ordering::Relaxed);
    let user = principal.user.to_string();
    tracing::info!(conn = conn.0, %user, "sync connection opened");
    if state
        .engine
        .send(Cmd::Open {
            conn,
            principal,
            outbox,
        })
        .is_err()
    {
        return;
    }
    let settings = &state.settings;
    let units = (settings.inbound_credit / CREDIT_UNIT).max(1);
    let credit = Arc::new(Semaphore::new(units));
    let mut shutdown = state.shutdown.clone();
    let expires = tokio::time::Instant::now()
        + Duration::from_millis(
            u64::try_from(login.expires_at - crate::engine::now().0).unwrap_or(0),
        );
    let mut ping = tokio::time::interval(settings.ping_every);
    ping.reset();
    let mut last_heard = tokio::time::Instant::now();
    let write = settings.write_timeout;
    loop {
        tokio::select! {
            incoming = stream.next() => {
                last_heard = tokio::time::Instant::now();
                let bytes = match incoming {
                    Some(Ok(WsMessage::Binary(bytes))) => bytes.to_vec(),
                    // The protocol is binary CBOR; text is a protocol error like garbage.
                    Some(Ok(WsMessage::Text(_))) => b"text frame".to_vec(),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => continue,
                    Some(Ok(WsMessage::Close(_))) | None => break,
                    Some(Err(err)) => {
                        tracing::debug!(conn = conn.0, %err, "socket error");
                        break;
                    }
                };
                // Wait for credit: the engine gives it back once it handled earlier frames.
                let need = u32::try_from((bytes.len() / CREDIT_UNIT).clamp(1, units)).unwrap_or(u32::MAX);
                let Ok(permit) = credit.clone().acquire_many_owned(need).await else { break };
                let cmd = Cmd::Frame { conn, bytes, credit: Some(permit) };
                if state.engine.send(cmd).is_err() { break; }
            }
            out = rx.next() => match out {
                Some(Out::Frame(bytes)) => {
                    let n = bytes.len();
                    let sent = tokio::time::timeout(write, sink.send(WsMessage::Binary(bytes.into()))).await;
                    queued.fetch_sub(n, Ordering::Relaxed);
                    match sent {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break,
                        Err(_) => {
                            state.metrics.timed_out.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(conn = conn.0, "write timed out; closing");
                            break;
                        }
                    }
                }
                Some(Out::Close) | None => {
                    let _ = tokio::time::timeout(write, sink.send(WsMessage::Close(None))).await;
                    break;
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > settings.idle_timeout {
                    state.metrics.timed_out.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(conn = conn.0, "idle too long; closing");
                    break;
                }
                let ok = tokio::time::timeout(write, sink.send(WsMessage::Ping(Default::default()))).await;
                if !matches!(ok, Ok(Ok(()))) { break; }
            }
            end = login.ended.recv() => match end {
                Ok(Ended::Token(key)) if key == login.token_key => {
                    let _ = tokio::time::timeout(write, sink.send(WsMessage::Close(None))).await;
                    break;
                }
                Ok(Ended::User(u)) if u == user => {
                    let _ = tokio::time::timeout(write, sink.send(WsMessage::Close(None))).await;
                    break;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
            () = tokio::time::sleep_until(expires) => {
                let _ = tokio::time::timeout(write, sink.send(WsMessage::Close(None))).await;
                break;
            }
            _ = shutdown.changed() => {
                let _ = tokio::time::timeout(write, sink.send(WsMessage::Close(None))).await;
                break;
            }
        }
    }
    let _ = state.engine.send(Cmd::Closed { conn });
    state
        .metrics
        .open_connections
        .fetch_sub(1, Ordering::Relaxed);
    drop(login);
    tracing::info!(conn = conn.0, "sync connection closed");
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use futures_util::StreamExt;
    use shared::ids::{PeerId, UserId};
    use shared::sync::Role;
    use shared::wire::{Message, PeerMetadata};

    use super::*;

    type Incoming = futures_channel::mpsc::UnboundedSender<Result<WsMessage, Infallible>>;
    type Outgoing = futures_channel::mpsc::UnboundedReceiver<WsMessage>;

    struct Socket {
        to_server: Incoming,
        from_server: Outgoing,
        task: tokio::task::JoinHandle<()>,
    }

    fn state(name: &str, settings: crate::Settings) -> (AppState, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("gv-ws-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (crate::open(&dir, settings).expect("open"), dir)
    }

    fn worker() -> Principal {
        Principal {
            user: UserId::new("w").expect("user"),
            role: Role::Worker,
            scope: "grids:s01/c01/g01".parse().expect("scope"),
        }
    }

    fn login(state: &AppState, expires_in_ms: i64) -> Login {
        Login {
            slot: None,
            token_key: "k1".into(),
            expires_at: crate::engine::now().0 + expires_in_ms,
            ended: state.sessions.subscribe(),
        }
    }

    fn open(state: &AppState, login: Login) -> Socket {
        let (to_server, incoming) =
            futures_channel::mpsc::unbounded::<Result<WsMessage, Infallible>>();
        let (outgoing, from_server) = futures_channel::mpsc::unbounded::<WsMessage>();
        let task = tokio::spawn(run(outgoing, incoming, state.clone(), worker(), login));
        Socket {
            to_server,
            from_server,
            task,
        }
    }

    fn join() -> WsMessage {
        let join = Message::Join {
            sender_id: PeerId::new("phone").expect("peer"),
            peer_metadata: Some(PeerMetadata::default()),
            supported_protocol_versions: vec!["1".into()],
        };
        WsMessage::Binary(join.encode().into())
    }

    async fn ends(task: tokio::task::JoinHandle<()>, within: Duration) {
        tokio::time::timeout(within, task)
            .await
            .expect("the socket task ends in time")
            .expect("no panic");
    }

    #[tokio::test]
    async fn a_socket_given_as_two_channels_speaks_the_protocol() {
        let (state, dir) = state("proto", crate::Settings::default());
        let mut s = open(&state, login(&state, 60_000));
        s.to_server.unbounded_send(Ok(join())).expect("send");
        let reply = tokio::time::timeout(Duration::from_secs(10), s.from_server.next())
            .await
            .expect("answered in time")
            .expect("a frame");
        let WsMessage::Binary(bytes) = reply else {
            panic!("a binary frame, got {reply:?}");
        };
        let peer = Message::decode(&bytes, usize::MAX).expect("decodes");
        assert!(matches!(peer, Message::Peer { .. }), "{peer:?}");
        // The stream ending is the socket closing: the task ends.
        drop(s.to_server);
        ends(s.task, Duration::from_secs(10)).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_revoked_token_a_user_whose_sessions_end_and_an_expired_token_close_the_socket() {
        let (state, dir) = state("ended", crate::Settings::default());
        for ended in [Ended::Token("k1".into()), Ended::User("w".into())] {
            let s = open(&state, login(&state, 60_000));
            // Another token's logout leaves this socket open...
            state.sessions.end(Ended::Token("someone-else".into()));
            s.to_server.unbounded_send(Ok(join())).expect("send");
            // ...its own closes it within a second.
            state.sessions.end(ended);
            ends(s.task, Duration::from_secs(1)).await;
        }
        let s = open(&state, login(&state, 300));
        ends(s.task, Duration::from_secs(2)).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_socket_that_sends_nothing_is_pinged_then_closed() {
        let settings = crate::Settings {
            ping_every: Duration::from_millis(50),
            idle_timeout: Duration::from_millis(200),
            ..crate::Settings::default()
        };
        let (state, dir) = state("idle", settings);
        let mut s = open(&state, login(&state, 60_000));
        let first = tokio::time::timeout(Duration::from_secs(5), s.from_server.next())
            .await
            .expect("a ping in time");
        assert!(matches!(first, Some(WsMessage::Ping(_))), "{first:?}");
        ends(s.task, Duration::from_secs(5)).await;
        assert_eq!(state.metrics.timed_out.load(Ordering::Relaxed), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_peer_whose_queue_passes_the_byte_budget_is_disconnected() {
        let settings = crate::Settings {
            outbound_budget: 8,
            ..crate::Settings::default()
        };
        let (state, dir) = state("budget", settings);
        let s = open(&state, login(&state, 60_000));
        // The `peer` answer alone is larger than the budget; nobody reads it.
        s.to_server.unbounded_send(Ok(join())).expect("send");
        ends(s.task, Duration::from_secs(10)).await;
        assert_eq!(state.metrics.too_slow.load(Ordering::Relaxed), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_socket_is_not_read_past_its_credit_until_the_engine_handles_its_frames() {
        let settings = crate::Settings {
            inbound_credit: 2 * CREDIT_UNIT,
            ..crate::Settings::default()
        };
        let (mut state, dir) = state("credit", settings);
        // An engine that takes frames but does not handle them yet.
        let (engine, commands) = std::sync::mpsc::channel();
        state.unshared().engine = engine;
        let s = open(&state, login(&state, 60_000));
        let frame = || Ok(WsMessage::Binary(vec![0u8; CREDIT_UNIT].into()));
        for _ in 0..3 {
            s.to_server.unbounded_send(frame()).expect("send");
        }
        // Received on a blocking thread, so the runtime's workers stay free for the socket. The
        // `Open` command is kept: it holds the connection's outbox, and a dropped outbox closes
        // the socket as an engine that let go of the connection would.
        let commands = std::sync::Arc::new(std::sync::Mutex::new(commands));
        let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let next = |wait: Duration| {
            let (commands, kept) = (commands.clone(), kept.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    let rx = commands.lock().expect("lock");
                    loop {
                        match rx.recv_timeout(wait) {
                            Ok(open @ Cmd::Open { .. }) => kept.lock().expect("lock").push(open),
                            Ok(cmd) => return Some(cmd),
                            Err(_) => return None,
                        }
                    }
                })
                .await
                .expect("receiver")
            }
        };
        let first = next(Duration::from_secs(5)).await.expect("the first frame");
        let _second = next(Duration::from_secs(5))
            .await
            .expect("the second frame");
        assert!(
            next(Duration::from_millis(300)).await.is_none(),
            "the third frame waits for credit"
        );
        // The engine handled the first frame: its credit comes back, the third is read.
        drop(first);
        let third = next(Duration::from_secs(5)).await;
        assert!(matches!(third, Some(Cmd::Frame { .. })), "{third:?}");
        drop(s.to_server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
