//! The sync engine of one peer: [`Hub::handle`]`(now, input) -> Effects` for every connection
//! it has, and [`Hub::create`] / [`Hub::edit`] for local changes.
//!
//! A connection is one of two sides. On a **server side** (a peer connected to us) changes are
//! validated by the [`AccessPolicy`], unknown documents are loaded from storage, and reads are
//! limited to the peer's scope. On a **client side** (we connected to our server) what the
//! server sends is applied as is, and the hub keeps the bookkeeping of gridvisit's extension
//! (acknowledged heads and the change cursor).
//!
//! - `handshake.rs`: `join` and `peer`, negotiating the extension.
//! - `docs.rs`: per-document automerge sync, validation and quarantine, fan-out, loading.
//! - `client.rs`: the client side's cursor and acknowledgement bookkeeping.
//! - `bulk.rs`: the first sync in bulk, both sides.
//! - `listeners.rs`: which connections may hear of a change (the index behind fan-out).
//! - `server.rs`: the server side's feed queries, ephemeral messages and eviction.

mod bulk;
#[cfg(test)]
mod bulk_tests;
mod client;
mod docs;
mod handshake;
#[cfg(test)]
mod holding_tests;
#[cfg(test)]
mod limit_tests;
mod listeners;
mod server;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use automerge::sync;
use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ChangeHash};

use super::effects::{ConnId, Direction, Effects, Event, Input, Persist};
use super::holding::Standing;
use super::policy::{AccessPolicy, Principal};
use crate::ids::{DocumentId, PeerId, StorageId};
use crate::model::{Record, RecordMeta, SchemaError};
use crate::time::{Calendar, Millis};
use crate::wire::{DEFAULT_MAX_FRAME, ExtensionOffer, Message, PeerMetadata};

use client::{ClientConn, ClientState};
use server::ServerConn;

/// How a hub presents itself and what it accepts.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// This peer's ID.
    pub peer_id: PeerId,
    /// This peer's storage, if it persists.
    pub storage_id: Option<StorageId>,
    /// The actor ID of this device's own edits.
    pub actor: ActorId,
    /// Offer (outbound) or accept (inbound) gridvisit's extension.
    pub extension: bool,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// What one peer we serve may make this hub hold.
    pub limits: HubLimits,
    /// Read every document that changes from the server as a record and hand it to the driver
    /// in [`Persist::record`] (the browser keeps a summary of each; a server-side change is
    /// always read, to validate it).
    pub read_records: bool,
    /// Days of visits and closed issues a phone holds ([`crate::sync::holding`]).
    pub window_days: i64,
    /// A client holding nothing its server acknowledged asks for its documents in bulk
    /// (`gv-fetch-docs`) when the server speaks extension version 2; off, each document syncs
    /// on its own (what the first-sync benchmark compares).
    pub bulk_first_sync: bool,
}

impl HubConfig {
    /// A configuration with the extension on and the default frame limit.
    pub fn new(peer_id: PeerId, storage_id: Option<StorageId>, actor: ActorId) -> Self {
        Self {
            peer_id,
            storage_id,
            actor,
            extension: true,
            max_frame: DEFAULT_MAX_FRAME,
            limits: HubLimits::default(),
            read_records: false,
            window_days: crate::sync::holding::DEFAULT_WINDOW_DAYS,
            bulk_first_sync: true,
        }
    }
}

/// What one peer we serve may make this hub hold or do, beyond the frame limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HubLimits {
    /// Operations one message may add to a document (a change's expansion).
    pub max_ops_per_message: usize,
    /// Bytes of changes waiting for missing dependencies, per document.
    pub max_orphan_bytes: usize,
    /// Documents that do not exist a connection may ask about and stay subscribed to.
    pub max_unknown_docs: usize,
    /// Buckets one `gv-fetch-buckets` may name.
    pub max_fetch_buckets: usize,
    /// Bytes the compressed changes of one message may inflate to (checked before automerge
    /// inflates them).
    pub max_inflated_bytes: usize,
}

