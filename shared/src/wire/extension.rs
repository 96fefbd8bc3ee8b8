//! gridvisit's extension messages (`gv-*`, see `PROTOCOL.md`): each one's decoder and fields.

use super::WireError;
use super::cbor::Cbor;
use super::message::{Cursor, DocDigest, Message};
use super::reader::{Fields, Reader, cursor_cbor, field};
use crate::ids::DocumentId;

/// Bytes per entry of a `gv-changes` listing: 16 of document ID, 8 of heads digest.
const ENTRY: usize = 24;

pub(super) fn changes(r: &Reader<'_>) -> Result<Message, WireError> {
    let docs = match r.req("docs")? {
        Cbor::Bytes(b) if b.len() % ENTRY == 0 => b
            .chunks_exact(ENTRY)
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
    };
    Ok(Message::GvChanges {
        docs,
        cursor: r.cursor("cursor")?,
    })
}

pub(super) fn buckets(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::GvBuckets {
        digests: r.bytes("digests")?,
        cursor: r.cursor("cursor")?,
    })
}

pub(super) fn poll(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::GvPoll {
        cursor: r.cursor("cursor")?,
    })
}

pub(super) fn fetch_buckets(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::GvFetchBuckets {
        buckets: r.list("buckets", |i| match i {
            Cbor::Uint(n) => Some(*n),
            _ => None,
        })?,
    })
}

pub(super) fn changes_fields(docs: &[DocDigest], cursor: &Cursor) -> Fields {
    let mut packed = Vec::with_capacity(docs.len() * ENTRY);
    for d in docs {
        packed.extend(d.doc.as_bytes());
        packed.extend(d.heads);
    }
    vec![
        field("docs", Cbor::Bytes(packed)),
        field("cursor", cursor_cbor(cursor)),
    ]
}

pub(super) fn buckets_fields(digests: &[u8], cursor: &Cursor) -> Fields {
    vec![
        field("digests", Cbor::Bytes(digests.to_vec())),
        field("cursor", cursor_cbor(cursor)),
    ]
}

pub(super) fn poll_fields(cursor: &Cursor) -> Fields {
    vec![field("cursor", cursor_cbor(cursor))]
}

pub(super) fn fetch_buckets_fields(buckets: &[u64]) -> Fields {
    vec![field(
        "buckets",
        Cbor::Array(buckets.iter().map(|b| Cbor::Uint(*b)).collect()),
    )]
}
