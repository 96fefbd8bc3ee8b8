//! A gridvisit client over a real WebSocket: `shared`'s hub with an in-memory store, driven by
//! tokio-tungstenite. What a phone does, minus the UI.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::transaction::Transaction;
use automerge::{ActorId, AutomergeError};
use futures_util::{SinkExt, StreamExt};
use shared::ids::{DocumentId, PeerId, StorageId};
use shared::sync::{
    ConnId, Direction, EditError, Effects, Event, Hub, HubConfig, Input, MemStore, TrustServer,
};
use shared::time::Millis;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The client's state, shared between the test and the socket task.
pub struct State {
    /// The engine.
    pub hub: Hub,
    /// What it made durable.
    pub store: MemStore,
    /// Everything it reported.
    pub events: Vec<Event>,
    /// Frames received, raw.
    pub frames_in: Vec<Vec<u8>>,
    /// Bytes sent and received on the current connection.
    pub bytes: (u64, u64),
    /// When each document was first reported changed here (latency measurements).
    pub first_seen: std::collections::HashMap<DocumentId, std::time::Instant>,
    /// Whether raw frames are kept in `frames_in` (a load generator's thousands of clients
    /// turn it off).
    pub keep_frames: bool,
    /// Called with the engine whenever a document changed here (the load generator's
    /// dashboards time each change's arrival with it).
    pub watch: Option<Watch>,
    /// The open connection and where its frames go.
    outbox: Option<(ConnId, mpsc::UnboundedSender<Option<Vec<u8>>>)>,
    user: String,
}

/// A callback on every changed document: the engine and the document's ID.
pub type Watch = Box<dyn FnMut(&Hub, &DocumentId) + Send>;

/// A client.
#[derive(Clone)]
pub struct WsClient {
    /// Shared state.
    pub state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    conn: Arc<Mutex<u64>>,
}

fn now() -> Millis {
    server::engine::now()
}

