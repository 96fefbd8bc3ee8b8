//! The sync engine: one [`Hub`] per peer (a server process, a browser tab), driving every
//! connection it has. `handle(now, input) -> Effects`; the driver performs the effects.

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::sync::{self, SyncDoc};
use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ChangeHash};

use super::feed::{
    FeedAnswer, FeedQuery, bucket_digests, bucket_of, differing_buckets, heads_digest,
};
use super::policy::{AccessPolicy, Principal, Refusal};
use crate::ids::{DocumentId, PeerId, Scope, StorageId};
use crate::model::{Record, RecordMeta, SchemaError};
use crate::time::Millis;
use crate::wire::{
    Cursor, DEFAULT_MAX_FRAME, EXTENSION_VERSION, ExtensionOffer, Message, PROTOCOL_VERSION,
    PeerMetadata,
};

/// Identifies one connection of a hub (chosen by the driver).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Who opened the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We connected to a server: we send `join`.
    Outbound,
    /// A peer connected to us: we answer `join` with `peer`.
    Inbound,
}

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
        }
    }
}

/// Something that happened to the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A connection opened.
    Connected {
        /// Its ID.
        conn: ConnId,
        /// Who opened it.
        direction: Direction,
        /// The authenticated user on an inbound connection.
        principal: Option<Principal>,
    },
    /// A frame arrived.
    Frame {
        /// On which connection.
        conn: ConnId,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A connection closed.
    Disconnected {
        /// Which.
        conn: ConnId,
    },
    /// The answer to [`Effects::load`]: the saved bytes of a document, or `None` if absent.
    Loaded {
        /// The document.
        doc: DocumentId,
        /// Its saved bytes.
        bytes: Option<Vec<u8>>,
    },
    /// The answer to [`Effects::queries`].
    Answer {
        /// The connection that asked.
        conn: ConnId,
        /// The answer.
        answer: FeedAnswer,
    },
}

/// A change to make durable (before any frame of the same batch is sent).
#[derive(Clone, Debug, PartialEq)]
pub struct Persist {
    /// The document.
    pub doc: DocumentId,
    /// Incremental save bytes (`Automerge::load_incremental` accepts them).
    pub chunk: Vec<u8>,
    /// The document's heads after this chunk.
    pub heads: Vec<ChangeHash>,
    /// The record's kind and grid, if it is a valid record.
    pub meta: Option<RecordMeta>,
    /// The record after this chunk, when the hub read it to validate the change (the driver
    /// then need not read it again).
    pub record: Option<Box<Record>>,
}

/// A change that was refused, kept aside for review.
#[derive(Clone, Debug, PartialEq)]
pub struct Quarantine {
    /// The connection it came on.
    pub conn: ConnId,
    /// The user who sent it.
    pub user: Option<String>,
    /// The document.
    pub doc: DocumentId,
    /// Why it was refused.
    pub reason: String,
    /// The refused changes (incremental save bytes).
    pub chunk: Vec<u8>,
}

/// Things the driver should know about.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The handshake completed.
    PeerReady {
        /// The connection.
        conn: ConnId,
        /// The remote peer.
        peer: PeerId,
        /// Whether gridvisit's extension is on.
        extension: bool,
    },
    /// A document changed (after its [`Persist`]).
    DocChanged {
        /// The document.
        doc: DocumentId,
        /// Its kind and grid if valid.
        meta: Option<RecordMeta>,
    },
    /// The remote does not have (or will not show) a document.
    Unavailable {
        /// The connection.
        conn: ConnId,
        /// The document.
        doc: DocumentId,
    },
    /// The remote now holds a document up to these heads (a client keeps this to know what
    /// is still waiting to sync).
    Acked {
        /// The document.
        doc: DocumentId,
        /// Heads both sides have.
        heads: Vec<ChangeHash>,
    },
    /// A complete sync with the server: the client should keep this cursor.
    CursorSaved {
        /// The cursor.
        cursor: Cursor,
    },
    /// The remote sent an `error` message.
    RemoteError {
        /// The connection.
        conn: ConnId,
        /// Its text.
        message: String,
        /// The document, if the remote named one.
        doc: Option<DocumentId>,
    },
    /// A change was refused and quarantined.
    Refused {
        /// The connection.
        conn: ConnId,
        /// The document.
        doc: DocumentId,
        /// Why.
        reason: String,
    },
}

