//! The typed messages of automerge-repo's protocol "1" and of gridvisit's extension, and the one
//! table that names every message kind on the wire.

use crate::ids::{DocumentId, PeerId, StorageId};

/// What a peer says about itself in `join` and `peer`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PeerMetadata {
    /// Its persistent storage, if any (JS writes `undefined` when it has none).
    pub storage_id: Option<StorageId>,
    /// Whether it will not come back with the same storage.
    pub is_ephemeral: bool,
    /// gridvisit's extension: offered in `join`, accepted in `peer`.
    pub gridvisit: Option<ExtensionOffer>,
}

/// gridvisit's extension as offered by a client or accepted by a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// Extension version.
    pub version: u64,
    /// In a `join`: the client's change cursor from its last complete sync, if any.
    pub cursor: Option<Cursor>,
}

/// A position in a server's change feed: the server database's epoch and a sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// Identifies one server database; a cursor from another epoch is meaningless.
    pub epoch: String,
    /// Every durable change on the server takes the next number.
    pub seq: u64,
}

/// One entry of a change listing: a document and a digest of its heads on the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocDigest {
    /// The document.
    pub doc: DocumentId,
    /// [`crate::sync::heads_digest`] of the server's heads.
    pub heads: [u8; 8],
}

/// Heads a peer advertises for one storage ID, in `remote-heads-changed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteHeads {
    /// Whose heads.
    pub storage_id: StorageId,
    /// The heads (bs58check strings, as JS sends them).
    pub heads: Vec<String>,
    /// Milliseconds since the epoch on the originating node.
    pub timestamp: u64,
}

/// One protocol message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// The initiating peer's first message.
    Join {
        /// Sender.
        sender_id: PeerId,
        /// Metadata.
        peer_metadata: Option<PeerMetadata>,
        /// Versions it speaks (`["1"]`).
        supported_protocol_versions: Vec<String>,
    },
    /// The receiving peer's answer to `join`.
    Peer {
        /// Sender.
        sender_id: PeerId,
        /// Metadata.
        peer_metadata: Option<PeerMetadata>,
        /// Chosen version.
        selected_protocol_version: String,
        /// The joining peer.
        target_id: PeerId,
    },
    /// Advisory: the sender is going away.
    Leave {
        /// Sender.
        sender_id: PeerId,
    },
    /// Begin syncing a document; answer `doc-unavailable` if you do not have it.
    Request {
        /// Recipient.
        target_id: PeerId,
        /// The document.
        document_id: DocumentId,
        /// An automerge sync message.
        data: Vec<u8>,
        /// Sender.
        sender_id: PeerId,
    },
    /// An automerge sync message about one document.
    Sync {
        /// Recipient.
        target_id: PeerId,
        /// The document.
        document_id: DocumentId,
        /// An automerge sync message.
        data: Vec<u8>,
        /// Sender.
        sender_id: PeerId,
    },
    /// The sender does not have the document (or may not show it).
    DocUnavailable {
        /// The document.
        document_id: DocumentId,
        /// Recipient.
        target_id: PeerId,
        /// Sender.
        sender_id: PeerId,
    },
    /// An application message that is not stored.
    Ephemeral {
        /// Recipient.
        target_id: PeerId,
        /// The document it concerns.
        document_id: DocumentId,
        /// Arbitrary CBOR.
        data: Vec<u8>,
        /// Sequence number within the session.
        count: u64,
        /// The session.
        session_id: String,
        /// Sender.
        sender_id: PeerId,
    },
    /// A protocol error.
    Error {
        /// Sender, when known.
        sender_id: Option<PeerId>,
        /// What went wrong.
        message: String,
        /// Recipient, when known.
        target_id: Option<PeerId>,
        /// The document concerned (gridvisit extension; only sent to peers that negotiated it).
        document_id: Option<DocumentId>,
    },
    /// Change the storage IDs whose heads the sender wants to hear about.
    RemoteSubscriptionChange {
        /// Recipient.
        target_id: PeerId,
        /// Storage IDs to add.
        add: Option<Vec<StorageId>>,
        /// Storage IDs to remove.
        remove: Option<Vec<StorageId>>,
        /// Sender.
        sender_id: PeerId,
    },
    /// Heads of a watched storage ID changed.
    RemoteHeadsChanged {
        /// Recipient.
        target_id: PeerId,
        /// The document.
        document_id: DocumentId,
        /// New heads per storage ID.
        new_heads: Vec<RemoteHeads>,
        /// Sender.
        sender_id: PeerId,
    },
    /// Extension, server to client: documents in the client's scope changed since its cursor.
    GvChanges {
        /// The documents and digests of their heads.
        docs: Vec<DocDigest>,
        /// The cursor to store once every listed document is in sync.
        cursor: Cursor,
    },
    /// Extension, server to client: the client's cursor cannot be used; here are digests of
    /// the server's documents in scope, by bucket.
    GvBuckets {
        /// One 8-byte digest per bucket, concatenated.
        digests: Vec<u8>,
        /// The cursor to store once every differing bucket is in sync.
        cursor: Cursor,
    },
    /// Extension, client to server: what changed since this cursor? (Sent when the client is
    /// in sync after activity, so its saved cursor keeps up with a live session.)
    GvPoll {
        /// The client's cursor.
        cursor: Cursor,
    },
    /// Extension, client to server: list the documents of these buckets.
    GvFetchBuckets {
        /// Bucket numbers.
        buckets: Vec<u64>,
    },
    /// Extension (version 2), client to server: a client that holds nothing yet asks for the
    /// saved documents of these buckets themselves (`gv-docs` batches), then their listing.
    GvFetchDocs {
        /// Bucket numbers.
        buckets: Vec<u64>,
    },
    /// Extension (version 2), server to client: saved documents of a first sync, one batch of
    /// them. The listing (`gv-changes`) that follows the last batch completes the sync.
    GvDocs {
        /// Each document and its saved bytes (`Automerge::load` accepts them).
        docs: Vec<(DocumentId, Vec<u8>)>,
        /// How many documents all the batches of this answer carry.
        total: u64,
    },
    /// Extension, client to server: push the figures of this area (`""`: the whole scope,
    /// else a street, community or grid path inside it) from now on, instead of the last one.
    GvWatch {
        /// The area's path.
        area: String,
    },
    /// Extension, server to client: the figures of the watched area, as of `at`.
    GvFigures {
        /// The area's path, as watched.
        area: String,
        /// When they were computed (ms since the epoch, server clock).
        at: i64,
        /// The figures as JSON (`shared::aggregate::Figures`).
        figures: Vec<u8>,
    },
}

