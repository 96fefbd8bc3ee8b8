//! The engine thread: owns the sync [`Hub`], performs its effects against storage, and keeps
//! the dashboard. Inputs from every connection are drained in batches and committed in one
//! transaction (group commit), then frames go out: durable before visible.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use shared::aggregate::Dashboard;
use shared::model::Record;
use shared::sync::{ConnId, Direction, Effects, Event, Hub, Input, Principal};
use shared::time::Millis;
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::{ChunkWrite, Storage};

/// What a connection task receives from the engine.
#[derive(Debug)]
pub enum Out {
    /// Send this binary frame.
    Frame(Vec<u8>),
    /// Close the socket.
    Close,
}

/// What the engine is told.
pub enum Cmd {
    /// A WebSocket was accepted for an authenticated user.
    Open {
        /// Its ID.
        conn: ConnId,
        /// The user.
        principal: Principal,
        /// Where its frames go.
        outbox: Sender<Out>,
    },
    /// A binary frame arrived.
    Frame {
        /// From which connection.
        conn: ConnId,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The socket closed.
    Closed {
        /// Which.
        conn: ConnId,
    },
    /// Finish what is queued and stop.
    Shutdown,
}

/// Documents kept in memory before idle ones are dropped.
const CACHE_DOCS: usize = 1_000;
/// Inputs handled per commit at most.
const BATCH: usize = 2_048;
/// Frames queued for one connection before it counts as too slow and is dropped.
pub const OUTBOX: usize = 4_096;

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
    /// The sync hub.
    pub hub: Hub,
    /// Durable storage.
    pub store: Arc<dyn Storage>,
    /// The dashboard fold, shared with HTTP readers.
    pub dashboard: Arc<Mutex<Dashboard>>,
    /// Bumped after every commit that changed records.
    pub changed: watch::Sender<u64>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    outboxes: HashMap<ConnId, Sender<Out>>,
    /// Feed queries of the current batch, answered once it is committed.
    deferred: Vec<(ConnId, shared::sync::FeedQuery)>,
}

