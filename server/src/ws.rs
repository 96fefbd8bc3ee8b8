//! `/sync`: automerge-repo's WebSocket protocol, authenticated at the upgrade.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use shared::sync::{ConnId, Principal};
use tokio::sync::mpsc;

use crate::AppState;
use crate::api::{AppError, token_from};
use crate::engine::{Cmd, Out};

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/sync", get(upgrade))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    // Browsers cannot set headers on a WebSocket: the token comes as `?token=` or a cookie.
    let token = q.token.or_else(|| token_from(&headers));
    let account = crate::api::authenticate(&state, token.as_deref()).await?;
    let principal = account.principal;
    // The socket accepts up to twice the protocol limit so the engine can answer an oversize
    // message with an `error` naming the limit; beyond that the socket itself gives up (1009).
    let max = state.settings.max_frame.saturating_mul(2);
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite's default read buffer is 128 KiB per socket, allocated up front: with
        // 10,000 idle phones that alone is 1.3 GB. Frames larger than the buffer are read in
        // several chunks, so a small one costs only syscalls on big (rare) messages.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            run(sink, stream, state, principal)
        })
        .into_response())
}

/// Bytes read from a socket at a time.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes buffered before a write reaches the socket (each frame is flushed as it is sent).
const WRITE_BUFFER: usize = 16 * 1024;

/// Drives one socket, given as its two halves (axum's WebSocket, or channels in a test):
/// frames in go to the engine, frames out come from it.
pub async fn run<W, R, E>(mut sink: W, mut stream: R, state: AppState, principal: Principal)
where
    W: Sink<WsMessage> + Unpin,
    R: Stream<Item = Result<WsMessage, E>> + Unpin,
    E: std::fmt::Display,
{
    let conn = ConnId(state.next_conn.fetch_add(1, Ordering::Relaxed));
    let (tx, mut rx) = mpsc::channel(crate::engine::OUTBOX);
    state.metrics.connections.fetch_add(1, Ordering::Relaxed);
    state
        .metrics
        .open_connections
        .fetch_add(1, Ordering::Relaxed);
    tracing::info!(conn = conn.0, user = %principal.user, "sync connection opened");
    if state
        .engine
        .send(Cmd::Open {
            conn,
            principal,
            outbox: tx,
        })
        .is_err()
    {
        return;
    }
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    if state.engine.send(Cmd::Frame { conn, bytes: bytes.to_vec() }).is_err() { break; }
                }
                Some(Ok(WsMessage::Text(_))) => {
                    // The protocol is binary CBOR; text is a protocol error like garbage.
                    if state.engine.send(Cmd::Frame { conn, bytes: b"text frame".to_vec() }).is_err() { break; }
                }
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                Some(Ok(WsMessage::Close(_))) | None => break,
                Some(Err(err)) => {
                    tracing::debug!(conn = conn.0, %err, "socket error");
                    break;
                }
            },
            out = rx.recv() => match out {
                Some(Out::Frame(bytes)) => {
                    if sink.send(WsMessage::Binary(bytes.into())).await.is_err() { break; }
                }
                Some(Out::Close) | None => {
                    let _ = sink.send(WsMessage::Close(None)).await;
                    break;
                }
            },
            _ = shutdown.changed() => {
                let _ = sink.send(WsMessage::Close(None)).await;
                break;
            }
        }
    }
    let _ = state.engine.send(Cmd::Closed { conn });
    state
        .metrics
        .open_connections
        .fetch_sub(1, Ordering::Relaxed);
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

    #[tokio::test]
    async fn a_socket_given_as_two_channels_speaks_the_protocol() {
        let dir = std::env::temp_dir().join(format!("gv-ws-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = crate::open(&dir, crate::Settings::default()).expect("open");
        let (to_server, incoming) =
            futures_channel::mpsc::unbounded::<Result<WsMessage, Infallible>>();
        let (outgoing, mut from_server) = futures_channel::mpsc::unbounded::<WsMessage>();
        let principal = Principal {
            user: UserId::new("w").expect("user"),
            role: Role::Worker,
            scope: "grids:s01/c01/g01".parse().expect("scope"),
        };
        let task = tokio::spawn(run(outgoing, incoming, state.clone(), principal));
        let join = Message::Join {
            sender_id: PeerId::new("phone").expect("peer"),
            peer_metadata: Some(PeerMetadata::default()),
            supported_protocol_versions: vec!["1".into()],
        };
        to_server
            .unbounded_send(Ok(WsMessage::Binary(join.encode().into())))
            .expect("send");
        let reply = tokio::time::timeout(Duration::from_secs(10), from_server.next())
            .await
            .expect("answered in time")
            .expect("a frame");
        let WsMessage::Binary(bytes) = reply else {
            panic!("a binary frame, got {reply:?}");
        };
        let peer = Message::decode(&bytes, usize::MAX).expect("decodes");
        assert!(matches!(peer, Message::Peer { .. }), "{peer:?}");
        // The stream ending is the socket closing: the task ends.
        drop(to_server);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the task ends")
            .expect("no panic");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
