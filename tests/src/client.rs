//! A gridvisit client over a real WebSocket: `shared`'s hub with an in-memory store, driven by
//! tokio-tungstenite. What a phone does, minus the UI.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::transaction::Transaction;
use automerge::{ActorId, AutomergeError};
use futures_util::{SinkExt, StreamExt};
use shared::ids::{DocumentId, PeerId, StorageId};
use shared::sync::driver::{Batch, Driver, Durable, block_on};
use shared::sync::{
    ConnId, Direction, EditError, Effects, Event, FeedAnswer, FeedQuery, Hub, HubConfig, Input,
    MemStore, TrustServer,
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
    /// Frames sent and received on the current connection.
    pub frames: (u64, u64),
    /// When each document was first reported changed here (latency measurements).
    pub first_seen: std::collections::HashMap<DocumentId, std::time::Instant>,
    /// When figures were pushed here, with their total of visits today (latency measurements).
    pub figures_seen: Vec<(std::time::Instant, u64)>,
    /// Whether raw frames are kept in `frames_in` (a load generator's thousands of clients
    /// turn it off).
    pub keep_frames: bool,
    /// Called with the engine whenever a document changed here (the load generator's
    /// dashboards time each change's arrival with it).
    pub watch: Option<Watch>,
    /// The open connection and where its frames go.
    outbox: Outbox,
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
        Self::with_config(name, user, seed, |c| c.extension = extension)
    }

    /// An offline client whose hub configuration `change` adjusts.
    pub fn with_config(
        name: &str,
        user: &str,
        seed: u8,
        change: impl FnOnce(&mut HubConfig),
    ) -> Self {
        let mut actor = [seed; 16];
        actor[..name.len().min(16)].copy_from_slice(&name.as_bytes()[..name.len().min(16)]);
        let mut config = HubConfig::new(
            PeerId::new(name).expect("name"),
            StorageId::new(format!("{name}-idb")).ok(),
            ActorId::from(&actor[..]),
        );
        change(&mut config);
        Self {
            state: Arc::new(Mutex::new(State {
                hub: Hub::new(config, Box::new(TrustServer)),
                store: MemStore::new("client"),
                events: Vec::new(),
                frames_in: Vec::new(),
                bytes: (0, 0),
                frames: (0, 0),
                first_seen: std::collections::HashMap::new(),
                figures_seen: Vec::new(),
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

    /// Performs effects the way every driver does ([`shared::sync::driver`]): durable first,
    /// then frames.
    fn apply(&self, st: &mut State, fx: Effects) {
        self.perform(st, |batch, hub, driver| batch.add(hub, driver, now(), fx));
    }

    /// Feeds one input and performs what it causes.
    fn feed(&self, st: &mut State, input: Input) {
        self.perform(st, |batch, hub, driver| {
            batch.feed(hub, driver, now(), input)
        });
    }

    fn perform(
        &self,
        st: &mut State,
        gather: impl FnOnce(&mut Batch, &mut Hub, &mut ClientDriver<'_>),
    ) {
        let State {
            hub,
            store,
            events,
            first_seen,
            figures_seen,
            watch,
            outbox,
            bytes,
            frames,
            ..
        } = st;
        let mut driver = ClientDriver {
            store,
            events,
            first_seen,
            figures_seen,
            watch,
            outbox,
            bytes,
            frames,
            changed: Vec::new(),
        };
        let mut batch = Batch::new();
        gather(&mut batch, hub, &mut driver);
        let Ok(()) = block_on(batch.perform(hub, &mut driver, now()));
        // The watch looks at the engine once the batch is performed.
        if let Some(watch) = driver.watch.as_mut() {
            for doc in &driver.changed {
                watch(hub, doc);
            }
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
            st.frames = (0, 0);
            self.feed(
                &mut st,
                Input::Connected {
                    conn,
                    direction: Direction::Outbound,
                    principal: None,
                },
            );
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
                            st.frames.1 += 1;
                            if st.keep_frames {
                                st.frames_in.push(bytes.to_vec());
                            }
                            me.feed(&mut st, Input::Frame { conn, bytes: bytes.to_vec() });
                        }
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
            let mut st = me.lock();
            // A newer connection may already be open: only forget our own.
            if st.outbox.as_ref().is_some_and(|(c, _)| *c == conn) {
                st.outbox = None;
            }
            me.feed(&mut st, Input::Disconnected { conn });
        });
        Ok(())
    }

    /// Drops the connection (the phone walks into the basement): from now on nothing is sent.
    pub fn disconnect(&self) {
        let mut st = self.lock();
        if let Some((conn, out)) = st.outbox.take() {
            let _ = out.send(None);
            self.feed(&mut st, Input::Disconnected { conn });
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

    /// Asks the server to push the figures of an area (`""`: the whole scope).
    pub fn watch_area(&self, area: &str) {
        let mut st = self.lock();
        let fx = st.hub.watch(area);
        self.apply(&mut st, fx);
    }

    /// The last figures the server pushed here, for use inside [`WsClient::wait_for`].
    pub fn last_figures(st: &State) -> Option<shared::aggregate::Figures> {
        st.events.iter().rev().find_map(|e| match e {
            Event::Figures { figures, .. } => serde_json::from_slice(figures).ok(),
            _ => None,
        })
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

type Outbox = Option<(ConnId, mpsc::UnboundedSender<Option<Vec<u8>>>)>;

/// The client's driver: its [`MemStore`] is the durable store, frames go to the socket task.
struct ClientDriver<'a> {
    store: &'a mut MemStore,
    events: &'a mut Vec<Event>,
    first_seen: &'a mut std::collections::HashMap<DocumentId, std::time::Instant>,
    watch: &'a mut Option<Watch>,
    outbox: &'a mut Outbox,
    bytes: &'a mut (u64, u64),
    frames: &'a mut (u64, u64),
    figures_seen: &'a mut Vec<(std::time::Instant, u64)>,
    /// Documents that changed in this batch, for the watch.
    changed: Vec<DocumentId>,
}

impl Driver for ClientDriver<'_> {
    type Error = std::convert::Infallible;

    /// The hub holds every document of this client: one it asks to load is not saved here
    /// either (a document the server pushes for the first time), unless the store has it.
    fn load(&mut self, doc: &DocumentId) -> Option<Vec<u8>> {
        self.store.load(doc)
    }

    fn answer(&mut self, _: &FeedQuery) -> Option<FeedAnswer> {
        None
    }

    async fn commit(&mut self, batch: Durable<'_>) -> Result<(), Self::Error> {
        for p in batch.persist {
            self.store.append(
                p.doc,
                p.chunk.clone(),
                &p.heads,
                p.meta.as_ref().map(|m| m.grid.clone()),
                p.standing(&shared::time::Calendar::CHINA),
            );
        }
        for e in batch.events {
            if let Event::Figures { figures, .. } = e
                && let Ok(f) = serde_json::from_slice::<shared::aggregate::Figures>(figures)
            {
                self.figures_seen
                    .push((std::time::Instant::now(), f.total.visits_today));
            }
            if let Event::DocChanged { doc, .. } = e {
                self.first_seen
                    .entry(*doc)
                    .or_insert_with(std::time::Instant::now);
                if self.watch.is_some() {
                    self.changed.push(*doc);
                }
            }
        }
        self.events.extend(batch.events.iter().cloned());
        Ok(())
    }

    fn send(&mut self, _: ConnId, frame: Vec<u8>) {
        if let Some((_, out)) = self.outbox.as_ref() {
            self.bytes.0 += frame.len() as u64;
            self.frames.0 += 1;
            let _ = out.send(Some(frame));
        }
    }

    fn close(&mut self, _: ConnId) {
        if let Some((_, out)) = self.outbox.as_ref() {
            let _ = out.send(None);
        }
    }
}
