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

fn bucket_list(r: &Reader<'_>) -> Result<Vec<u64>, WireError> {
    r.list("buckets", |i| match i {
        Cbor::Uint(n) => Some(*n),
        _ => None,
    })
}

pub(super) fn fetch_buckets(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::GvFetchBuckets {
        buckets: bucket_list(r)?,
    })
}

pub(super) fn fetch_docs(r: &Reader<'_>) -> Result<Message, WireError> {
    Ok(Message::GvFetchDocs {
        buckets: bucket_list(r)?,
    })
}

/// `gv-docs`: `ids` packs the documents' 16-byte IDs, `data` lists their saved bytes in the
/// same order.
pub(super) fn docs(r: &Reader<'_>) -> Result<Message, WireError> {
    let ids = match r.req("ids")? {
        Cbor::Bytes(b) if b.len() % 16 == 0 => b,
        _ => return Err(r.wrong("ids")),
    };
    let data = match r.req("data")? {
        Cbor::Array(items) if items.len() == ids.len() / 16 => items,
        _ => return Err(r.wrong("data")),
    };
    let docs = ids
        .chunks_exact(16)
        .zip(data)
        .map(|(id, bytes)| {
            let mut doc = [0; 16];
            doc.copy_from_slice(id);
            match bytes {
                Cbor::Bytes(b) => Ok((DocumentId::from_bytes(doc), b.clone())),
                _ => Err(r.wrong("data")),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Message::GvDocs {
        docs,
        total: r.uint("total")?,
    })
}

pub(super) fn docs_fields(docs: &[(DocumentId, Vec<u8>)], total: u64) -> Fields {
    let ids: Vec<u8> = docs.iter().flat_map(|(d, _)| *d.as_bytes()).collect();
    vec![
        field("ids", Cbor::Bytes(ids)),
        field(
            "data",
            Cbor::Array(docs.iter().map(|(_, b)| Cbor::Bytes(b.clone())).collect()),
        ),
        field("total", Cbor::Uint(total)),
    ]
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

/// Longest area path a `gv-watch` may name.
const MAX_AREA: usize = 200;

pub(super) fn watch(r: &Reader<'_>) -> Result<Message, WireError> {
    let area = r.text("area")?;
    if area.len() > MAX_AREA {
        return Err(r.wrong("area"));
    }
    Ok(Message::GvWatch {
        area: area.to_owned(),
    })
}

pub(super) fn figures(r: &Reader<'_>) -> Result<Message, WireError> {
    let at = match r.req("at")? {
        Cbor::Uint(n) => i64::try_from(*n).map_err(|_| r.wrong("at"))?,
        _ => return Err(r.wrong("at")),
    };
    Ok(Message::GvFigures {
        area: r.text("area")?.to_owned(),
        at,
        figures: r.bytes("figures")?,
    })
}

pub(super) fn figures_fields(area: &str, at: i64, figures: &[u8]) -> Fields {
    vec![
        field("area", Cbor::text(area)),
        field("at", Cbor::Uint(at.max(0).unsigned_abs())),
        field("figures", Cbor::Bytes(figures.to_vec())),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::{DEFAULT_MAX_FRAME, WireError};
    use super::*;

    #[test]
    fn bulk_messages_round_trip_and_a_batch_whose_parts_disagree_is_refused() {
        let docs = vec![
            (DocumentId::from_bytes([1; 16]), vec![1, 2, 3]),
            (DocumentId::from_bytes([2; 16]), Vec::new()),
        ];
        for msg in [
            Message::GvDocs { docs, total: 9 },
            Message::GvFetchDocs {
                buckets: vec![0, 63],
            },
        ] {
            assert_eq!(Message::decode(&msg.encode(), DEFAULT_MAX_FRAME), Ok(msg));
        }
        let frame = |ids: usize, data: usize| {
            let fields = vec![
                field("type", Cbor::text("gv-docs")),
                field("ids", Cbor::Bytes(vec![7; ids])),
                field("data", Cbor::Array(vec![Cbor::Bytes(vec![1]); data])),
                field("total", Cbor::Uint(1)),
            ];
            super::super::cbor::encode(&Cbor::Map(fields))
        };
        let wrong = |field| WireError::WrongType {
            kind: "gv-docs",
            field,
        };
        assert_eq!(
            Message::decode(&frame(16, 2), usize::MAX),
            Err(wrong("data"))
        );
        assert_eq!(
            Message::decode(&frame(15, 1), usize::MAX),
            Err(wrong("ids"))
        );
        assert!(Message::decode(&frame(32, 2), usize::MAX).is_ok());
    }
}
