//! The engine thread: owns the sync [`Hub`] and drives it over storage with `shared`'s effect
//! loop ([`shared::sync::driver`]). Inputs from every connection are drained in batches and
//! committed in one transaction (group commit), then frames go out: durable before visible.
//! The dashboard fold is updated in the same step as the commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender};
use shared::aggregate::Dashboard;
use shared::ids::DocumentId;
use shared::sync::driver::{Batch, Driver, Durable, block_on, perform_all};
use shared::sync::shard::{Route, route, shard_of};
use shared::sync::{
    ConnId, Direction, Event, FeedAnswer, FeedQuery, Hub, Input, Principal, heads_digest,
};
use shared::time::Millis;
use shared::wire::Message;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::{ChunkWrite, Storage, StoreError};

/// What a connection task receives from the engine.
#[derive(Debug)]
pub enum Out {
    /// Send this binary frame.
    Frame(Vec<u8>),
    /// Close the socket.
    Close,
}

/// What the engine is told.
#[derive(Debug)]
pub enum Cmd {
    /// A WebSocket was accepted for an authenticated user.
    Open {
        /// Its ID.
        conn: ConnId,
        /// The user.
        principal: Principal,
        /// Where its frames go.
        outbox: Outbox,
    },
    /// A binary frame arrived.
    Frame {
        /// From which connection.
        conn: ConnId,
        /// The bytes.
        bytes: Vec<u8>,
        /// The connection's inbound credit this frame holds until the engine handled it.
        credit: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    /// An admin discarded a quarantined change of this user.
    Discarded {
        /// Whose it was.
        user: Option<String>,
    },
    /// Writes made by the server itself (an admin's import): each creates or edits one
    /// document as `user`, validated as a record; all of one command are committed together
    /// and reach connected peers like any change.
    Write {
        /// Who the changes are recorded as.
        user: String,
        /// The writes.
        writes: Vec<Write>,
        /// Per write, whether it was made (or why not).
        reply: tokio::sync::oneshot::Sender<Vec<Result<(), String>>>,
    },
    /// The socket closed.
    Closed {
        /// Which.
        conn: ConnId,
    },
    /// Finish what is queued and stop.
    Shutdown,
}

/// An edit the server makes: a closure that writes one document.
pub type EditFn = Box<
    dyn FnOnce(
            &mut automerge::transaction::Transaction<'_>,
        ) -> Result<(), automerge::AutomergeError>
        + Send,
>;

/// One document the server writes ([`Cmd::Write`]).
pub struct Write {
    /// The document.
    pub doc: DocumentId,
    /// A new document (an existing one is loaded and edited).
    pub create: bool,
    /// What to write.
    pub edit: EditFn,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Write")
            .field("doc", &self.doc)
            .field("create", &self.create)
            .finish_non_exhaustive()
    }
}

/// Why the engine stopped before it was told to.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A commit failed: nothing of that batch was acknowledged, and the engine stopped rather
    /// than go on without durability. Clients keep their changes and resync when the server is
    /// back.
    #[error("commit failed, engine stopped: {0}")]
    Commit(#[from] StoreError),
}

/// Where a connection's frames go, and how many bytes wait there.
#[derive(Clone, Debug)]
pub struct Outbox {
    /// The socket task's queue.
    pub tx: UnboundedSender<Out>,
    /// Bytes queued and not yet written to the socket (the socket task takes them off).
    pub queued: Arc<AtomicUsize>,
}

impl Outbox {
    /// A new outbox and the receiving end for the socket task.
    pub fn new() -> (Self, UnboundedReceiver<Out>) {
        // futures' channel allocates per message; tokio's allocates a block of 32 slots up
        // front, a kilobyte on every idle socket.
        let (tx, rx) = futures_channel::mpsc::unbounded();
        (
            Self {
                tx,
                queued: Arc::new(AtomicUsize::new(0)),
            },
            rx,
        )
    }
}

/// What the engine bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest frame accepted (frames are decoded once, to route them to their hub).
    pub max_frame: usize,
    /// Bytes that may wait in one outbox before its connection counts as too slow.
    pub outbound_budget: usize,
    /// Refused changes stored per user; past it they are answered and counted, not stored.
    pub quarantine_per_user: usize,
}

/// Documents kept in memory, about: past it the least recently synced of those every peer
/// holds as we do are dropped (a phone's household stays loaded between its edits).
const CACHE_DOCS: usize = 1_000;
/// How often, at most, held documents are scanned for idle ones: the scan reads every held
/// document's heads, so once a batch it cost a tenth of the engine's time under load (issue 16's
/// profile); between scans the documents a second of load touches stay (bounded by the load).
const EVICT_EVERY_MS: i64 = 1_000;
/// Inputs handled per commit at most.
const BATCH: usize = 2_048;