impl Default for HubLimits {
    fn default() -> Self {
        Self {
            max_ops_per_message: 100_000,
            max_orphan_bytes: 4 * 1024 * 1024,
            max_unknown_docs: 1_000,
            max_fetch_buckets: crate::sync::feed::BUCKETS,
            max_inflated_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why a local edit failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The document is not held here.
    #[error("document {0} is not loaded")]
    NotLoaded(DocumentId),
    /// A document with this ID already exists.
    #[error("document {0} already exists")]
    Exists(DocumentId),
    /// The edit would leave an invalid record; nothing was changed.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Automerge refused the edit.
    #[error("automerge: {0}")]
    Automerge(#[from] AutomergeError),
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    AwaitJoin,
    AwaitPeer,
    Ready,
}

/// One connection: what both sides share, and the state of its side.
#[derive(Debug)]
struct Conn {
    phase: Phase,
    remote: Option<PeerId>,
    extension: bool,
    side: Side,
}

/// Which end of the connection this hub is.
#[derive(Debug)]
enum Side {
    /// A peer connected to us: we serve it.
    Server(ServerConn),
    /// We connected to a server.
    Client(ClientConn),
}

impl Conn {
    fn server(&self) -> Option<&ServerConn> {
        match &self.side {
            Side::Server(s) => Some(s),
            Side::Client(_) => None,
        }
    }

    fn server_mut(&mut self) -> Option<&mut ServerConn> {
        match &mut self.side {
            Side::Server(s) => Some(s),
            Side::Client(_) => None,
        }
    }

    fn client_mut(&mut self) -> Option<&mut ClientConn> {
        match &mut self.side {
            Side::Client(c) => Some(c),
            Side::Server(_) => None,
        }
    }

    fn is_client(&self) -> bool {
        matches!(self.side, Side::Client(_))
    }
}

#[derive(Debug)]
struct Doc {
    doc: Automerge,
    meta: Option<RecordMeta>,
    /// The record as last validated here (a server checks the next change against it).
    record: Option<Record>,
    syncs: HashMap<ConnId, sync::State>,
    /// Bytes of changes received that wait for missing dependencies.
    orphan_bytes: usize,
    /// Where the record stands for holding, once known without reading it again (a client).
    standing: Option<Standing>,
    /// When a peer last synced it ([`Hub::evict_idle`] lets the least recent go first).
    touched: u64,
}

impl Doc {
    fn new(doc: Automerge) -> Box<Self> {
        let meta = RecordMeta::read(&doc).ok();
        Box::new(Self {
            doc,
            meta,
            record: None,
            syncs: HashMap::new(),
            orphan_bytes: 0,
            standing: None,
            touched: 0,
        })
    }

    /// Where the record stands: as noted, or read from the record (`Other` when invalid).
    fn standing(&self) -> Standing {
        self.standing.unwrap_or_else(|| match &self.record {
            Some(r) => Standing::of(r, &Calendar::CHINA),
            None => Record::read(&self.doc)
                .map_or(Standing::Other, |r| Standing::of(&r, &Calendar::CHINA)),
        })
    }
}

#[derive(Debug)]
enum Slot {
    /// Being loaded from storage; messages about it wait here.
    Loading(Vec<(ConnId, Message)>),
    Ready(Box<Doc>),
}

/// The engine of one peer. See the module docs.
pub struct Hub {
    config: HubConfig,
    policy: Box<dyn AccessPolicy>,
    /// Boxed: every open socket has one in every hub, and a table that grows by doubling
    /// keeps up to twice the slots it fills.
    conns: HashMap<ConnId, Box<Conn>>,
    /// Which connections may hear of a change, by area.
    listeners: listeners::Listeners,
    docs: HashMap<DocumentId, Slot>,
    client: ClientState,
    /// Counts sync messages handled: the documents' [`Doc::touched`] clock.
    clock: u64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("peer_id", &self.config.peer_id)
            .field("conns", &self.conns.len())
            .field("docs", &self.docs.len())
            .finish_non_exhaustive()
    }
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

impl Hub {
    /// A hub with no documents and no connections. `policy` judges what the peers it serves
    /// (its inbound connections) may read and write.
    pub fn new(config: HubConfig, policy: Box<dyn AccessPolicy>) -> Self {
        Self {
            config,
            policy,
            conns: HashMap::new(),
            listeners: listeners::Listeners::default(),
            docs: HashMap::new(),
            client: ClientState::default(),
            clock: 0,
        }
    }

    /// This hub's peer ID.
    pub fn peer_id(&self) -> &PeerId {
        &self.config.peer_id
    }

    /// A new empty document with this device's actor.
    fn empty(&self) -> Automerge {
        Automerge::new().with_actor(self.config.actor.clone())
    }

    /// Puts a document loaded from local storage into the hub without syncing anything.
    pub fn insert_saved(&mut self, doc: DocumentId, bytes: &[u8]) -> Result<(), EditError> {
        let mut loaded = Automerge::load(bytes)?;
        loaded.set_actor(self.config.actor.clone());
        self.docs.insert(doc, Slot::Ready(Doc::new(loaded)));
        Ok(())
    }

    /// A document held here.
    pub fn doc(&self, id: &DocumentId) -> Option<&Automerge> {
        match self.docs.get(id) {
            Some(Slot::Ready(d)) if !d.doc.get_heads().is_empty() => Some(&d.doc),
            _ => None,
        }
    }

    /// Every document held here (with content).
    pub fn documents(&self) -> impl Iterator<Item = (&DocumentId, &Automerge)> {
        self.docs.iter().filter_map(|(id, s)| match s {
            Slot::Ready(d) if !d.doc.get_heads().is_empty() => Some((id, &d.doc)),
            _ => None,
        })
    }

    /// Creates a new record document and writes it with `write`.
    pub fn create<F>(
        &mut self,
        now: Millis,
        user: &str,
        id: DocumentId,
        write: F,
    ) -> Result<Effects, EditError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        if self.doc(&id).is_some() {
            return Err(EditError::Exists(id));
        }
        let empty = self.empty();
        self.docs.insert(id, Slot::Ready(Doc::new(empty)));
        let result = self.edit(now, user, id, write);
        if result.is_err() {
            self.docs.remove(&id);
        }
        result
    }

    /// Edits a document held here. The edit is validated as a record and rolled back whole if
    /// it would leave the record invalid.
    pub fn edit<F>(
        &mut self,
        now: Millis,
        user: &str,
        id: DocumentId,
        write: F,
    ) -> Result<Effects, EditError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    {
        let Some(Slot::Ready(d)) = self.docs.get_mut(&id) else {
            return Err(EditError::NotLoaded(id));
        };
        let before = d.doc.get_heads();
        let before_standing = d.standing();
        let record = d
            .doc
            .transact_with(
                |_| {
                    CommitOptions::default()
                        .with_time(now.0.div_euclid(1000))
                        .with_message(user.to_owned())
                },
                |tx| {
                    write(tx).map_err(EditError::from)?;
                    Record::read(tx).map_err(EditError::from)
                },
            )
            .map_err(|failure| failure.error)?
            .result;
        let meta = record.meta();
        d.meta = Some(meta.clone());
        d.standing = Some(Standing::of(&record, &Calendar::CHINA));
        d.record = Some(record.clone());
        let mut fx = Effects::default();
        fx.persist.push(Persist {
            doc: id,
            chunk: d.doc.save_after(&before),
            heads: d.doc.get_heads(),
            meta: Some(meta.clone()),
            record: Some(Box::new(record)),
        });
        fx.events.push(Event::DocChanged {
            doc: id,
            meta: Some(meta),
        });
        self.fan_out(now, id, None, before_standing, &mut fx);
        Ok(fx)
    }

    /// Syncs a document with every server this hub is connected to now: asks for it when it
    /// is not held here (answered by a sync or `doc-unavailable`), pushes it otherwise.
    pub fn sync_now(&mut self, id: DocumentId) -> Effects {
        let mut fx = Effects::default();
        let servers: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_client() && c.phase == Phase::Ready)
            .map(|(id, _)| *id)
            .collect();
        for conn in servers {
            self.sync_doc(id, conn, &mut fx);
        }
        fx
    }

    /// Feeds one input to the engine. `now` is this peer's clock: the server judges event
    /// times against it.
    pub fn handle(&mut self, now: Millis, input: Input) -> Effects {
        let mut fx = Effects::default();
        match input {
            Input::Connected {
                conn,
                direction,
                principal,
            } => self.on_connected(conn, direction, principal, &mut fx),
            Input::Frame { conn, bytes } => self.on_frame(now, conn, &bytes, &mut fx),
            Input::Message { conn, message } => self.on_message(now, conn, message, &mut fx),
            Input::Disconnected { conn } => self.on_disconnected(conn),
            Input::Loaded { doc, bytes } => self.on_loaded(now, doc, bytes, &mut fx),
            Input::Answer { conn, answer } => self.on_answer(conn, answer, &mut fx),
        }
        fx
    }

    /// Decodes one frame (a frame that does not decode fails its connection).
    fn on_frame(&mut self, now: Millis, conn: ConnId, bytes: &[u8], fx: &mut Effects) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        match Message::decode(bytes, self.config.max_frame) {
            Ok(msg) => self.on_message(now, conn, msg, fx),
            Err(e) => self.fail(conn, e.to_string(), fx),
        }
    }