/// What the driver must do, in this order: persist and quarantine durably, then send frames,
/// close connections, load documents and answer queries (feeding the results back as inputs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effects {
    /// Changes to make durable before anything else.
    pub persist: Vec<Persist>,
    /// Refused changes to keep for review, durably.
    pub quarantine: Vec<Quarantine>,
    /// Frames to send.
    pub send: Vec<(ConnId, Vec<u8>)>,
    /// Connections to close after sending.
    pub close: Vec<ConnId>,
    /// Documents to load and hand back as [`Input::Loaded`].
    pub load: Vec<DocumentId>,
    /// Feed queries to answer with [`Input::Answer`].
    pub queries: Vec<(ConnId, FeedQuery)>,
    /// Notifications.
    pub events: Vec<Event>,
}

impl Effects {
    /// Appends another batch.
    pub fn extend(&mut self, other: Self) {
        self.persist.extend(other.persist);
        self.quarantine.extend(other.quarantine);
        self.send.extend(other.send);
        self.close.extend(other.close);
        self.load.extend(other.load);
        self.queries.extend(other.queries);
        self.events.extend(other.events);
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Why a local edit failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    Automerge(String),
}

impl From<AutomergeError> for EditError {
    fn from(e: AutomergeError) -> Self {
        Self::Automerge(e.to_string())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    AwaitJoin,
    AwaitPeer,
    Ready,
}

#[derive(Debug)]
struct Conn {
    direction: Direction,
    principal: Option<Principal>,
    phase: Phase,
    remote: Option<PeerId>,
    extension: bool,
    /// Inbound: documents the remote asked about (plain automerge-repo subscription).
    subscribed: HashSet<DocumentId>,
    /// Outbound with the extension: documents to bring in sync before saving `cursor`.
    pending: BTreeSet<DocumentId>,
    pending_cursor: Option<Cursor>,
    /// Outbound with the extension: documents changed on this link since the last cursor.
    activity: bool,
    /// Outbound with the extension: a `gv-poll` awaits its answer.
    polling: bool,
    /// Outbound with the extension: the cursor of the bucket digests whose differing buckets
    /// we fetched. The listing that answers the fetch is complete only up to this cursor.
    bucket_cursor: Option<Cursor>,
    /// Outbound with the extension: the buckets of that fetch.
    fetched_buckets: Vec<u64>,
}

#[derive(Debug)]
struct Doc {
    doc: Automerge,
    meta: Option<RecordMeta>,
    /// The record as last validated here (a server checks the next change against it).
    record: Option<Record>,
    syncs: HashMap<ConnId, sync::State>,
}

#[derive(Debug)]
enum Slot {
    Loading(Vec<(ConnId, Message)>),
    Ready(Box<Doc>),
}

/// The engine of one peer. See the module docs.
pub struct Hub {
    config: HubConfig,
    policy: Box<dyn AccessPolicy>,
    conns: HashMap<ConnId, Conn>,
    docs: HashMap<DocumentId, Slot>,
    /// Client: heads the server is known to hold, per document.
    acked: HashMap<DocumentId, Vec<ChangeHash>>,
    /// Client: the cursor of the last complete sync.
    cursor: Option<Cursor>,
    /// Client: documents whose change the server refused, at these heads.
    refused: HashMap<DocumentId, Vec<ChangeHash>>,
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
    /// A hub with no documents and no connections.
    pub fn new(config: HubConfig, policy: Box<dyn AccessPolicy>) -> Self {
        Self {
            config,
            policy,
            conns: HashMap::new(),
            docs: HashMap::new(),
            acked: HashMap::new(),
            cursor: None,
            refused: HashMap::new(),
        }
    }

    /// This hub's peer ID.
    pub fn peer_id(&self) -> &PeerId {
        &self.config.peer_id
    }

    /// Restores a client's sync bookkeeping after a restart (what [`Event::Acked`] and
    /// [`Event::CursorSaved`] reported before).
    pub fn restore_client_state(
        &mut self,
        cursor: Option<Cursor>,
        acked: impl IntoIterator<Item = (DocumentId, Vec<ChangeHash>)>,
    ) {
        self.cursor = cursor;
        self.acked = acked.into_iter().map(|(d, h)| (d, sorted(h))).collect();
    }

