//! The scope-level change feed behind gridvisit's extension: heads digests, buckets, and the
//! queries a server's storage answers.
//!
//! A server numbers every durable change with the next sequence number of its database (its
//! *epoch* names the database). A client that completed a sync keeps the [`Cursor`] it was
//! given; on reconnect it hands the cursor back and hears only about documents whose latest
//! sequence number is newer: the cost is O(documents changed). When a cursor cannot be used
//! (another epoch, or none yet) the server falls back to per-bucket digests of its documents'
//! heads, and only buckets that differ are listed.

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

use crate::ids::DocumentId;
use crate::sync::holding::Holding;
use crate::wire::{Cursor, DocDigest};

/// How many buckets the digest fallback splits documents into.
pub const BUCKETS: usize = 64;

/// An 8-byte digest of a set of heads (order does not matter).
pub fn heads_digest(heads: &[ChangeHash]) -> [u8; 8] {
    let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for head in sorted {
        h.update(head.0);
    }
    let full = h.finalize();
    let mut out = [0; 8];
    out.copy_from_slice(&full[..8]);
    out
}

/// The bucket a document falls in.
pub fn bucket_of(doc: &DocumentId) -> usize {
    usize::from(doc.as_bytes()[0]) % BUCKETS
}

/// Per-bucket digests of a set of documents: XOR of a hash of each `(document, heads)` pair, so
/// the result ignores order and can be maintained incrementally.
pub fn bucket_digests<'a>(docs: impl IntoIterator<Item = (&'a DocumentId, [u8; 8])>) -> Vec<u8> {
    let mut out = vec![0u8; BUCKETS * 8];
    for (doc, heads) in docs {
        let mut h = Sha256::new();
        h.update(doc.as_bytes());
        h.update(heads);
        let d = h.finalize();
        let b = bucket_of(doc) * 8;
        for i in 0..8 {
            out[b + i] ^= d[i];
        }
    }
    out
}

/// The buckets whose digests differ.
pub fn differing_buckets(ours: &[u8], theirs: &[u8]) -> Vec<u64> {
    (0..BUCKETS)
        .filter(|&b| ours.get(b * 8..b * 8 + 8) != theirs.get(b * 8..b * 8 + 8))
        .map(|b| b as u64)
        .collect()
}

/// A question the engine asks the server's storage about its change feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedQuery {
    /// Documents the device holds changed after `cursor`; with no usable cursor, the bucket
    /// digests of what it should hold.
    Since {
        /// What the device holds.
        holding: Holding,
        /// The client's cursor.
        cursor: Option<Cursor>,
    },
    /// Every document the device holds that falls in `buckets`.
    Buckets {
        /// What the device holds.
        holding: Holding,
        /// Bucket numbers.
        buckets: Vec<u64>,
    },
    /// As `Buckets`, with the saved bytes of the listed documents, up to [`BULK_MAX_BYTES`]
    /// in all (a first sync in bulk).
    Documents {
        /// What the device holds.
        holding: Holding,
        /// Bucket numbers.
        buckets: Vec<u64>,
    },
}

impl FeedQuery {
    /// What the device holds.
    pub fn holding(&self) -> &Holding {
        match self {
            Self::Since { holding, .. }
            | Self::Buckets { holding, .. }
            | Self::Documents { holding, .. } => holding,
        }
    }
}

/// The most saved bytes one [`FeedQuery::Documents`] answer carries; documents past it are
/// listed only, and the client syncs them one by one.
pub const BULK_MAX_BYTES: usize = 32 * 1024 * 1024;

/// The saved bytes one `gv-docs` frame carries, about (a single larger document goes alone):
/// no more than the server's socket write buffer, which keeps the capacity of the largest frame
/// it ever wrote for as long as the connection lasts (tungstenite never shrinks it), and small
/// enough that a phone stores and shows each batch as it comes; 3,000 records are some seventy
/// frames.
pub const BULK_BATCH_BYTES: usize = 16 * 1024;

/// The storage's answer to a [`FeedQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedAnswer {
    /// These documents (with digests of their heads), and the cursor as of the answer.
    Changes {
        /// Documents.
        docs: Vec<DocDigest>,
        /// The feed position this listing is complete up to.
        cursor: Cursor,
    },
    /// The answer to [`FeedQuery::Documents`]: the listing, and the saved bytes of the listed
    /// documents up to [`BULK_MAX_BYTES`].
    Documents {
        /// Documents (with digests of their heads).
        docs: Vec<DocDigest>,
        /// Saved bytes of listed documents, in listing order.
        saved: Vec<(crate::ids::DocumentId, Vec<u8>)>,
        /// The feed position this listing is complete up to.
        cursor: Cursor,
    },
    /// The cursor could not be used: digests of every bucket in scope.
    Buckets {
        /// `BUCKETS` × 8 bytes.
        digests: Vec<u8>,
        /// The feed position these digests reflect.
        cursor: Cursor,
    },
}