    /// Dispatches one decoded message to the job that handles its kind in this phase, on this
    /// side.
    fn on_message(&mut self, now: Millis, conn: ConnId, msg: Message, fx: &mut Effects) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let client = c.is_client();
        match (&c.phase, msg) {
            (Phase::AwaitJoin, join @ Message::Join { .. }) => self.on_join(now, conn, join, fx),
            (Phase::AwaitPeer, peer @ Message::Peer { .. }) => self.on_peer(conn, peer, fx),
            (
                _,
                Message::Error {
                    message,
                    document_id,
                    ..
                },
            ) => self.on_remote_error(conn, message, document_id, fx),
            (
                Phase::Ready,
                Message::Request {
                    document_id, data, ..
                },
            ) => self.on_sync(now, conn, document_id, data, true, fx),
            (
                Phase::Ready,
                Message::Sync {
                    document_id, data, ..
                },
            ) => self.on_sync(now, conn, document_id, data, false, fx),
            (Phase::Ready, Message::DocUnavailable { document_id, .. }) => {
                fx.events.push(Event::Unavailable {
                    conn,
                    doc: document_id,
                });
                self.settle(conn, document_id, true, fx);
            }
            (Phase::Ready, Message::Leave { .. }) => {
                fx.close.push(conn);
                self.on_disconnected(conn);
            }
            (
                Phase::Ready,
                Message::Ephemeral {
                    document_id,
                    data,
                    count,
                    session_id,
                    sender_id,
                    ..
                },
            ) => self.forward_ephemeral(conn, document_id, data, count, session_id, sender_id, fx),
            // Remote-heads gossip is optional in automerge-repo and not used here.
            (
                Phase::Ready,
                Message::RemoteSubscriptionChange { .. } | Message::RemoteHeadsChanged { .. },
            ) => {}
            (Phase::Ready, m) if m.is_extension() && !c.extension => {
                self.fail(conn, format!("{} was not negotiated", m.kind()), fx);
            }
            (Phase::Ready, Message::GvChanges { docs, cursor }) if client => {
                self.on_changes(now, conn, docs, cursor, fx);
            }
            (Phase::Ready, Message::GvBuckets { digests, cursor }) if client => {
                self.on_buckets(now, conn, digests, cursor, fx);
            }
            (Phase::Ready, Message::GvPoll { cursor }) if !client => {
                self.on_poll(now, conn, cursor, fx);
            }
            (Phase::Ready, Message::GvFetchBuckets { buckets }) if !client => {
                self.on_fetch_buckets(now, conn, buckets, false, fx);
            }
            (Phase::Ready, Message::GvFetchDocs { buckets }) if !client => {
                self.on_fetch_buckets(now, conn, buckets, true, fx);
            }
            (Phase::Ready, Message::GvDocs { docs, total }) if client => {
                self.on_docs(conn, docs, total, fx);
            }
            (Phase::Ready, Message::GvWatch { area }) if !client => self.on_watch(conn, area, fx),
            (Phase::Ready, Message::GvFigures { area, at, figures }) if client => {
                fx.events.push(Event::Figures {
                    area,
                    at: Millis(at),
                    figures,
                });
            }
            (phase, m) => {
                let why = format!("unexpected {} message while {:?}", m.kind(), phase);
                self.fail(conn, why, fx);
            }
        }
    }

    fn send(&self, conn: ConnId, msg: &Message, fx: &mut Effects) {
        debug_assert!(
            !msg.is_extension() || self.conns.get(&conn).is_some_and(|c| c.extension),
            "extension message on a plain connection"
        );
        fx.send.push((conn, msg.encode()));
    }

    /// Answers a protocol error with `error` and closes the connection.
    fn fail(&mut self, conn: ConnId, message: String, fx: &mut Effects) {
        let target_id = self.conns.get(&conn).and_then(|c| c.remote.clone());
        self.send(
            conn,
            &Message::Error {
                sender_id: Some(self.config.peer_id.clone()),
                message,
                target_id,
                document_id: None,
            },
            fx,
        );
        fx.close.push(conn);
        self.on_disconnected(conn);
    }

    fn metadata(&self, ext: Option<ExtensionOffer>) -> PeerMetadata {
        PeerMetadata {
            storage_id: self.config.storage_id.clone(),
            is_ephemeral: self.config.storage_id.is_none(),
            gridvisit: ext,
        }
    }

    fn on_disconnected(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            let narrowed = principal_of(&c).filter(|_| c.extension);
            self.listeners.remove(conn, narrowed.map(|p| &p.scope));
        }
        for slot in self.docs.values_mut() {
            match slot {
                Slot::Ready(d) => {
                    d.syncs.remove(&conn);
                }
                Slot::Loading(waiting) => waiting.retain(|(c, _)| *c != conn),
            }
        }
    }
}

/// The principal of a server-side connection (`None` on a client side or when anonymous).
fn principal_of(conn: &Conn) -> Option<&Principal> {
    conn.server().and_then(|s| s.principal.as_ref())
}

/// A direction's side with fresh state.
fn side_for(direction: Direction, principal: Option<Principal>) -> Side {
    match direction {
        Direction::Outbound => Side::Client(ClientConn::default()),
        Direction::Inbound => Side::Server(ServerConn::new(principal)),
    }
}