    /// The cursor of the last complete sync (client).
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    /// Puts a document loaded from local storage into the hub without syncing anything.
    pub fn insert_saved(&mut self, doc: DocumentId, bytes: &[u8]) -> Result<(), EditError> {
        let mut loaded = Automerge::load(bytes)?;
        loaded.set_actor(self.config.actor.clone());
        let meta = RecordMeta::read(&loaded).ok();
        self.docs.insert(
            doc,
            Slot::Ready(Box::new(Doc {
                doc: loaded,
                meta,
                record: None,
                syncs: HashMap::new(),
            })),
        );
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

    /// Documents whose local changes the server has not acknowledged yet (client).
    pub fn unsynced(&self) -> Vec<DocumentId> {
        self.documents()
            .filter(|(id, d)| {
                let heads = sorted(d.get_heads());
                self.acked.get(*id) != Some(&heads) && self.refused.get(*id) != Some(&heads)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Drops documents that no connection is syncing or that every connection holds in full,
    /// to keep memory flat (server).
    pub fn evict_idle(&mut self) -> usize {
        let before = self.docs.len();
        self.docs.retain(|_, s| match s {
            Slot::Loading(_) => true,
            Slot::Ready(d) => !d.syncs.is_empty() && !Self::settled(d),
        });
        before - self.docs.len()
    }

    /// Whether every connection syncing this document holds exactly our heads with nothing in
    /// flight: dropping the document (and those sync states) then loses nothing. A later change
    /// reloads it from storage and syncs from a fresh state; subscriptions stay on the
    /// connection.
    fn settled(d: &Doc) -> bool {
        let heads = sorted(d.doc.get_heads());
        d.syncs.values().all(|st| {
            !st.in_flight
                && st
                    .their_heads
                    .as_ref()
                    .is_some_and(|t| sorted(t.clone()) == heads)
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
        self.docs.insert(
            id,
            Slot::Ready(Box::new(Doc {
                doc: Automerge::new().with_actor(self.config.actor.clone()),
                meta: None,
                record: None,
                syncs: HashMap::new(),
            })),
        );
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
        d.record = Some(record.clone());
        let mut fx = Effects::default();
        let chunk = d.doc.save_after(&before);
        fx.persist.push(Persist {
            doc: id,
            chunk,
            heads: d.doc.get_heads(),
            meta: Some(meta.clone()),
            record: Some(Box::new(record)),
        });
        fx.events.push(Event::DocChanged {
            doc: id,
            meta: Some(meta),
        });
        self.fan_out(id, None, &mut fx);
        Ok(fx)
    }

    /// Syncs a document with every server this hub is connected to now: asks for it when it
    /// is not held here (answered by a sync or `doc-unavailable`), pushes it otherwise.
    pub fn sync_now(&mut self, id: DocumentId) -> Effects {
        let mut fx = Effects::default();
        let servers: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.direction == Direction::Outbound && c.phase == Phase::Ready)
            .map(|(id, _)| *id)
            .collect();
        for conn in servers {
            self.sync_doc(id, conn, &mut fx);
        }
        fx
    }

    /// Feeds one input to the engine.
    pub fn handle(&mut self, _now: Millis, input: Input) -> Effects {
        let mut fx = Effects::default();
        match input {
            Input::Connected {
                conn,
                direction,
                principal,
            } => self.on_connected(conn, direction, principal, &mut fx),
            Input::Frame { conn, bytes } => self.on_frame(conn, &bytes, &mut fx),
            Input::Disconnected { conn } => self.on_disconnected(conn),
            Input::Loaded { doc, bytes } => self.on_loaded(doc, bytes, &mut fx),
            Input::Answer { conn, answer } => self.on_answer(conn, answer, &mut fx),
        }
        fx
    }

    fn send(&self, conn: ConnId, msg: &Message, fx: &mut Effects) {
        debug_assert!(
            !msg.is_extension() || self.conns.get(&conn).is_some_and(|c| c.extension),
            "extension message on a plain connection"
        );
        fx.send.push((conn, msg.encode()));
    }

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

    fn on_connected(
        &mut self,
        conn: ConnId,
        direction: Direction,
        principal: Option<Principal>,
        fx: &mut Effects,
    ) {
        let phase = match direction {
            Direction::Outbound => Phase::AwaitPeer,
            Direction::Inbound => Phase::AwaitJoin,
        };
        self.conns.insert(
            conn,
            Conn {
                direction,
                principal,
                phase,
                remote: None,
                extension: false,
                subscribed: HashSet::new(),
                pending: BTreeSet::new(),
                pending_cursor: None,
                activity: false,
                polling: false,
                bucket_cursor: None,
                fetched_buckets: Vec::new(),
            },
        );
        if direction == Direction::Outbound {
            let offer = self.config.extension.then(|| ExtensionOffer {
                version: EXTENSION_VERSION,
                cursor: self.cursor.clone(),
            });
            let join = Message::Join {
                sender_id: self.config.peer_id.clone(),
                peer_metadata: Some(self.metadata(offer)),
                supported_protocol_versions: vec![PROTOCOL_VERSION.to_owned()],
            };
            self.send(conn, &join, fx);
        }
    }

    fn on_disconnected(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
        for slot in self.docs.values_mut() {
            match slot {
                Slot::Ready(d) => {
                    d.syncs.remove(&conn);
                }
                Slot::Loading(waiting) => waiting.retain(|(c, _)| *c != conn),
            }
        }
    }

    fn on_frame(&mut self, conn: ConnId, bytes: &[u8], fx: &mut Effects) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let msg = match Message::decode(bytes, self.config.max_frame) {
            Ok(m) => m,
            Err(e) => return self.fail(conn, e.to_string(), fx),
        };
        match (&c.phase, msg) {
            (
                Phase::AwaitJoin,
                Message::Join {
                    sender_id,
                    peer_metadata,
                    supported_protocol_versions,
                },
            ) => {
                if !supported_protocol_versions
                    .iter()
                    .any(|v| v == PROTOCOL_VERSION)
                {
                    return self.fail(conn, "unsupported protocol version".into(), fx);
                }
                let offered = peer_metadata.and_then(|m| m.gridvisit);
                let ext = self.config.extension && offered.as_ref().is_some_and(|o| o.version >= 1);
                let peer = Message::Peer {
                    sender_id: self.config.peer_id.clone(),
                    peer_metadata: Some(self.metadata(ext.then_some(ExtensionOffer {
                        version: EXTENSION_VERSION,
                        cursor: None,
                    }))),
                    selected_protocol_version: PROTOCOL_VERSION.to_owned(),
                    target_id: sender_id.clone(),
                };
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                c.remote = Some(sender_id.clone());
                c.extension = ext;
                c.phase = Phase::Ready;
                let scope = c
                    .principal
                    .as_ref()
                    .map_or(Scope::Grids(Vec::new()), |p| p.scope.clone());
                self.send(conn, &peer, fx);
                fx.events.push(Event::PeerReady {
                    conn,
                    peer: sender_id,
                    extension: ext,
                });
                if ext {
                    let cursor = offered.and_then(|o| o.cursor);
                    fx.queries.push((conn, FeedQuery::Since { scope, cursor }));
                }
            }
            (
                Phase::AwaitPeer,
                Message::Peer {
                    sender_id,
                    peer_metadata,
                    selected_protocol_version,
                    ..
                },
            ) => {
                if selected_protocol_version != PROTOCOL_VERSION {
                    return self.fail(conn, "unsupported protocol version".into(), fx);
                }
                let ext =
                    self.config.extension && peer_metadata.and_then(|m| m.gridvisit).is_some();
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                c.remote = Some(sender_id.clone());
                c.extension = ext;
                c.phase = Phase::Ready;
                fx.events.push(Event::PeerReady {
                    conn,
                    peer: sender_id,
                    extension: ext,
                });
                // Plain automerge-repo: ask about every document held. With the extension:
                // push only what the server has not acknowledged; the server lists the rest.
                let docs: Vec<DocumentId> = if ext {
                    self.unsynced()
                } else {
                    self.documents().map(|(id, _)| *id).collect()
                };
                for id in docs {
                    if ext && let Some(c) = self.conns.get_mut(&conn) {
                        c.pending.insert(id);
                        c.activity = true;
                    }
                    self.sync_doc(id, conn, fx);
                }
            }
            (
                _,
                Message::Error {
                    message,
                    document_id,
                    ..
                },
            ) => {
                fx.events.push(Event::RemoteError {
                    conn,
                    message,
                    doc: document_id,
                });
                if c.phase != Phase::Ready {
                    fx.close.push(conn);
                    self.on_disconnected(conn);
                } else if let Some(doc) = document_id
                    && c.direction == Direction::Outbound
                {
                    // The server refused our change to `doc`: stop pushing it until it changes
                    // again, and do not let it hold the cursor back.
                    if let Some(heads) = self.doc(&doc).map(Automerge::get_heads) {
                        self.refused.insert(doc, sorted(heads));
                    }
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.pending.remove(&doc);
                    }
                    self.maybe_save_cursor(conn, fx);
                }
            }
            (
                Phase::Ready,
                Message::Request {
                    document_id, data, ..
                },
            ) => {
                self.on_sync(conn, document_id, data, true, fx);
            }
            (
                Phase::Ready,
                Message::Sync {
                    document_id, data, ..
                },
            ) => {
                self.on_sync(conn, document_id, data, false, fx);
            }
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
            ) => {
                self.forward_ephemeral(conn, document_id, data, count, session_id, sender_id, fx);
            }
            // Remote-heads gossip is optional in automerge-repo and not used here.
            (
                Phase::Ready,
                Message::RemoteSubscriptionChange { .. } | Message::RemoteHeadsChanged { .. },
            ) => {}
            (Phase::Ready, m) if m.is_extension() && !c.extension => {
                self.fail(conn, format!("{} was not negotiated", m.kind()), fx);
            }
            (Phase::Ready, Message::GvChanges { docs, cursor })
                if c.direction == Direction::Outbound =>
            {
                let mut stale = Vec::new();
                for d in &docs {
                    let same = self
                        .doc(&d.doc)
                        .is_some_and(|a| heads_digest(&a.get_heads()) == d.heads);
                    if !same {
                        stale.push(d.doc);
                    }
                }
                // Answering a bucket fetch: documents we hold in those buckets that the server
                // did not list are documents it lacks (say, restored from a backup): push them.
                let fetched = c.fetched_buckets.clone();
                if !fetched.is_empty() {
                    let listed: HashSet<DocumentId> = docs.iter().map(|d| d.doc).collect();
                    stale.extend(self.documents().map(|(id, _)| *id).filter(|id| {
                        fetched.contains(&(bucket_of(id) as u64)) && !listed.contains(id)
                    }));
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.fetched_buckets.clear();
                    c.pending.extend(stale.iter().copied());
                    c.pending_cursor = Some(c.bucket_cursor.take().unwrap_or(cursor));
                    c.polling = false;
                }
                for id in stale {
                    self.sync_doc(id, conn, fx);
                }
                self.maybe_save_cursor(conn, fx);
            }
            (Phase::Ready, Message::GvBuckets { digests, cursor })
                if c.direction == Direction::Outbound =>
            {
                let ours = bucket_digests(
                    self.documents()
                        .map(|(id, d)| (id, heads_digest(&d.get_heads()))),
                );
                let buckets = differing_buckets(&ours, &digests);
                if buckets.is_empty() {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.pending_cursor = Some(cursor);
                    }
                    self.maybe_save_cursor(conn, fx);
                } else {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.bucket_cursor = Some(cursor);
                        c.fetched_buckets.clone_from(&buckets);
                    }
                    self.send(conn, &Message::GvFetchBuckets { buckets }, fx);
                }
            }
            (Phase::Ready, Message::GvPoll { cursor }) if c.direction == Direction::Inbound => {
                let scope = c
                    .principal
                    .as_ref()
                    .map_or(Scope::Grids(Vec::new()), |p| p.scope.clone());
                fx.queries.push((
                    conn,
                    FeedQuery::Since {
                        scope,
                        cursor: Some(cursor),
                    },
                ));
            }
            (Phase::Ready, Message::GvFetchBuckets { buckets })
                if c.direction == Direction::Inbound =>
            {
                let scope = c
                    .principal
                    .as_ref()
                    .map_or(Scope::Grids(Vec::new()), |p| p.scope.clone());
                fx.queries
                    .push((conn, FeedQuery::Buckets { scope, buckets }));
            }
            (phase, m) => {
                let why = format!("unexpected {} message while {:?}", m.kind(), phase);
                self.fail(conn, why, fx);
            }
        }
    }

