//! `/sync`: automerge-repo's WebSocket protocol, authenticated at the upgrade, with the limits
//! of one connection: open sockets per user and in all, inbound credit (the socket is not read
//! past what the engine has not handled), the outbound byte budget (in the engine), write and
//! idle timeouts with pings, and the end of its login (logout, expiry, an admin).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::AppState;
use crate::api::{AppError, bearer_token, cookie_token};
use crate::engine::{Cmd, Out, Outbox};
use crate::limits::{Ended, Full, Slot};
use crate::upgrade::Upgrade;
use futures_channel::mpsc::UnboundedReceiver;

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
    let opening = Box::new(Opening {
        state,
        principal,
        login,
    });
    Ok(ws.on_upgrade(config, move |socket| run(socket, opening)))
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

/// What a socket does once a select gives it.
enum Step {
    /// Writes a frame from the engine.
    Send(Vec<u8>),
    /// Pings the peer.
    Ping,
    /// Says goodbye and ends.
    Close,
}

/// Sends a close frame, waiting at most `within` for the socket to take it.
fn close<S: Sink<WsMessage> + Unpin>(
    socket: &mut S,
    within: Duration,
) -> tokio::time::Timeout<futures_util::sink::Send<'_, S, WsMessage>> {
    tokio::time::timeout(within, socket.send(WsMessage::Close(None)))
}

/// tungstenite's read buffer, kept by every socket for its life (a frame larger than it grows
/// it to the frame's size).
const READ_BUFFER: usize = 512;
/// Bytes buffered before a write reaches the socket (each frame is flushed as it is sent).
const WRITE_BUFFER: usize = 16 * 1024;
/// Inbound credit is counted in these units.
const CREDIT_UNIT: usize = 1024;

/// A connection's inbound credit, in [`CREDIT_UNIT`]s.
fn credit_units(settings: &crate::Settings) -> usize {
    (settings.inbound_credit / CREDIT_UNIT).max(1)
}

/// What a socket task starts from, boxed: a task keeps its parameters for its whole life
/// (10,000 idle phones are 10,000 tasks), and the principal is needed only to open.
pub struct Opening {
    /// The server.
    pub state: AppState,
    /// Who signed in.
    pub principal: Principal,
    /// Their login.
    pub login: Login,
}

/// A connection the engine has opened: what its socket task keeps.
struct Opened {
    state: AppState,
    conn: ConnId,
    rx: UnboundedReceiver<Out>,
    queued: Arc<AtomicUsize>,
    /// When the login ends.
    expires: tokio::time::Instant,
    /// What is only looked at when a login ends, boxed out of the task's state.
    held: Box<Held>,
}

/// What a socket task holds of its login.
struct Held {
    ended: tokio::sync::broadcast::Receiver<Ended>,
    user: String,
    token_key: String,
    /// Given back when the socket closes.
    _slot: Option<Slot>,
}

/// Tells the engine of a new connection (`None`: the engine is gone). Not async, so the
/// principal, which only the engine keeps, is not in the socket task's state.
fn open(opening: Opening) -> Option<Opened> {
    let Opening {
        state,
        principal,
        login,
    } = opening;
    let conn = ConnId(state.next_conn.fetch_add(1, Ordering::Relaxed));
    let (outbox, rx) = Outbox::new();
    let queued = outbox.queued.clone();
    state.metrics.connections.fetch_add(1, Ordering::Relaxed);
    state
        .metrics
        .open_connections
        .fetch_add(1, Ordering::Relaxed);
    let user = principal.user.to_string();
    tracing::info!(conn = conn.0, %user, "sync connection opened");
    let cmd = Cmd::Open {
        conn,
        principal,
        outbox,
    };
    state.engine.send(cmd).ok()?;
    let left = u64::try_from(login.expires_at - crate::engine::now().0).unwrap_or(0);
    Some(Opened {
        state,
        conn,
        rx,
        queued,
        expires: tokio::time::Instant::now() + Duration::from_millis(left),
        held: Box::new(Held {
            ended: login.ended,
            user,
            token_key: login.token_key,
            _slot: login.slot,
        }),
    })
}

