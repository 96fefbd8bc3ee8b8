//! automerge-repo's messages (protocol "1"): each one's decoder and the fields it writes, in
//! the order the JS packages write them.

use super::WireError;
use super::cbor::Cbor;
use super::message::{Message, PeerMetadata, RemoteHeads};
use super::reader::{Fields, Reader, as_text, doc_cbor, field, metadata_cbor, peer_cbor};
use crate::ids::{DocumentId, PeerId, StorageId};

pub(super) fn join(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::Join {
        sender_id: r.peer("senderId")?,
        peer_metadata: r.metadata()?,
        supported_protocol_versions: match r.req("supportedProtocolVersions")? {
            // The CDDL allows a bare string.
            Cbor::Text(s) => vec![s.clone()],
            _ => r.list("supportedProtocolVersions", as_text)?,
        },
    })
}

pub(super) fn peer(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::Peer {
        sender_id: r.peer("senderId")?,
        peer_metadata: r.metadata()?,
        selected_protocol_version: r.text("selectedProtocolVersion")?.to_owned(),
        target_id: r.peer("targetId")?,
    })
}

pub(super) fn leave(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::Leave {
        sender_id: r.peer("senderId")?,
    })
}

/// `request` and `sync` carry the same fields.
fn doc_message(r: &Reader<'_>) -> Result<(PeerId, DocumentId, Vec<u8>, PeerId), WireError> {
    Ok((
        r.peer("targetId")?,
        r.doc("documentId")?,
        r.bytes("data")?,
        r.peer("senderId")?,
    ))
}

pub(super) fn request(r: &Reader<'_>) -> Result<Message, WireError> {
    let (target_id, document_id, data, sender_id) = doc_message(r)?;
    Ok(Message::Request {
        target_id,
        document_id,
        data,
        sender_id,
    })
}

pub(super) fn sync(r: &Reader<'_>) -> Result<Message, WireError> {
    let (target_id, document_id, data, sender_id) = doc_message(r)?;
    Ok(Message::Sync {
        target_id,
        document_id,
        data,
        sender_id,
    })
}

pub(super) fn doc_unavailable(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::DocUnavailable {
        document_id: r.doc("documentId")?,
        target_id: r.peer("targetId")?,
        sender_id: r.peer("senderId")?,
    })
}

pub(super) fn ephemeral(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::Ephemeral {
        target_id: r.peer("targetId")?,
        document_id: r.doc("documentId")?,
        data: r.bytes("data")?,
        count: r.uint("count")?,
        session_id: r.text("sessionId")?.to_owned(),
        sender_id: r.peer("senderId")?,
    })
}

pub(super) fn error(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::Error {
        sender_id: r.opt_peer("senderId")?,
        message: r.text("message")?.to_owned(),
        target_id: r.opt_peer("targetId")?,
        document_id: r.opt_text("documentId")?.map(str::parse).transpose()?,
    })
}

pub(super) fn remote_subscription_change(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::RemoteSubscriptionChange {
        target_id: r.peer("targetId")?,
        add: r.storage_ids("add")?,
        remove: r.storage_ids("remove")?,
        sender_id: r.peer("senderId")?,
    })
}

pub(super) fn remote_heads_changed(r: &Reader<'_>) -> Result<Message, WireError> {
    let Cbor::Map(entries) = r.req("newHeads")? else {
        return Err(r.wrong("newHeads"));
    };
    let new_heads = entries
        .iter()
        .map(|(k, v)| {
            let (Cbor::Text(sid), Cbor::Map(_)) = (k, v) else {
                return Err(r.wrong("newHeads"));
            };
            let h = r.nested(v);
            Ok(RemoteHeads {
                storage_id: StorageId::new(sid.as_str())?,
                heads: h.list("heads", as_text)?,
                timestamp: h.uint("timestamp")?,
            })
        })
        .collect::<Result<_, WireError>>()?;
    Ok(Message::RemoteHeadsChanged {
        target_id: r.peer("targetId")?,
        document_id: r.doc("documentId")?,
        new_heads,
        sender_id: r.peer("senderId")?,
    })
}

/// `join` and `peer` write their optional metadata between the sender and the rest.
fn with_metadata(sender: &PeerId, meta: Option<&PeerMetadata>) -> Fields {
    let mut v = vec![field("senderId", peer_cbor(sender))];
    if let Some(m) = meta {
        v.push(field("peerMetadata", metadata_cbor(m)));
    }
    v
}

pub(super) fn join_fields(
    sender_id: &PeerId,
    peer_metadata: Option<&PeerMetadata>,
    versions: &[String],
) -> Fields {
    let mut v = with_metadata(sender_id, peer_metadata);
    v.push(field(
        "supportedProtocolVersions",
        Cbor::Array(versions.iter().map(|s| Cbor::text(s.as_str())).collect()),
    ));
    v
}