    fn on_answer(&mut self, conn: ConnId, answer: FeedAnswer, fx: &mut Effects) {
        if !self.conns.get(&conn).is_some_and(|c| c.extension) {
            return;
        }
        let msg = match answer {
            FeedAnswer::Changes { docs, cursor } => Message::GvChanges { docs, cursor },
            FeedAnswer::Buckets { digests, cursor } => Message::GvBuckets { digests, cursor },
        };
        self.send(conn, &msg, fx);
    }

    fn on_loaded(&mut self, id: DocumentId, bytes: Option<Vec<u8>>, fx: &mut Effects) {
        let Some(Slot::Loading(waiting)) = self.docs.remove(&id) else {
            return;
        };
        let mut doc = match bytes.as_deref().map(Automerge::load) {
            Some(Ok(doc)) => doc,
            // A corrupt stored document is treated as absent rather than crashing the hub; the
            // driver logs it.
            Some(Err(_)) | None => Automerge::new(),
        };
        doc.set_actor(self.config.actor.clone());
        let meta = RecordMeta::read(&doc).ok();
        self.docs.insert(
            id,
            Slot::Ready(Box::new(Doc {
                doc,
                meta,
                record: None,
                syncs: HashMap::new(),
            })),
        );
        for (conn, msg) in waiting {
            match msg {
                Message::Request { data, .. } => self.on_sync(conn, id, data, true, fx),
                Message::Sync { data, .. } => self.on_sync(conn, id, data, false, fx),
                _ => {}
            }
        }
    }

