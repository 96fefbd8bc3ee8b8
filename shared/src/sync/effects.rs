//! What goes into a [`Hub`](super::Hub) ([`Input`]) and what comes out ([`Effects`]): the
//! vocabulary every driver speaks.

use automerge::ChangeHash;

use super::feed::{FeedAnswer, FeedQuery};
use super::policy::{Principal, Refusal};
use crate::ids::{DocumentId, PeerId};
use crate::model::{Record, RecordMeta};
use crate::time::Millis;
use crate::wire::{Cursor, Message};

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
    /// A frame arrived and was decoded already (a driver that routes frames by document
    /// across several hubs reads each once).
    Message {
        /// On which connection.
        conn: ConnId,
        /// The message.
        message: Message,
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
    /// The record after this chunk, when the hub read it (to validate the change, or because
    /// the driver asked for records with [`super::HubConfig::read_records`]): the driver then
    /// need not read it again.
    pub record: Option<Box<Record>>,
}

impl Persist {
    /// Where the record stands for holding, when the hub read it.
    pub fn standing(&self, cal: &crate::time::Calendar) -> Option<super::Standing> {
        self.record.as_deref().map(|r| super::Standing::of(r, cal))
    }
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
    pub reason: Refusal,
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
    /// A first sync in bulk brought `received` of its `total` documents so far (client).
    Received {
        /// Documents received.
        received: u64,
        /// Documents the server is sending in all.
        total: u64,
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
    /// A peer we serve asked for the figures of an area (server): push them to it now and
    /// as they change, replacing what it watched before.
    Watch {
        /// The connection.
        conn: ConnId,
        /// The area's path as asked.
        area: String,
        /// The area.
        scope: crate::ids::Scope,
    },
    /// Our server pushed the figures of the area we watch (client).
    Figures {
        /// The area's path.
        area: String,
        /// When the server computed them.
        at: Millis,
        /// `shared::aggregate::Figures` as JSON.
        figures: Vec<u8>,
    },
    /// A change was refused and quarantined.
    Refused {
        /// The connection.
        conn: ConnId,
        /// The document.
        doc: DocumentId,
        /// Why.
        reason: Refusal,
    },
}

/// What the driver must do, in this order: persist and quarantine durably, then send frames,
/// close connections, load documents and answer queries (feeding the results back as inputs).
/// [`super::driver::run`] does it in that order.
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