impl Engine {
    /// An engine around a hub and a store.
    pub fn new(
        hub: Hub,
        store: Arc<dyn Storage>,
        dashboard: Arc<Mutex<Dashboard>>,
        changed: watch::Sender<u64>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            hub,
            store,
            dashboard,
            changed,
            metrics,
            outboxes: HashMap::new(),
            deferred: Vec::new(),
        }
    }

    /// Runs until [`Cmd::Shutdown`] or until every sender is gone.
    pub fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let mut stop = false;
        while !stop {
            let Ok(first) = rx.recv() else { break };
            let mut cmds = vec![first];
            while cmds.len() < BATCH {
                match rx.try_recv() {
                    Ok(c) => cmds.push(c),
                    Err(_) => break,
                }
            }
            let t = now();
            let mut fx = Effects::default();
            for cmd in cmds {
                match cmd {
                    Cmd::Open {
                        conn,
                        principal,
                        outbox,
                    } => {
                        self.outboxes.insert(conn, outbox);
                        let input = Input::Connected {
                            conn,
                            direction: Direction::Inbound,
                            principal: Some(principal),
                        };
                        self.step(t, input, &mut fx);
                    }
                    Cmd::Frame { conn, bytes } => {
                        self.metrics.frames_in.fetch_add(1, Ordering::Relaxed);
                        self.step(t, Input::Frame { conn, bytes }, &mut fx);
                    }
                    Cmd::Closed { conn } => {
                        self.step(t, Input::Disconnected { conn }, &mut fx);
                        self.outboxes.remove(&conn);
                    }
                    Cmd::Shutdown => stop = true,
                }
            }
            self.perform(t, fx);
            self.answer_deferred(t);
            if self.hub.documents().count() > CACHE_DOCS {
                self.hub.evict_idle();
            }
        }
        tracing::info!("engine stopped after its last commit");
    }

    /// Feeds one input, resolving loads and feed queries against storage on the spot.
    fn step(&mut self, t: Millis, input: Input, all: &mut Effects) {
        let mut queue = vec![self.hub.handle(t, input)];
        while let Some(mut fx) = queue.pop() {
            for doc in std::mem::take(&mut fx.load) {
                let bytes = match self.store.load(&doc) {
                    Ok(b) => b,
                    Err(err) => {
                        tracing::error!(%doc, %err, "cannot load document");
                        None
                    }
                };
                queue.push(self.hub.handle(t, Input::Loaded { doc, bytes }));
            }
            // Feed queries wait for the batch's commit: a change received earlier in this
            // batch, before the asking connection was ready for live pushes, is in the answer.
            self.deferred.append(&mut fx.queries);
            all.extend(fx);
        }
    }

    /// Answers the feed queries of the batch just committed, from the committed store.
    fn answer_deferred(&mut self, t: Millis) {
        while !self.deferred.is_empty() {
            let mut fx = Effects::default();
            for (conn, query) in std::mem::take(&mut self.deferred) {
                match self.store.answer(&query) {
                    Ok(answer) => self.step(t, Input::Answer { conn, answer }, &mut fx),
                    Err(err) => tracing::error!(%err, "cannot answer feed query"),
                }
            }
            self.perform(t, fx);
        }
    }

    /// Commits, then updates the dashboard, then sends: in that order.
    fn perform(&mut self, t: Millis, fx: Effects) {
        let mut writes = Vec::with_capacity(fx.persist.len());
        let mut changed = Vec::new();
        {
            let dashboard = self.dashboard.lock().unwrap_or_else(|p| p.into_inner());
            for p in &fx.persist {
                let contribution = match &p.record {
                    Some(r) => Some(dashboard.contribution(r)),
                    None => self
                        .hub
                        .doc(&p.doc)
                        .and_then(|d| Record::read(d).ok())
                        .map(|r| dashboard.contribution(&r)),
                };
                changed.push((p.doc, contribution.clone()));
                writes.push(ChunkWrite {
                    doc: p.doc,
                    chunk: p.chunk.clone(),
                    heads: shared::sync::heads_digest(&p.heads),
                    meta: p.meta.clone(),
                    contribution,
                });
            }
        }
        let mut previous = Vec::new();
        if !writes.is_empty() || !fx.quarantine.is_empty() {
            match self.store.commit(&writes, &fx.quarantine, t.0) {
                Ok(p) => previous = p,
                Err(err) => {
                    // Nothing of this batch may be acknowledged: stop rather than lie. Clients
                    // keep their changes and resync when the server is back.
                    tracing::error!(%err, "commit failed; stopping");
                    std::process::exit(70);
                }
            }
            self.metrics.commits.fetch_add(1, Ordering::Relaxed);
            self.metrics
                .changes
                .fetch_add(writes.len() as u64, Ordering::Relaxed);
            self.metrics
                .quarantined
                .fetch_add(fx.quarantine.len() as u64, Ordering::Relaxed);
        }
        if !changed.is_empty() {
            let mut dashboard = self.dashboard.lock().unwrap_or_else(|p| p.into_inner());
            for ((_, new), old) in changed.iter().zip(&previous) {
                dashboard.replace(old.as_ref(), new.as_ref());
            }
            dashboard.prune(t);
        }
        for event in &fx.events {
            match event {
                Event::Refused { doc, reason, .. } => {
                    tracing::warn!(%doc, %reason, "change refused")
                }
                Event::PeerReady {
                    peer, extension, ..
                } => tracing::debug!(%peer, extension, "peer ready"),
                _ => {}
            }
        }
        let mut too_slow = Vec::new();
        for (conn, bytes) in fx.send {
            if let Some(out) = self.outboxes.get(&conn) {
                self.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
                if let Err(TrySendError::Full(_)) = out.try_send(Out::Frame(bytes)) {
                    too_slow.push(conn);
                }
            }
        }
        for conn in fx.close {
            if let Some(out) = self.outboxes.remove(&conn) {
                let _ = out.try_send(Out::Close);
            }
        }
        // A peer that does not read its frames is disconnected rather than buffered without
        // bound: dropping its outbox ends its socket task, and it resyncs when it reconnects.
        for conn in too_slow {
            if self.outboxes.remove(&conn).is_some() {
                tracing::warn!(conn = conn.0, "peer too slow to read; disconnecting");
                let _ = self.hub.handle(t, Input::Disconnected { conn });
            }
        }
        if !writes.is_empty() {
            self.changed.send_modify(|v| *v += 1);
        }
    }
}