    fn can_read(&self, conn: &Conn, meta: Option<&RecordMeta>) -> bool {
        match meta {
            Some(m) => self.policy.can_read(conn.principal.as_ref(), m),
            None => !self.policy.authoritative(),
        }
    }

    fn unavailable(&self, conn: ConnId, doc: DocumentId, fx: &mut Effects) {
        let Some(target_id) = self.conns.get(&conn).and_then(|c| c.remote.clone()) else {
            return;
        };
        self.send(
            conn,
            &Message::DocUnavailable {
                document_id: doc,
                target_id,
                sender_id: self.config.peer_id.clone(),
            },
            fx,
        );
    }

    fn on_sync(
        &mut self,
        conn: ConnId,
        id: DocumentId,
        data: Vec<u8>,
        is_request: bool,
        fx: &mut Effects,
    ) {
        let msg = match sync::Message::decode(&data) {
            Ok(m) => m,
            Err(e) => {
                return self.fail(
                    conn,
                    format!("invalid automerge sync message for {id}: {e}"),
                    fx,
                );
            }
        };
        let authoritative = self.policy.authoritative();
        match self.docs.get_mut(&id) {
            Some(Slot::Loading(waiting)) => {
                waiting.push((
                    conn,
                    Message::Sync {
                        target_id: self.config.peer_id.clone(),
                        document_id: id,
                        data,
                        sender_id: self.config.peer_id.clone(),
                    },
                ));
                return;
            }
            None if authoritative => {
                self.docs.insert(
                    id,
                    Slot::Loading(vec![(
                        conn,
                        Message::Sync {
                            target_id: self.config.peer_id.clone(),
                            document_id: id,
                            data,
                            sender_id: self.config.peer_id.clone(),
                        },
                    )]),
                );
                fx.load.push(id);
                return;
            }
            None => {
                let doc = Automerge::new().with_actor(self.config.actor.clone());
                self.docs.insert(
                    id,
                    Slot::Ready(Box::new(Doc {
                        doc,
                        meta: None,
                        record: None,
                        syncs: HashMap::new(),
                    })),
                );
            }
            Some(Slot::Ready(_)) => {}
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(Slot::Ready(d)) = self.docs.get(&id) else {
            return;
        };
        let exists = !d.doc.get_heads().is_empty();
        if authoritative && exists && !self.can_read(c, d.meta.as_ref()) {
            // Out of scope looks exactly like missing: answered from an empty document.
            self.answer_as_missing(conn, id, msg, fx);
            return;
        }
        if !exists && msg.heads.is_empty() && (authoritative || is_request) {
            // A missing document with nothing to offer is unavailable. The requester stays
            // subscribed, so it hears of the document if it appears later (as JS servers do).
            if d.syncs.is_empty() {
                self.docs.remove(&id);
            }
            if let Some(c) = self.conns.get_mut(&conn)
                && c.direction == Direction::Inbound
            {
                c.subscribed.insert(id);
            }
            self.unavailable(conn, id, fx);
            return;
        }
        let user = c.principal.as_ref().map(|p| p.user.to_string());
        let principal = c.principal.clone();
        if let Some(c) = self.conns.get_mut(&conn)
            && c.direction == Direction::Inbound
        {
            c.subscribed.insert(id);
        }
        let Some(Slot::Ready(d)) = self.docs.get_mut(&id) else {
            return;
        };
        let before = d.doc.get_heads();
        let mut state = d.syncs.get(&conn).cloned().unwrap_or_default();
        let has_changes = !msg.changes.is_empty();
        if !has_changes {
            if let Err(e) = d.doc.receive_sync_message(&mut state, msg) {
                return self.fail(conn, format!("cannot apply sync message for {id}: {e}"), fx);
            }
            d.syncs.insert(conn, state);
        } else {
            let mut trial = d.doc.clone();
            if let Err(e) = trial.receive_sync_message(&mut state, msg) {
                return self.fail(conn, format!("cannot apply sync message for {id}: {e}"), fx);
            }
            let after = trial.get_heads();
            if after != before {
                let verdict = if authoritative {
                    let previous = if exists {
                        d.record.clone().or_else(|| Record::read(&d.doc).ok())
                    } else {
                        None
                    };
                    Record::read(&trial).map_err(Refusal::from).and_then(|r| {
                        self.policy
                            .check_write(principal.as_ref(), previous.as_ref(), &r)?;
                        Ok((Some(r.meta()), Some(r)))
                    })
                } else {
                    Ok((RecordMeta::read(&trial).ok(), None))
                };
                match verdict {
                    Err(refusal) => {
                        let chunk = trial.save_after(&before);
                        if !exists && d.syncs.is_empty() {
                            self.docs.remove(&id);
                        }
                        return self.refuse(conn, id, user, refusal.to_string(), chunk, fx);
                    }
                    Ok((meta, record)) => {
                        let chunk = trial.save_after(&before);
                        d.doc = trial;
                        d.meta = meta.clone();
                        d.record = record.clone();
                        d.syncs.insert(conn, state);
                        fx.persist.push(Persist {
                            doc: id,
                            chunk,
                            heads: d.doc.get_heads(),
                            meta: meta.clone(),
                            record: record.map(Box::new),
                        });
                        fx.events.push(Event::DocChanged { doc: id, meta });
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.activity = true;
                        }
                        self.fan_out(id, Some(conn), fx);
                    }
                }
            } else {
                // Nothing new is visible (changes may wait in the queue for missing
                // dependencies, which the sync protocol asks for next).
                d.doc = trial;
                d.syncs.insert(conn, state);
            }
        }
        self.sync_doc(id, conn, fx);
        self.settle(conn, id, false, fx);
    }