/// The current time.
pub fn now() -> Millis {
    Millis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    )
}

/// The engine's state; [`Engine::run`] consumes it on its own thread.
pub struct Engine {
    /// One hub per engine thread, each holding the documents of its shard
    /// ([`shared::sync::shard`]); the first also answers for the connections.
    hubs: Vec<Hub>,
    driver: StoreDriver,
}

/// One input for one hub, and whether that hub answers it (an input every hub hears is
/// answered by the first; the others only keep their state of the connection).
type Routed = (Input, bool);

/// The engine's [`Driver`]: storage, the dashboard and the connections' outboxes.
struct StoreDriver {
    store: Arc<dyn Storage>,
    dashboard: Arc<Mutex<Dashboard>>,
    /// Bumped after every commit that changed records.
    changed: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    outboxes: HashMap<ConnId, Outbox>,
    limits: Limits,
    /// Quarantined changes stored per user.
    quarantined: HashMap<Option<String>, usize>,
    /// The time of the batch being performed.
    now: Millis,
    /// Connections whose outbox was full during this batch.
    too_slow: Vec<ConnId>,
    /// Supervisors' browsers watching the figures of an area.
    watchers: crate::watchers::Watchers,
}

impl Engine {
    /// An engine around hubs (one per engine thread, at least one; all configured alike) and
    /// a store.
    pub fn new(
        hubs: Vec<Hub>,
        store: Arc<dyn Storage>,
        dashboard: Arc<Mutex<Dashboard>>,
        changed: watch::Sender<u64>,
        metrics: Arc<Metrics>,
        limits: Limits,
    ) -> Result<Self, StoreError> {
        assert!(!hubs.is_empty(), "an engine needs a hub");
        let quarantined = store.quarantine_counts()?;
        Ok(Self {
            hubs,
            driver: StoreDriver {
                limits,
                quarantined,
                store,
                dashboard,
                changed,
                metrics,
                outboxes: HashMap::new(),
                now: Millis(0),
                too_slow: Vec::new(),
                watchers: crate::watchers::Watchers::default(),
            },
        })
    }

