//! automerge-repo's WebSocket protocol, version "1", and gridvisit's negotiated extension.
//!
//! [`Message::decode`] turns one WebSocket binary frame into a typed message and never panics:
//! oversize, truncated or garbage input is a [`WireError`]. [`Message::encode`] writes the same
//! keys in the same order as the JS packages (`@automerge/automerge-repo` 2.x), so golden frames
//! captured from them round-trip byte for byte. The `gv-*` messages are gridvisit's extension
//! (see `PROTOCOL.md`); they are only ever sent on a connection whose handshake negotiated it.

pub mod cbor;

use cbor::{Cbor, CborError};

use crate::ids::{DocumentId, IdError, PeerId, StorageId};

/// The only protocol version automerge-repo speaks today.
pub const PROTOCOL_VERSION: &str = "1";

/// The version of gridvisit's extension this code speaks.
pub const EXTENSION_VERSION: u64 = 1;

/// The largest frame [`Message::decode`] accepts by default (a whole record history fits).
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024 * 1024;

/// Why a frame is not a message we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame is larger than the limit.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Frame size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The frame is not CBOR.
    #[error("malformed cbor: {0}")]
    Cbor(#[from] CborError),
    /// The CBOR is not a map with a text `type`.
    #[error("message is not a map with a text \"type\" field")]
    NotAMessage,
    /// The `type` is not one we know.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A required field is missing.
    #[error("{kind} message is missing field {field:?}")]
    Missing {
        /// Message type.
        kind: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A field has the wrong CBOR type.
    #[error("{kind} message field {field:?} has the wrong type")]
    WrongType {
        /// Message type.
        kind: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A document or peer ID did not parse.
    #[error(transparent)]
    Id(#[from] IdError),
}

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
}

type Fields = Vec<(Cbor, Cbor)>;

struct Reader<'a> {
    kind: &'static str,
    map: &'a Cbor,
}

impl<'a> Reader<'a> {
    fn opt(&self, field: &'static str) -> Option<&'a Cbor> {
        match self.map.get(field) {
            None | Some(Cbor::Undefined | Cbor::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn req(&self, field: &'static str) -> Result<&'a Cbor, WireError> {
        self.opt(field).ok_or(WireError::Missing {
            kind: self.kind,
            field,
        })
    }

    fn wrong(&self, field: &'static str) -> WireError {
        WireError::WrongType {
            kind: self.kind,
            field,
        }
    }

    fn text(&self, field: &'static str) -> Result<&'a str, WireError> {
        match self.req(field)? {
            Cbor::Text(s) => Ok(s),
            _ => Err(self.wrong(field)),
        }
    }

    fn opt_text(&self, field: &'static str) -> Result<Option<&'a str>, WireError> {
        match self.opt(field) {
            None => Ok(None),
            Some(Cbor::Text(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(field)),
        }
    }

    fn peer(&self, field: &'static str) -> Result<PeerId, WireError> {
        Ok(PeerId::new(self.text(field)?)?)
    }

    fn opt_peer(&self, field: &'static str) -> Result<Option<PeerId>, WireError> {
        Ok(self.opt_text(field)?.map(PeerId::new).transpose()?)
    }

    fn doc(&self, field: &'static str) -> Result<DocumentId, WireError> {
        Ok(self.text(field)?.parse()?)
    }

    fn bytes(&self, field: &'static str) -> Result<Vec<u8>, WireError> {
        match self.req(field)? {
            Cbor::Bytes(b) => Ok(b.clone()),
            _ => Err(self.wrong(field)),
        }
    }

    fn uint(&self, field: &'static str) -> Result<u64, WireError> {
        match self.req(field)? {
            Cbor::Uint(n) => Ok(*n),
            Cbor::Float(f) if *f >= 0.0 && f.fract() == 0.0 => Ok(*f as u64),
            _ => Err(self.wrong(field)),
        }
    }

    fn storage_ids(&self, field: &'static str) -> Result<Option<Vec<StorageId>>, WireError> {
        match self.opt(field) {
            None => Ok(None),
            Some(Cbor::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Cbor::Text(s) => Ok(StorageId::new(s.as_str())?),
                    _ => Err(self.wrong(field)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.wrong(field)),
        }
    }

    fn metadata(&self) -> Result<Option<PeerMetadata>, WireError> {
        let Some(meta) = self.opt("peerMetadata") else {
            return Ok(None);
        };
        if !matches!(meta, Cbor::Map(_)) {
            return Err(self.wrong("peerMetadata"));
        }
        let r = Reader {
            kind: self.kind,
            map: meta,
        };
        let gridvisit = match r.opt("gridvisit") {
            None => None,
            Some(ext @ Cbor::Map(_)) => {
                let e = Reader {
                    kind: self.kind,
                    map: ext,
                };
                Some(ExtensionOffer {
                    version: e.uint("v")?,
                    cursor: e.opt("cursor").map(|c| read_cursor(&e, c)).transpose()?,
                })
            }
            Some(_) => return Err(self.wrong("gridvisit")),
        };
        Ok(Some(PeerMetadata {
            storage_id: r.opt_text("storageId")?.map(StorageId::new).transpose()?,
            is_ephemeral: matches!(r.opt("isEphemeral"), Some(Cbor::Bool(true))),
            gridvisit,
        }))
    }
}

fn read_cursor(r: &Reader<'_>, c: &Cbor) -> Result<Cursor, WireError> {
    let cr = Reader {
        kind: r.kind,
        map: c,
    };
    Ok(Cursor {
        epoch: cr.text("epoch")?.to_owned(),
        seq: cr.uint("seq")?,
    })
}

fn cursor_cbor(c: &Cursor) -> Cbor {
    Cbor::map([
        ("epoch", Cbor::text(c.epoch.as_str())),
        ("seq", Cbor::Uint(c.seq)),
    ])
}

fn metadata_cbor(m: &PeerMetadata) -> Cbor {
    let mut fields: Fields = vec![
        (
            Cbor::text("storageId"),
            m.storage_id
                .as_ref()
                .map_or(Cbor::Undefined, |s| Cbor::text(s.as_str())),
        ),
        (Cbor::text("isEphemeral"), Cbor::Bool(m.is_ephemeral)),
    ];
    if let Some(ext) = &m.gridvisit {
        let mut e = vec![(Cbor::text("v"), Cbor::Uint(ext.version))];
        if let Some(c) = &ext.cursor {
            e.push((Cbor::text("cursor"), cursor_cbor(c)));
        }
        fields.push((Cbor::text("gridvisit"), Cbor::Map(e)));
    }
    Cbor::Map(fields)
}

fn peer_cbor(p: &PeerId) -> Cbor {
    Cbor::text(p.as_str())
}

fn doc_cbor(d: &DocumentId) -> Cbor {
    Cbor::Text(d.to_string())
}

impl Message {
    /// The `type` string on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Join { .. } => "join",
            Self::Peer { .. } => "peer",
            Self::Leave { .. } => "leave",
            Self::Request { .. } => "request",
            Self::Sync { .. } => "sync",
            Self::DocUnavailable { .. } => "doc-unavailable",
            Self::Ephemeral { .. } => "ephemeral",
            Self::Error { .. } => "error",
            Self::RemoteSubscriptionChange { .. } => "remote-subscription-change",
            Self::RemoteHeadsChanged { .. } => "remote-heads-changed",
            Self::GvChanges { .. } => "gv-changes",
            Self::GvBuckets { .. } => "gv-buckets",
            Self::GvPoll { .. } => "gv-poll",
            Self::GvFetchBuckets { .. } => "gv-fetch-buckets",
        }
    }

    /// Whether this message belongs to gridvisit's extension.
    pub fn is_extension(&self) -> bool {
        self.kind().starts_with("gv-")
    }

    /// Decodes one frame, refusing frames over `max_bytes`.
    pub fn decode(frame: &[u8], max_bytes: usize) -> Result<Self, WireError> {
        if frame.len() > max_bytes {
            return Err(WireError::TooLarge {
                size: frame.len(),
                limit: max_bytes,
            });
        }
        let item = cbor::decode(frame)?;
        let Some(Cbor::Text(kind)) = item.get("type") else {
            return Err(WireError::NotAMessage);
        };
        let kind: &'static str = match kind.as_str() {
            "join" => "join",
            "peer" => "peer",
            "leave" => "leave",
            "request" => "request",
            "sync" => "sync",
            "doc-unavailable" => "doc-unavailable",
            "ephemeral" => "ephemeral",
            "error" => "error",
            "remote-subscription-change" => "remote-subscription-change",
            "remote-heads-changed" => "remote-heads-changed",
            "gv-changes" => "gv-changes",
            "gv-buckets" => "gv-buckets",
            "gv-poll" => "gv-poll",
            "gv-fetch-buckets" => "gv-fetch-buckets",
            other => return Err(WireError::UnknownType(other.chars().take(64).collect())),
        };
        let r = Reader { kind, map: &item };
        Ok(match kind {
            "join" => Self::Join {
                sender_id: r.peer("senderId")?,
                peer_metadata: r.metadata()?,
                supported_protocol_versions: match r.req("supportedProtocolVersions")? {
                    Cbor::Array(items) => items
                        .iter()
                        .map(|v| match v {
                            Cbor::Text(s) => Ok(s.clone()),
                            _ => Err(r.wrong("supportedProtocolVersions")),
                        })
                        .collect::<Result<_, _>>()?,
                    // The CDDL allows a bare string.
                    Cbor::Text(s) => vec![s.clone()],
                    _ => return Err(r.wrong("supportedProtocolVersions")),
                },
            },
            "peer" => Self::Peer {
                sender_id: r.peer("senderId")?,
                peer_metadata: r.metadata()?,
                selected_protocol_version: r.text("selectedProtocolVersion")?.to_owned(),
                target_id: r.peer("targetId")?,
            },
            "leave" => Self::Leave {
                sender_id: r.peer("senderId")?,
            },
            "request" | "sync" => {
                let (target_id, document_id, data, sender_id) = (
                    r.peer("targetId")?,
                    r.doc("documentId")?,
                    r.bytes("data")?,
                    r.peer("senderId")?,
                );
                if kind == "request" {
                    Self::Request {
                        target_id,
                        document_id,
                        data,
                        sender_id,
                    }
                } else {
                    Self::Sync {
                        target_id,
                        document_id,
                        data,
                        sender_id,
                    }
                }
            }
            "doc-unavailable" => Self::DocUnavailable {
                document_id: r.doc("documentId")?,
                target_id: r.peer("targetId")?,
                sender_id: r.peer("senderId")?,
            },
            "ephemeral" => Self::Ephemeral {
                target_id: r.peer("targetId")?,
                document_id: r.doc("documentId")?,
                data: r.bytes("data")?,
                count: r.uint("count")?,
                session_id: r.text("sessionId")?.to_owned(),
                sender_id: r.peer("senderId")?,
            },
            "error" => Self::Error {
                sender_id: r.opt_peer("senderId")?,
                message: r.text("message")?.to_owned(),
                target_id: r.opt_peer("targetId")?,
                document_id: r.opt_text("documentId")?.map(str::parse).transpose()?,
            },
            "remote-subscription-change" => Self::RemoteSubscriptionChange {
                target_id: r.peer("targetId")?,
                add: r.storage_ids("add")?,
                remove: r.storage_ids("remove")?,
                sender_id: r.peer("senderId")?,
            },
            "remote-heads-changed" => Self::RemoteHeadsChanged {
                target_id: r.peer("targetId")?,
                document_id: r.doc("documentId")?,
                new_heads: match r.req("newHeads")? {
                    Cbor::Map(entries) => entries
                        .iter()
                        .map(|(k, v)| {
                            let (Cbor::Text(sid), Cbor::Map(_)) = (k, v) else {
                                return Err(r.wrong("newHeads"));
                            };
                            let h = Reader { kind, map: v };
                            let heads = match h.req("heads")? {
                                Cbor::Array(items) => items
                                    .iter()
                                    .map(|i| match i {
                                        Cbor::Text(s) => Ok(s.clone()),
                                        _ => Err(r.wrong("heads")),
                                    })
                                    .collect::<Result<_, _>>()?,
                                _ => return Err(r.wrong("heads")),
                            };
                            Ok(RemoteHeads {
                                storage_id: StorageId::new(sid.as_str())?,
                                heads,
                                timestamp: h.uint("timestamp")?,
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(r.wrong("newHeads")),
                },
                sender_id: r.peer("senderId")?,
            },
            "gv-changes" => Self::GvChanges {
                docs: match r.req("docs")? {
                    Cbor::Bytes(b) if b.len() % 24 == 0 => b
                        .chunks_exact(24)
                        .map(|c| {
                            let mut doc = [0; 16];
                            let mut heads = [0; 8];
                            doc.copy_from_slice(&c[..16]);
                            heads.copy_from_slice(&c[16..]);
                            DocDigest {
                                doc: DocumentId::from_bytes(doc),
                                heads,
                            }
                        })
                        .collect(),
                    _ => return Err(r.wrong("docs")),
                },
                cursor: read_cursor(&r, r.req("cursor")?)?,
            },
            "gv-buckets" => Self::GvBuckets {
                digests: r.bytes("digests")?,
                cursor: read_cursor(&r, r.req("cursor")?)?,
            },
            "gv-poll" => Self::GvPoll {
                cursor: read_cursor(&r, r.req("cursor")?)?,
            },
            "gv-fetch-buckets" => Self::GvFetchBuckets {
                buckets: match r.req("buckets")? {
                    Cbor::Array(items) => items
                        .iter()
                        .map(|i| match i {
                            Cbor::Uint(n) => Ok(*n),
                            _ => Err(r.wrong("buckets")),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(r.wrong("buckets")),
                },
            },
            _ => return Err(WireError::UnknownType(kind.to_owned())),
        })
    }

    /// Encodes this message as one frame, keys in the order the JS packages use.
    pub fn encode(&self) -> Vec<u8> {
        let t = |k: &str| (Cbor::text("type"), Cbor::text(k));
        let f = |k: &str, v: Cbor| (Cbor::text(k), v);
        let kind = self.kind();
        let fields: Fields = match self {
            Self::Join {
                sender_id,
                peer_metadata,
                supported_protocol_versions,
            } => {
                let mut v = vec![t(kind), f("senderId", peer_cbor(sender_id))];
                if let Some(m) = peer_metadata {
                    v.push(f("peerMetadata", metadata_cbor(m)));
                }
                v.push(f(
                    "supportedProtocolVersions",
                    Cbor::Array(
                        supported_protocol_versions
                            .iter()
                            .map(|s| Cbor::text(s.as_str()))
                            .collect(),
                    ),
                ));
                v
            }
            Self::Peer {
                sender_id,
                peer_metadata,
                selected_protocol_version,
                target_id,
            } => {
                let mut v = vec![t(kind), f("senderId", peer_cbor(sender_id))];
                if let Some(m) = peer_metadata {
                    v.push(f("peerMetadata", metadata_cbor(m)));
                }
                v.push(f(
                    "selectedProtocolVersion",
                    Cbor::text(selected_protocol_version.as_str()),
                ));
                v.push(f("targetId", peer_cbor(target_id)));
                v
            }
            Self::Leave { sender_id } => vec![t(kind), f("senderId", peer_cbor(sender_id))],
            Self::Request {
                target_id,
                document_id,
                data,
                sender_id,
            } => vec![
                t(kind),
                f("targetId", peer_cbor(target_id)),
                f("documentId", doc_cbor(document_id)),
                f("data", Cbor::Bytes(data.clone())),
                f("senderId", peer_cbor(sender_id)),
            ],
            // automerge-repo writes `data` before `documentId` in sync messages.
            Self::Sync {
                target_id,
                document_id,
                data,
                sender_id,
            } => vec![
                t(kind),
                f("targetId", peer_cbor(target_id)),
                f("data", Cbor::Bytes(data.clone())),
                f("documentId", doc_cbor(document_id)),
                f("senderId", peer_cbor(sender_id)),
            ],
            Self::DocUnavailable {
                document_id,
                target_id,
                sender_id,
            } => vec![
                t(kind),
                f("documentId", doc_cbor(document_id)),
                f("targetId", peer_cbor(target_id)),
                f("senderId", peer_cbor(sender_id)),
            ],
            Self::Ephemeral {
                target_id,
                document_id,
                data,
                count,
                session_id,
                sender_id,
            } => vec![
                t(kind),
                f("targetId", peer_cbor(target_id)),
                f("documentId", doc_cbor(document_id)),
                f("data", Cbor::Bytes(data.clone())),
                f("count", Cbor::js_number(*count)),
                f("sessionId", Cbor::text(session_id.as_str())),
                f("senderId", peer_cbor(sender_id)),
            ],
            Self::Error {
                sender_id,
                message,
                target_id,
                document_id,
            } => {
                let mut v = vec![t(kind)];
                if let Some(s) = sender_id {
                    v.push(f("senderId", peer_cbor(s)));
                }
                v.push(f("message", Cbor::text(message.as_str())));
                if let Some(s) = target_id {
                    v.push(f("targetId", peer_cbor(s)));
                }
                if let Some(d) = document_id {
                    v.push(f("documentId", doc_cbor(d)));
                }
                v
            }
            Self::RemoteSubscriptionChange {
                target_id,
                add,
                remove,
                sender_id,
            } => {
                let ids = |l: &Option<Vec<StorageId>>| match l {
                    None => Cbor::Undefined,
                    Some(l) => Cbor::Array(l.iter().map(|s| Cbor::text(s.as_str())).collect()),
                };
                vec![
                    t(kind),
                    f("targetId", peer_cbor(target_id)),
                    f("add", ids(add)),
                    f("remove", ids(remove)),
                    f("senderId", peer_cbor(sender_id)),
                ]
            }
            Self::RemoteHeadsChanged {
                target_id,
                document_id,
                new_heads,
                sender_id,
            } => vec![
                t(kind),
                f("targetId", peer_cbor(target_id)),
                f("documentId", doc_cbor(document_id)),
                f(
                    "newHeads",
                    Cbor::Map(
                        new_heads
                            .iter()
                            .map(|h| {
                                (
                                    Cbor::text(h.storage_id.as_str()),
                                    Cbor::map([
                                        (
                                            "heads",
                                            Cbor::Array(
                                                h.heads
                                                    .iter()
                                                    .map(|s| Cbor::text(s.as_str()))
                                                    .collect(),
                                            ),
                                        ),
                                        ("timestamp", Cbor::js_number(h.timestamp)),
                                    ]),
                                )
                            })
                            .collect(),
                    ),
                ),
                f("senderId", peer_cbor(sender_id)),
            ],
            Self::GvChanges { docs, cursor } => {
                let mut packed = Vec::with_capacity(docs.len() * 24);
                for d in docs {
                    packed.extend(d.doc.as_bytes());
                    packed.extend(d.heads);
                }
                vec![
                    t(kind),
                    f("docs", Cbor::Bytes(packed)),
                    f("cursor", cursor_cbor(cursor)),
                ]
            }
            Self::GvBuckets { digests, cursor } => vec![
                t(kind),
                f("digests", Cbor::Bytes(digests.clone())),
                f("cursor", cursor_cbor(cursor)),
            ],
            Self::GvPoll { cursor } => vec![t(kind), f("cursor", cursor_cbor(cursor))],
            Self::GvFetchBuckets { buckets } => vec![
                t(kind),
                f(
                    "buckets",
                    Cbor::Array(buckets.iter().map(|b| Cbor::Uint(*b)).collect()),
                ),
            ],
        };
        cbor::encode(&Cbor::Map(fields))
    }
}