/// Drives one socket (a WebSocket, or a pair of channels in a test): frames in go to the
/// engine, frames out come from it. Written as a block rather than an `async fn`, whose
/// parameters the task would keep twice.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its parameters twice in its state"
)]
pub fn run<S, E>(mut socket: S, opening: Box<Opening>) -> impl Future<Output = ()>
where
    S: Sink<WsMessage> + Stream<Item = Result<WsMessage, E>> + Unpin,
    E: std::fmt::Display,
{
    async move {
        let Some(Opened {
            state,
            conn,
            mut rx,
            queued,
            expires,
            mut held,
        }) = open(*opening)
        else {
            return;
        };
        let settings = &state.settings;
        let credit = Arc::new(Semaphore::new(credit_units(settings)));
        // One timer for the next ping and the login's end, whichever comes first.
        let timer = tokio::time::sleep_until(
            (tokio::time::Instant::now() + settings.ping_every).min(expires),
        );
        tokio::pin!(timer);
        let mut last_heard = tokio::time::Instant::now();
        // Shutting down since before it subscribed to hear of it (a flag, so it is not missed).
        if *state.shutdown.borrow() {
            let _ = close(&mut socket, settings.write_timeout).await;
        } else {
            loop {
                // Each branch says what to do; anything that writes is done after the select,
                // so its future does not sit in the task's state beside the branch's.
                let step = tokio::select! {
                    incoming = socket.next() => {
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
                        let need = u32::try_from((bytes.len() / CREDIT_UNIT).clamp(1, credit_units(settings))).unwrap_or(u32::MAX);
                        let Ok(permit) = credit.clone().acquire_many_owned(need).await else { break };
                        let cmd = Cmd::Frame { conn, bytes, credit: Some(permit) };
                        if state.engine.send(cmd).is_err() { break; }
                        continue;
                    }
                    out = rx.next() => match out {
                        Some(Out::Frame(bytes)) => Step::Send(bytes),
                        Some(Out::Close) | None => Step::Close,
                    },
                    () = &mut timer => {
                        let now = tokio::time::Instant::now();
                        if now >= expires {
                            Step::Close
                        } else {
                            timer.as_mut().reset((now + settings.ping_every).min(expires));
                            if last_heard.elapsed() > settings.idle_timeout {
                                state.metrics.timed_out.fetch_add(1, Ordering::Relaxed);
                                tracing::info!(conn = conn.0, "idle too long; closing");
                                break;
                            }
                            Step::Ping
                        }
                    }
                    end = held.ended.recv() => {
                        let ends = match end {
                            Ok(Ended::Token(key)) => key == held.token_key,
                            Ok(Ended::User(u)) => u == held.user,
                            Ok(Ended::Shutdown) => true,
                            // It missed some: the flag tells whether the server is shutting down.
                            Err(RecvError::Lagged(_)) => *state.shutdown.borrow(),
                            Err(RecvError::Closed) => break,
                        };
                        if !ends {
                            continue;
                        }
                        Step::Close
                    }
                };
                let within = settings.write_timeout;
                match step {
                    Step::Send(bytes) => {
                        let n = bytes.len();
                        let sent = tokio::time::timeout(
                            within,
                            socket.send(WsMessage::Binary(bytes.into())),
                        )
                        .await;
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
                    Step::Ping => {
                        let ping = WsMessage::Ping(Default::default());
                        if !matches!(
                            tokio::time::timeout(within, socket.send(ping)).await,
                            Ok(Ok(()))
                        ) {
                            break;
                        }
                    }
                    Step::Close => {
                        let _ = close(&mut socket, within).await;
                        break;
                    }
                }
            }
        }
        let _ = state.engine.send(Cmd::Closed { conn });
        state
            .metrics
            .open_connections
            .fetch_sub(1, Ordering::Relaxed);
        drop(held);
        tracing::info!(conn = conn.0, "sync connection closed");
    }
}

#[cfg(test)]
mod tests;