    /// Runs until [`Cmd::Shutdown`] or until every sender is gone; stops early (with the
    /// error) when a commit fails.
    pub fn run(mut self, rx: mpsc::Receiver<Cmd>) -> Result<(), EngineError> {
        let mut stop = false;
        let mut evicted_at = Millis(0);
        while !stop {
            // Wait for input, or until figures are due to be pushed.
            let wait = self.driver.watchers.due_in(now());
            let first = match rx.recv_timeout(wait) {
                Ok(c) => c,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.push_figures(now());
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut cmds = vec![first];
            while cmds.len() < BATCH {
                match rx.try_recv() {
                    Ok(c) => cmds.push(c),
                    Err(_) => break,
                }
            }
            let t = now();
            self.driver.now = t;
            let shards = self.hubs.len();
            let mut batches: Vec<Batch> = (0..shards).map(|_| Batch::new()).collect();
            let mut routed: Vec<Vec<Routed>> = vec![Vec::new(); shards];
            // Credits come back once the batch is handled: until then the sockets that sent
            // them read no further than their credit allows.
            let mut credits = Vec::new();
            // Server writes are answered once their batch is durable.
            let mut replies = Vec::new();
            for cmd in cmds {
                match cmd {
                    Cmd::Open {
                        conn,
                        principal,
                        outbox,
                    } => {
                        self.driver.outboxes.insert(conn, outbox);
                        let input = Input::Connected {
                            conn,
                            direction: Direction::Inbound,
                            principal: Some(principal),
                        };
                        to_all(&mut routed, input);
                    }
                    Cmd::Frame {
                        conn,
                        bytes,
                        credit,
                    } => {
                        credits.extend(credit);
                        self.driver
                            .metrics
                            .frames_in
                            .fetch_add(1, Ordering::Relaxed);
                        self.route_frame(&mut routed, conn, bytes);
                    }
                    Cmd::Discarded { user } => {
                        if let Some(n) = self.driver.quarantined.get_mut(&user) {
                            *n = n.saturating_sub(1);
                        }
                    }
                    Cmd::Write {
                        user,
                        writes,
                        reply,
                    } => {
                        let results = writes
                            .into_iter()
                            .map(|w| self.write(&mut batches, t, &user, w))
                            .collect();
                        replies.push((reply, results));
                    }
                    Cmd::Closed { conn } => {
                        self.driver.outboxes.remove(&conn);
                        self.driver.watchers.forget(conn);
                        to_all(&mut routed, Input::Disconnected { conn });
                    }
                    Cmd::Shutdown => stop = true,
                }
            }
            self.gather(&mut batches, routed, t);
            block_on(perform_all(batches, &mut self.hubs, &mut self.driver, t))?;
            drop(credits);
            for (reply, results) in replies {
                let _ = reply.send(results);
            }
            self.push_figures(t);
            self.drop_slow(t)?;
            if t.0 - evicted_at.0 >= EVICT_EVERY_MS {
                for hub in &mut self.hubs {
                    hub.evict_idle(CACHE_DOCS / shards);
                }
                evicted_at = t;
            }
        }
        tracing::info!("engine stopped after its last commit");
        Ok(())
    }

    /// Routes a frame to the hub of its document, or to every hub (the handshake, the close):
    /// with one hub, as it came; with several, decoded here once. A frame that does not
    /// decode goes to the first hub, which fails the connection.
    fn route_frame(&self, routed: &mut [Vec<Routed>], conn: ConnId, bytes: Vec<u8>) {
        if routed.len() == 1 {
            return routed[0].push((Input::Frame { conn, bytes }, true));
        }
        match Message::decode(&bytes, self.driver.limits.max_frame) {
            Ok(message) => match route(&message, routed.len()) {
                Route::All => to_all(routed, Input::Message { conn, message }),
                Route::One(i) => routed[i].push((Input::Message { conn, message }, true)),
            },
            Err(_) => routed[0].push((Input::Frame { conn, bytes }, true)),
        }
    }

    /// Each hub handles its inputs and gathers what they cause, the hubs in parallel (one on
    /// this thread), each loading its documents from storage itself.
    fn gather(&mut self, batches: &mut [Batch], routed: Vec<Vec<Routed>>, t: Millis) {
        let store = self.driver.store.as_ref();
        let mut work: Vec<_> = (self.hubs.iter_mut().zip(batches.iter_mut()))
            .zip(routed)
            .filter(|(_, inputs)| !inputs.is_empty())
            .collect();
        let Some(((first_hub, first_batch), first)) = work.pop() else {
            return;
        };
        std::thread::scope(|scope| {
            let others: Vec<_> = work
                .into_iter()
                .map(|((hub, batch), inputs)| {
                    scope.spawn(move || gather_one(hub, batch, inputs, store, t))
                })
                .collect();
            gather_one(first_hub, first_batch, first, store, t);
            for other in others {
                if let Err(panic) = other.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }

    /// Makes one server write into its document's hub's batch: loads the document first if
    /// it is not held, then creates or edits it through the hub (validated as a record, fanned
    /// out to peers).
    fn write(
        &mut self,
        batches: &mut [Batch],
        t: Millis,
        user: &str,
        w: Write,
    ) -> Result<(), String> {
        let i = shard_of(&w.doc, self.hubs.len());
        let hub = &mut self.hubs[i];
        let fx = if w.create {
            hub.create(t, user, w.doc, w.edit)
        } else {
            if hub.doc(&w.doc).is_none() {
                let bytes = self
                    .driver
                    .load(&w.doc)
                    .ok_or_else(|| format!("no record {}", w.doc))?;
                hub.insert_saved(w.doc, &bytes).map_err(|e| e.to_string())?;
            }
            hub.edit(t, user, w.doc, w.edit)
        };
        let fx = fx.map_err(|e| e.to_string())?;
        batches[i].add(hub, &mut self.driver, t, fx);
        Ok(())
    }

    /// Pushes the figures due to the browsers watching an area.
    fn push_figures(&mut self, t: Millis) {
        let frames = {
            let dashboard = self
                .driver
                .dashboard
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            self.driver.watchers.push(t, &dashboard)
        };
        for (conn, frame) in frames {
            self.driver.send(conn, frame);
        }
    }

    /// A peer that does not read its frames is disconnected rather than buffered without
    /// bound: its outbox is told to close, and it resyncs when it reconnects.
    fn drop_slow(&mut self, t: Millis) -> Result<(), EngineError> {
        for conn in std::mem::take(&mut self.driver.too_slow) {
            self.driver.watchers.forget(conn);
            if let Some(out) = self.driver.outboxes.remove(&conn) {
                tracing::warn!(conn = conn.0, "peer too slow to read; disconnecting");
                self.driver.metrics.too_slow.fetch_add(1, Ordering::Relaxed);
                let _ = out.tx.unbounded_send(Out::Close);
                let batches: Vec<Batch> = (self.hubs.iter_mut())
                    .map(|hub| {
                        let mut batch = Batch::new();
                        batch.feed(hub, &mut self.driver, t, Input::Disconnected { conn });
                        batch
                    })
                    .collect();
                block_on(perform_all(batches, &mut self.hubs, &mut self.driver, t))?;
            }
        }
        Ok(())
    }
}

/// Every hub hears this input; the first answers it.
fn to_all(routed: &mut [Vec<Routed>], input: Input) {
    for (i, inputs) in routed.iter_mut().enumerate() {
        inputs.push((input.clone(), i == 0));
    }
}

/// One hub handles its inputs of a batch, in order. What a hub that does not answer an input
/// would send, report or ask about it is dropped: the first hub does that once.
fn gather_one(
    hub: &mut Hub,
    batch: &mut Batch,
    inputs: Vec<Routed>,
    store: &dyn Storage,
    t: Millis,
) {
    let mut load = |doc: &DocumentId| load(store, doc);
    for (input, answers) in inputs {
        let mut fx = hub.handle(t, input);
        if !answers {
            fx.send.clear();
            fx.events.clear();
            fx.queries.clear();
        }
        batch.add_loading(hub, &mut load, t, fx);
    }
}

/// A document's saved bytes (`None` when it has none, or storage failed: logged).
fn load(store: &dyn Storage, doc: &DocumentId) -> Option<Vec<u8>> {
    store.load(doc).unwrap_or_else(|err| {
        tracing::error!(%doc, %err, "cannot load document");
        None
    })
}

impl Driver for StoreDriver {
    type Error = StoreError;

    fn load(&mut self, doc: &DocumentId) -> Option<Vec<u8>> {
        load(self.store.as_ref(), doc)
    }

    fn answer(&mut self, query: &FeedQuery) -> Option<FeedAnswer> {
        self.store
            .answer(query)
            .inspect_err(|err| tracing::error!(%err, "cannot answer feed query"))
            .ok()
    }

    /// Commits the batch's chunks (with each document's new dashboard contribution) and its
    /// refusals in one transaction, then moves the dashboard by the difference.
    async fn commit(&mut self, batch: Durable<'_>) -> Result<(), StoreError> {
        for event in batch.events {
            match event {
                Event::Refused { doc, reason, .. } => {
                    tracing::warn!(%doc, %reason, "change refused")
                }
                Event::PeerReady {
                    peer, extension, ..
                } => tracing::debug!(%peer, extension, "peer ready"),
                Event::Watch { conn, area, scope } => {
                    self.watchers.watch(*conn, area.clone(), scope.clone());
                }
                _ => {}
            }
        }
        if batch.persist.is_empty() && batch.quarantine.is_empty() {
            return Ok(());
        }
        let writes: Vec<ChunkWrite> = {
            let dashboard = self.dashboard.lock().unwrap_or_else(|p| p.into_inner());
            batch
                .persist
                .iter()
                .map(|p| {
                    // A server validates every change, so the hub read the record already.
                    ChunkWrite::of(
                        p.doc,
                        p.chunk.clone(),
                        heads_digest(&p.heads),
                        p.meta.clone(),
                        p.record.as_deref(),
                        &dashboard,
                    )
                })
                .collect()
        };
        // Past its writer's cap a refused change is answered (the hub did) and counted, but
        // not stored: a flood of bad changes cannot fill the disk.
        let cap = self.limits.quarantine_per_user;
        let mut kept = Vec::with_capacity(batch.quarantine.len());
        for q in batch.quarantine {
            let n = self.quarantined.entry(q.user.clone()).or_default();
            if *n < cap {
                *n += 1;
                kept.push(q.clone());
            } else {
                self.metrics
                    .quarantine_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let previous = self.store.commit(&writes, &kept, self.now.0)?;
        self.metrics.commits.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .changes
            .fetch_add(writes.len() as u64, Ordering::Relaxed);
        self.metrics
            .quarantined
            .fetch_add(kept.len() as u64, Ordering::Relaxed);
        if !writes.is_empty() {
            let mut dashboard = self.dashboard.lock().unwrap_or_else(|p| p.into_inner());
            for (w, old) in writes.iter().zip(&previous) {
                dashboard.replace(old.as_ref(), w.contribution.as_ref());
            }
            self.watchers.changed(
                writes
                    .iter()
                    .filter_map(|w| w.meta.as_ref().map(|m| &m.grid)),
            );
            dashboard.prune(self.now);
            drop(dashboard);
            self.changed.send_modify(|v| *v += 1);
        }
        Ok(())
    }

    fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        if let Some(out) = self.outboxes.get(&conn) {
            self.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
            let queued = out.queued.fetch_add(frame.len(), Ordering::Relaxed) + frame.len();
            if queued > self.limits.outbound_budget {
                self.too_slow.push(conn);
            } else {
                let _ = out.tx.unbounded_send(Out::Frame(frame));
            }
        }
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(out) = self.outboxes.remove(&conn) {
            let _ = out.tx.unbounded_send(Out::Close);
        }
    }
}
