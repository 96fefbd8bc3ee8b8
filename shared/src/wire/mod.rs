//! automerge-repo's WebSocket protocol, version "1", and gridvisit's negotiated extension.
//!
//! [`Message::decode`] turns one WebSocket binary frame into a typed message and never panics:
//! oversize, truncated or garbage input is a [`WireError`]. [`Message::encode`] writes the same
//! keys in the same order as the JS packages (`@automerge/automerge-repo` 2.x), so golden frames
//! captured from them round-trip byte for byte. The `gv-*` messages are gridvisit's extension
//! (see `PROTOCOL.md`); they are only ever sent on a connection whose handshake negotiated it.
//!
//! - `message.rs`: the [`Message`] enum and the one table of kinds ([`Kind`]).
//! - `repo.rs` / `extension.rs`: each message's decoder and fields, per protocol.
//! - `reader.rs`: field access with errors that name the message and field.
//! - [`cbor`]: the bounded CBOR codec underneath.

pub mod cbor;
mod extension;
mod message;
mod reader;
mod repo;

use cbor::{Cbor, CborError};

pub use message::{Cursor, DocDigest, ExtensionOffer, Kind, Message, PeerMetadata, RemoteHeads};

use crate::ids::IdError;

/// The only protocol version automerge-repo speaks today.
pub const PROTOCOL_VERSION: &str = "1";

/// The version of gridvisit's extension this code speaks: 2 adds the first sync in bulk
/// (`gv-fetch-docs`, `gv-docs`).
pub const EXTENSION_VERSION: u64 = 2;

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

impl Message {
    /// Decodes one frame, refusing frames over `max_bytes`.
    pub fn decode(frame: &[u8], max_bytes: usize) -> Result<Self, WireError> {
        if frame.len() > max_bytes {
            return Err(WireError::TooLarge {
                size: frame.len(),
                limit: max_bytes,
            });
        }
        let item = cbor::decode(frame)?;
        let Some(Cbor::Text(name)) = item.get("type") else {
            return Err(WireError::NotAMessage);
        };
        let kind = Kind::parse(name)
            .ok_or_else(|| WireError::UnknownType(name.chars().take(64).collect()))?;
        let r = reader::Reader { kind, map: &item };
        match kind {
            Kind::Join => repo::join(&r),
            Kind::Peer => repo::peer(&r),
            Kind::Leave => repo::leave(&r),
            Kind::Request => repo::request(&r),
            Kind::Sync => repo::sync(&r),
            Kind::DocUnavailable => repo::doc_unavailable(&r),
            Kind::Ephemeral => repo::ephemeral(&r),
            Kind::Error => repo::error(&r),
            Kind::RemoteSubscriptionChange => repo::remote_subscription_change(&r),
            Kind::RemoteHeadsChanged => repo::remote_heads_changed(&r),
            Kind::GvChanges => extension::changes(&r),
            Kind::GvBuckets => extension::buckets(&r),
            Kind::GvPoll => extension::poll(&r),
            Kind::GvFetchBuckets => extension::fetch_buckets(&r),
            Kind::GvFetchDocs => extension::fetch_docs(&r),
            Kind::GvDocs => extension::docs(&r),
            Kind::GvWatch => extension::watch(&r),
            Kind::GvFigures => extension::figures(&r),
        }
    }

    /// Encodes this message as one frame, keys in the order the JS packages use.
    pub fn encode(&self) -> Vec<u8> {
        let fields = match self {
            Self::Join {
                sender_id,
                peer_metadata,
                supported_protocol_versions,
            } => repo::join_fields(
                sender_id,
                peer_metadata.as_ref(),
                supported_protocol_versions,
            ),
            Self::Peer {
                sender_id,
                peer_metadata,
                selected_protocol_version,
                target_id,
            } => repo::peer_fields(
                sender_id,
                peer_metadata.as_ref(),
                selected_protocol_version,
                target_id,
            ),
            Self::Leave { sender_id } => {
                vec![reader::field("senderId", Cbor::text(sender_id.as_str()))]
            }
            Self::Request {
                target_id,
                document_id,
                data,
                sender_id,
            } => repo::request_fields(target_id, document_id, data, sender_id),
            Self::Sync {
                target_id,
                document_id,
                data,
                sender_id,
            } => repo::sync_fields(target_id, document_id, data, sender_id),
            Self::DocUnavailable {
                document_id,
                target_id,
                sender_id,
            } => repo::doc_unavailable_fields(document_id, target_id, sender_id),
            Self::Ephemeral {
                target_id,
                document_id,
                data,
                count,
                session_id,
                sender_id,
            } => repo::ephemeral_fields(repo::EphemeralFields {
                target_id,
                document_id,
                data,
                count: *count,
                session_id,
                sender_id,
            }),
            Self::Error {
                sender_id,
                message,
                target_id,
                document_id,
            } => repo::error_fields(
                sender_id.as_ref(),
                message,
                target_id.as_ref(),
                document_id.as_ref(),
            ),
            Self::RemoteSubscriptionChange {
                target_id,
                add,
                remove,
                sender_id,
            } => repo::remote_subscription_change_fields(
                target_id,
                add.as_deref(),
                remove.as_deref(),
                sender_id,
            ),
            Self::RemoteHeadsChanged {
                target_id,
                document_id,
                new_heads,
                sender_id,
            } => repo::remote_heads_changed_fields(target_id, document_id, new_heads, sender_id),
            Self::GvChanges { docs, cursor } => extension::changes_fields(docs, cursor),
            Self::GvBuckets { digests, cursor } => extension::buckets_fields(digests, cursor),
            Self::GvPoll { cursor } => extension::poll_fields(cursor),
            Self::GvFetchBuckets { buckets } | Self::GvFetchDocs { buckets } => {
                extension::fetch_buckets_fields(buckets)
            }
            Self::GvDocs { docs, total } => extension::docs_fields(docs, *total),
            Self::GvWatch { area } => vec![reader::field("area", Cbor::text(area))],
            Self::GvFigures { area, at, figures } => extension::figures_fields(area, *at, figures),
        };
        let mut all = Vec::with_capacity(fields.len() + 1);
        all.push(reader::field("type", Cbor::text(self.kind().as_str())));
        all.extend(fields);
        cbor::encode(&Cbor::Map(all))
    }
}