    /// Refuses a change: keeps it in quarantine, reports it, and tells the sender why (naming
    /// the document only to peers that negotiated the extension). The connection stays open.
    fn refuse(
        &mut self,
        conn: ConnId,
        doc: DocumentId,
        user: Option<String>,
        reason: String,
        chunk: Vec<u8>,
        fx: &mut Effects,
    ) {
        let (ext, target_id) = match self.conns.get(&conn) {
            Some(c) => (c.extension, c.remote.clone()),
            None => (false, None),
        };
        let message = format!("change to {doc} refused: {reason}");
        fx.quarantine.push(Quarantine {
            conn,
            user,
            doc,
            reason: reason.clone(),
            chunk,
        });
        fx.events.push(Event::Refused { conn, doc, reason });
        self.send(
            conn,
            &Message::Error {
                sender_id: Some(self.config.peer_id.clone()),
                message,
                target_id,
                document_id: ext.then_some(doc),
            },
            fx,
        );
    }

    /// Answers a sync about a document the peer may not see exactly as for a missing one:
    /// `doc-unavailable` when it offers nothing, else a reply from an empty document; any
    /// changes it sends are refused and kept aside.
    fn answer_as_missing(
        &mut self,
        conn: ConnId,
        id: DocumentId,
        msg: sync::Message,
        fx: &mut Effects,
    ) {
        if msg.heads.is_empty() {
            return self.unavailable(conn, id, fx);
        }
        let has_changes = !msg.changes.is_empty();
        let mut empty = Automerge::new().with_actor(self.config.actor.clone());
        let mut state = sync::State::new();
        if empty.receive_sync_message(&mut state, msg).is_err() {
            return self.fail(conn, format!("invalid automerge sync message for {id}"), fx);
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (target_id, user) = (
            c.remote.clone(),
            c.principal.as_ref().map(|p| p.user.to_string()),
        );
        if has_changes {
            self.refuse(conn, id, user, "not permitted".to_owned(), empty.save(), fx);
        } else if let (Some(m), Some(target_id)) =
            (empty.generate_sync_message(&mut state), target_id)
        {
            let reply = Message::Sync {
                target_id,
                document_id: id,
                data: m.encode(),
                sender_id: self.config.peer_id.clone(),
            };
            self.send(conn, &reply, fx);
        }
    }

    /// Starts (or continues) syncing `id` with `conn`.
    fn sync_doc(&mut self, id: DocumentId, conn: ConnId, fx: &mut Effects) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(target_id) = c.remote.clone() else {
            return;
        };
        let outbound = c.direction == Direction::Outbound;
        let Some(Slot::Ready(d)) = self.docs.get_mut(&id) else {
            if outbound {
                // We do not have it: ask for it.
                let empty = Automerge::new().with_actor(self.config.actor.clone());
                self.docs.insert(
                    id,
                    Slot::Ready(Box::new(Doc {
                        doc: empty,
                        meta: None,
                        record: None,
                        syncs: HashMap::new(),
                    })),
                );
                return self.sync_doc(id, conn, fx);
            }
            return;
        };
        let fresh = !d.syncs.contains_key(&conn);
        let state = d.syncs.entry(conn).or_default();
        if let Some(m) = d.doc.generate_sync_message(state) {
            let data = m.encode();
            let sender_id = self.config.peer_id.clone();
            let msg = if fresh && outbound && d.doc.get_heads().is_empty() {
                Message::Request {
                    target_id,
                    document_id: id,
                    data,
                    sender_id,
                }
            } else {
                Message::Sync {
                    target_id,
                    document_id: id,
                    data,
                    sender_id,
                }
            };
            self.send(conn, &msg, fx);
        }
    }