pub(super) fn peer_fields(
    sender_id: &PeerId,
    peer_metadata: Option<&PeerMetadata>,
    selected: &str,
    target_id: &PeerId,
) -> Fields {
    let mut v = with_metadata(sender_id, peer_metadata);
    v.push(field("selectedProtocolVersion", Cbor::text(selected)));
    v.push(field("targetId", peer_cbor(target_id)));
    v
}

pub(super) fn request_fields(
    target_id: &PeerId,
    document_id: &DocumentId,
    data: &[u8],
    sender_id: &PeerId,
) -> Fields {
    vec![
        field("targetId", peer_cbor(target_id)),
        field("documentId", doc_cbor(document_id)),
        field("data", Cbor::Bytes(data.to_vec())),
        field("senderId", peer_cbor(sender_id)),
    ]
}

/// automerge-repo writes `data` before `documentId` in sync messages.
pub(super) fn sync_fields(
    target_id: &PeerId,
    document_id: &DocumentId,
    data: &[u8],
    sender_id: &PeerId,
) -> Fields {
    vec![
        field("targetId", peer_cbor(target_id)),
        field("data", Cbor::Bytes(data.to_vec())),
        field("documentId", doc_cbor(document_id)),
        field("senderId", peer_cbor(sender_id)),
    ]
}

pub(super) fn doc_unavailable_fields(
    document_id: &DocumentId,
    target_id: &PeerId,
    sender_id: &PeerId,
) -> Fields {
    vec![
        field("documentId", doc_cbor(document_id)),
        field("targetId", peer_cbor(target_id)),
        field("senderId", peer_cbor(sender_id)),
    ]
}

pub(super) struct EphemeralFields<'a> {
    pub(super) target_id: &'a PeerId,
    pub(super) document_id: &'a DocumentId,
    pub(super) data: &'a [u8],
    pub(super) count: u64,
    pub(super) session_id: &'a str,
    pub(super) sender_id: &'a PeerId,
}

pub(super) fn ephemeral_fields(e: EphemeralFields<'_>) -> Fields {
    vec![
        field("targetId", peer_cbor(e.target_id)),
        field("documentId", doc_cbor(e.document_id)),
        field("data", Cbor::Bytes(e.data.to_vec())),
        field("count", Cbor::js_number(e.count)),
        field("sessionId", Cbor::text(e.session_id)),
        field("senderId", peer_cbor(e.sender_id)),
    ]
}

pub(super) fn error_fields(
    sender_id: Option<&PeerId>,
    message: &str,
    target_id: Option<&PeerId>,
    document_id: Option<&DocumentId>,
) -> Fields {
    let mut v = Vec::new();
    if let Some(s) = sender_id {
        v.push(field("senderId", peer_cbor(s)));
    }
    v.push(field("message", Cbor::text(message)));
    if let Some(s) = target_id {
        v.push(field("targetId", peer_cbor(s)));
    }
    if let Some(d) = document_id {
        v.push(field("documentId", doc_cbor(d)));
    }
    v
}

pub(super) fn remote_subscription_change_fields(
    target_id: &PeerId,
    add: Option<&[StorageId]>,
    remove: Option<&[StorageId]>,
    sender_id: &PeerId,
) -> Fields {
    let ids = |l: Option<&[StorageId]>| match l {
        None => Cbor::Undefined,
        Some(l) => Cbor::Array(l.iter().map(|s| Cbor::text(s.as_str())).collect()),
    };
    vec![
        field("targetId", peer_cbor(target_id)),
        field("add", ids(add)),
        field("remove", ids(remove)),
        field("senderId", peer_cbor(sender_id)),
    ]
}

pub(super) fn remote_heads_changed_fields(
    target_id: &PeerId,
    document_id: &DocumentId,
    new_heads: &[RemoteHeads],
    sender_id: &PeerId,
) -> Fields {
    let heads = new_heads
        .iter()
        .map(|h| {
            (
                Cbor::text(h.storage_id.as_str()),
                Cbor::map([
                    (
                        "heads",
                        Cbor::Array(h.heads.iter().map(|s| Cbor::text(s.as_str())).collect()),
                    ),
                    ("timestamp", Cbor::js_number(h.timestamp)),
                ]),
            )
        })
        .collect();
    vec![
        field("targetId", peer_cbor(target_id)),
        field("documentId", doc_cbor(document_id)),
        field("newHeads", Cbor::Map(heads)),
        field("senderId", peer_cbor(sender_id)),
    ]
}
