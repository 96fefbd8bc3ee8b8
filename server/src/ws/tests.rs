//! The socket task, driven over channels: the protocol, login ends, shutdown, pings,
//! the outbound budget and inbound credit.
use std::convert::Infallible;
use std::time::Duration;

use futures_util::StreamExt;
use shared::ids::{PeerId, UserId};
use shared::sync::Role;
use shared::wire::{Message, PeerMetadata};

use super::*;

type Incoming = futures_channel::mpsc::UnboundedSender<Result<WsMessage, Infallible>>;
type Outgoing = futures_channel::mpsc::UnboundedReceiver<WsMessage>;

/// A socket's two ends as channels.
struct Pair {
    outgoing: futures_channel::mpsc::UnboundedSender<WsMessage>,
    incoming: futures_channel::mpsc::UnboundedReceiver<Result<WsMessage, Infallible>>,
}

impl Stream for Pair {
    type Item = Result<WsMessage, Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.incoming.poll_next_unpin(cx)
    }
}

impl Sink<WsMessage> for Pair {
    type Error = futures_channel::mpsc::SendError;

    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.outgoing.poll_ready_unpin(cx)
    }

    fn start_send(mut self: std::pin::Pin<&mut Self>, item: WsMessage) -> Result<(), Self::Error> {
        self.outgoing.start_send_unpin(item)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.outgoing.poll_flush_unpin(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.outgoing.poll_close_unpin(cx)
    }
}

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
    let (to_server, incoming) = futures_channel::mpsc::unbounded::<Result<WsMessage, Infallible>>();
    let (outgoing, from_server) = futures_channel::mpsc::unbounded::<WsMessage>();
    let opening = Box::new(Opening {
        state: state.clone(),
        principal: worker(),
        login,
    });
    let task = tokio::spawn(run(Pair { outgoing, incoming }, opening));
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
async fn a_shutdown_closes_open_sockets_and_one_that_subscribed_after_it() {
    let (state, dir) = state("shutdown", crate::Settings::default());
    let mut open_before = open(&state, login(&state, 60_000));
    open_before
        .to_server
        .unbounded_send(Ok(join()))
        .expect("send");
    let late = login(&state, 60_000);
    state.announce_shutdown();
    // Subscribed after the announcement: only the flag tells it.
    let mut too_late = open(
        &state,
        Login {
            ended: state.sessions.subscribe(),
            ..late
        },
    );
    for s in [&mut open_before, &mut too_late] {
        let close = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(m) = s.from_server.next().await {
                if matches!(m, WsMessage::Close(_)) {
                    return true;
                }
            }
            false
        });
        assert!(
            close.await.expect("a close frame in time"),
            "the socket says goodbye"
        );
    }
    ends(open_before.task, Duration::from_secs(1)).await;
    ends(too_late.task, Duration::from_secs(1)).await;
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