/// The one table of message kinds: each variant of [`Message`], its `type` on the wire, and
/// whether it belongs to gridvisit's extension. Decoding, encoding and [`Message::kind`] all
/// read it; adding a message means one line here plus its fields.
macro_rules! kinds {
    ($($variant:ident => $wire:literal, $extension:literal;)*) => {
        /// The kind of a message: its `type` on the wire.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kind {
            $(
                #[doc = concat!("`", $wire, "`")]
                $variant,
            )*
        }

        impl Kind {
            /// Every kind, in protocol order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The `type` string on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $wire,)*
                }
            }

            /// The kind named by a `type` string.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($wire => Some(Kind::$variant),)*
                    _ => None,
                }
            }

            /// Whether this kind belongs to gridvisit's extension.
            pub const fn is_extension(self) -> bool {
                match self {
                    $(Kind::$variant => $extension,)*
                }
            }
        }

        impl Message {
            /// This message's kind.
            pub fn kind(&self) -> Kind {
                match self {
                    $(Self::$variant { .. } => Kind::$variant,)*
                }
            }
        }
    };
}

kinds! {
    Join => "join", false;
    Peer => "peer", false;
    Leave => "leave", false;
    Request => "request", false;
    Sync => "sync", false;
    DocUnavailable => "doc-unavailable", false;
    Ephemeral => "ephemeral", false;
    Error => "error", false;
    RemoteSubscriptionChange => "remote-subscription-change", false;
    RemoteHeadsChanged => "remote-heads-changed", false;
    GvChanges => "gv-changes", true;
    GvBuckets => "gv-buckets", true;
    GvPoll => "gv-poll", true;
    GvFetchBuckets => "gv-fetch-buckets", true;
    GvFetchDocs => "gv-fetch-docs", true;
    GvDocs => "gv-docs", true;
    GvWatch => "gv-watch", true;
    GvFigures => "gv-figures", true;
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Message {
    /// Whether this message belongs to gridvisit's extension.
    pub fn is_extension(&self) -> bool {
        self.kind().is_extension()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_wire_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
            assert_eq!(k.is_extension(), k.as_str().starts_with("gv-"));
        }
        assert_eq!(Kind::parse("gv-unknown"), None);
    }
}