    /// Pushes a changed document to every connection that should hear about it.
    fn fan_out(&mut self, id: DocumentId, origin: Option<ConnId>, fx: &mut Effects) {
        let meta = match self.docs.get(&id) {
            Some(Slot::Ready(d)) => d.meta.clone(),
            _ => return,
        };
        let targets: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(cid, c)| Some(**cid) != origin && c.phase == Phase::Ready)
            .filter(|(_, c)| match c.direction {
                Direction::Outbound => true,
                Direction::Inbound => {
                    (c.subscribed.contains(&id) || c.extension) && self.can_read(c, meta.as_ref())
                }
            })
            .map(|(cid, _)| *cid)
            .collect();
        for conn in targets {
            if let Some(c) = self.conns.get_mut(&conn) {
                match c.direction {
                    Direction::Inbound => {
                        c.subscribed.insert(id);
                    }
                    Direction::Outbound if c.extension => {
                        c.pending.insert(id);
                        c.activity = true;
                    }
                    Direction::Outbound => {}
                }
            }
            self.sync_doc(id, conn, fx);
        }
    }

    /// Client bookkeeping after a message about `id`: acknowledgements and cursor progress.
    fn settle(&mut self, conn: ConnId, id: DocumentId, unavailable: bool, fx: &mut Effects) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.direction != Direction::Outbound {
            return;
        }
        let mut in_sync = unavailable;
        if let Some(Slot::Ready(d)) = self.docs.get(&id)
            && let Some(state) = d.syncs.get(&conn)
        {
            let ours = sorted(d.doc.get_heads());
            let shared = sorted(state.shared_heads.clone());
            if !shared.is_empty() && self.acked.get(&id) != Some(&shared) {
                self.acked.insert(id, shared.clone());
                fx.events.push(Event::Acked {
                    doc: id,
                    heads: shared,
                });
            }
            in_sync |= state
                .their_heads
                .as_ref()
                .is_some_and(|t| sorted(t.clone()) == ours);
        }
        if in_sync && let Some(c) = self.conns.get_mut(&conn) {
            c.pending.remove(&id);
        }
        self.maybe_save_cursor(conn, fx);
    }