impl WsClient {
    /// An offline client. `extension` offers gridvisit's extension.
    pub fn new(name: &str, user: &str, extension: bool, seed: u8) -> Self {
        let mut actor = [seed; 16];
        actor[..name.len().min(16)].copy_from_slice(&name.as_bytes()[..name.len().min(16)]);
        let mut config = HubConfig::new(
            PeerId::new(name).expect("name"),
            StorageId::new(format!("{name}-idb")).ok(),
            ActorId::from(&actor[..]),
        );
        config.extension = extension;
        Self {
            state: Arc::new(Mutex::new(State {
                hub: Hub::new(config, Box::new(TrustServer)),
                store: MemStore::new("client"),
                events: Vec::new(),
                frames_in: Vec::new(),
                bytes: (0, 0),
                first_seen: std::collections::HashMap::new(),
                keep_frames: true,
                watch: None,
                outbox: None,
                user: user.to_owned(),
            })),
            notify: Arc::new(Notify::new()),
            conn: Arc::new(Mutex::new(0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Performs effects: durable first, then frames.
    fn apply(&self, st: &mut State, fx: Effects) {
        for p in fx.persist {
            st.store
                .append(p.doc, p.chunk, &p.heads, p.meta.map(|m| m.grid));
        }
        for e in &fx.events {
            if let Event::DocChanged { doc, .. } = e {
                st.first_seen
                    .entry(*doc)
                    .or_insert_with(std::time::Instant::now);
                if let Some(watch) = st.watch.as_mut() {
                    watch(&st.hub, doc);
                }
            }
        }
        st.events.extend(fx.events);
        if let Some((_, out)) = &st.outbox {
            for (_, bytes) in fx.send {
                st.bytes.0 += bytes.len() as u64;
                let _ = out.send(Some(bytes));
            }
            if !fx.close.is_empty() {
                let _ = out.send(None);
            }
        }
        // The hub holds every document of this client: one it asks to load is not saved here
        // either (a document the server pushes for the first time).
        for doc in fx.load {
            let bytes = st.store.load(&doc);
            let more = st.hub.handle(now(), Input::Loaded { doc, bytes });
            self.apply(st, more);
        }
        self.notify.notify_waiters();
    }

    /// Connects to `url` (with its token). Returns when the socket is open.
    pub async fn connect(&self, url: &str) -> anyhow::Result<()> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
        let conn = {
            let mut c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            *c += 1;
            ConnId(*c)
        };
        {
            let mut st = self.lock();
            st.outbox = Some((conn, tx));
            st.bytes = (0, 0);
            let fx = st.hub.handle(
                now(),
                Input::Connected {
                    conn,
                    direction: Direction::Outbound,
                    principal: None,
                },
            );
            self.apply(&mut st, fx);
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    out = rx.recv() => match out {
                        Some(Some(bytes)) => { if sink.send(WsMessage::Binary(bytes.into())).await.is_err() { break; } }
                        Some(None) | None => { let _ = sink.close().await; break; }
                    },
                    incoming = stream.next() => match incoming {
                        Some(Ok(WsMessage::Binary(bytes))) => {
                            let mut st = me.lock();
                            st.bytes.1 += bytes.len() as u64;
                            if st.keep_frames {
                                st.frames_in.push(bytes.to_vec());
                            }
                            let fx = st.hub.handle(now(), Input::Frame { conn, bytes: bytes.to_vec() });
                            me.apply(&mut st, fx);
                        }
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
            let mut st = me.lock();
            let fx = st.hub.handle(now(), Input::Disconnected { conn });
            // A newer connection may already be open: only forget our own.
            if st.outbox.as_ref().is_some_and(|(c, _)| *c == conn) {
                st.outbox = None;
            }
            me.apply(&mut st, fx);
        });
        Ok(())
    }

    /// Drops the connection (the phone walks into the basement): from now on nothing is sent.
    pub fn disconnect(&self) {
        let mut st = self.lock();
        if let Some((conn, out)) = st.outbox.take() {
            let _ = out.send(None);
            let fx = st.hub.handle(now(), Input::Disconnected { conn });
            self.apply(&mut st, fx);
        }
    }

    /// Whether a socket is open.
    pub fn is_connected(&self) -> bool {
        self.lock().outbox.is_some()
    }

    /// Creates a record.
    pub fn create<F>(&self, id: DocumentId, write: F) -> Result<(), EditError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let mut st = self.lock();
        let user = st.user.clone();
        let fx = st.hub.create(now(), &user, id, write)?;
        self.apply(&mut st, fx);
        Ok(())
    }

    /// Edits a record.
    pub fn edit<F>(&self, id: DocumentId, write: F) -> Result<(), EditError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let mut st = self.lock();
        let user = st.user.clone();
        let fx = st.hub.edit(now(), &user, id, write)?;
        self.apply(&mut st, fx);
        Ok(())
    }

    /// Asks the server for a document (or pushes it).
    pub fn sync_now(&self, id: DocumentId) {
        let mut st = self.lock();
        let fx = st.hub.sync_now(id);
        self.apply(&mut st, fx);
    }

    /// Sends raw bytes on the socket (for malformed-input tests).
    pub fn send_raw(&self, bytes: Vec<u8>) {
        if let Some((_, out)) = &self.lock().outbox {
            let _ = out.send(Some(bytes));
        }
    }

    /// Waits until `cond` holds, or fails after `timeout`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&State) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            if cond(&self.lock()) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                anyhow::bail!("timed out after {timeout:?} waiting for {what}");
            }
        }
    }

    /// Waits for the handshake of the current connection.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for("the handshake", timeout, |s| {
            s.events
                .iter()
                .any(|e| matches!(e, Event::PeerReady { .. }))
        })
        .await
    }

    /// The heads of a document held here.
    pub fn heads(&self, id: &DocumentId) -> Option<Vec<automerge::ChangeHash>> {
        self.lock().hub.doc(id).map(automerge::Automerge::get_heads)
    }

    /// Whether a socket is open, for use inside [`WsClient::wait_for`].
    pub fn connected(st: &State) -> bool {
        st.outbox.is_some()
    }

    /// Whether every local change is acknowledged.
    pub fn idle(st: &State) -> bool {
        st.hub.unsynced().is_empty()
    }
}