    /// Once every pending document is in sync: saves the cursor the server gave, then, if
    /// documents changed on the link since, asks for a newer one (`gv-poll`), so the next
    /// reconnect lists only what changes from now on.
    fn maybe_save_cursor(&mut self, conn: ConnId, fx: &mut Effects) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.extension || c.direction != Direction::Outbound || !c.pending.is_empty() {
            return;
        }
        if let Some(cursor) = c.pending_cursor.take() {
            self.cursor = Some(cursor.clone());
            fx.events.push(Event::CursorSaved { cursor });
        }
        if c.activity
            && !c.polling
            && let Some(cursor) = self.cursor.clone()
        {
            c.activity = false;
            c.polling = true;
            self.send(conn, &Message::GvPoll { cursor }, fx);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_ephemeral(
        &mut self,
        from: ConnId,
        id: DocumentId,
        data: Vec<u8>,
        count: u64,
        session_id: String,
        sender_id: PeerId,
        fx: &mut Effects,
    ) {
        let meta = match self.docs.get(&id) {
            Some(Slot::Ready(d)) => d.meta.clone(),
            _ => return,
        };
        let Some(origin) = self.conns.get(&from) else {
            return;
        };
        if self.policy.authoritative() && !self.can_read(origin, meta.as_ref()) {
            return;
        }
        let targets: Vec<(ConnId, PeerId)> = self
            .conns
            .iter()
            .filter(|(cid, c)| {
                **cid != from && c.subscribed.contains(&id) && self.can_read(c, meta.as_ref())
            })
            .filter_map(|(cid, c)| c.remote.clone().map(|r| (*cid, r)))
            .collect();
        for (conn, target_id) in targets {
            let msg = Message::Ephemeral {
                target_id,
                document_id: id,
                data: data.clone(),
                count,
                session_id: session_id.clone(),
                sender_id: sender_id.clone(),
            };
            self.send(conn, &msg, fx);
        }
    }
}
