//! An in-memory store with a change feed: what the in-memory network and the test clients
//! use, and the reference the server's database must agree with. Compiled with the `sim`
//! feature only.

use std::collections::BTreeMap;

use automerge::ChangeHash;

use super::feed::{BULK_MAX_BYTES, FeedAnswer, FeedQuery, bucket_digests, bucket_of, heads_digest};
use super::holding::{Holding, Standing};
use crate::ids::{DocumentId, GridId};
use crate::wire::{Cursor, DocDigest};

/// One stored document in [`MemStore`].
#[derive(Clone, Debug, Default)]
pub struct StoredDoc {
    /// Change chunks in the order they were made durable.
    pub chunks: Vec<Vec<u8>>,
    /// The sequence number of its latest change.
    pub seq: u64,
    /// Its grid, once it is a valid record.
    pub grid: Option<GridId>,
    /// Digest of its heads.
    pub heads: [u8; 8],
    /// Where it stands for holding (`Other` until it is a valid record).
    pub standing: Option<Standing>,
}

/// An in-memory store with a change feed: what the in-memory network and tests use, and the
/// reference the server's database must agree with.
#[derive(Clone, Debug)]
pub struct MemStore {
    epoch: String,
    seq: u64,
    docs: BTreeMap<DocumentId, StoredDoc>,
}

impl MemStore {
    /// An empty store for the database named `epoch`.
    pub fn new(epoch: impl Into<String>) -> Self {
        Self {
            epoch: epoch.into(),
            seq: 0,
            docs: BTreeMap::new(),
        }
    }

    /// Makes one change chunk durable and moves the feed forward.
    pub fn append(
        &mut self,
        doc: DocumentId,
        chunk: Vec<u8>,
        heads: &[ChangeHash],
        grid: Option<GridId>,
        standing: Option<Standing>,
    ) {
        self.seq += 1;
        let entry = self.docs.entry(doc).or_default();
        entry.chunks.push(chunk);
        entry.seq = self.seq;
        entry.heads = heads_digest(heads);
        if grid.is_some() {
            entry.grid = grid;
        }
        if standing.is_some() {
            entry.standing = standing;
        }
    }

    /// The saved bytes of a document (all chunks; `Automerge::load` accepts the concatenation).
    pub fn load(&self, doc: &DocumentId) -> Option<Vec<u8>> {
        self.docs.get(doc).map(|d| d.chunks.concat())
    }

    /// Every stored document.
    pub fn docs(&self) -> impl Iterator<Item = (&DocumentId, &StoredDoc)> {
        self.docs.iter()
    }

    /// The current feed position.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            epoch: self.epoch.clone(),
            seq: self.seq,
        }
    }

    fn in_scope<'a>(
        &'a self,
        holding: &'a Holding,
    ) -> impl Iterator<Item = (&'a DocumentId, &'a StoredDoc)> {
        self.docs.iter().filter(move |(_, d)| {
            d.grid.as_ref().is_some_and(|g| holding.scope.contains(g))
                && holding.holds(d.standing.unwrap_or(Standing::Other))
        })
    }

    /// Answers a feed query.
    pub fn answer(&self, query: &FeedQuery) -> FeedAnswer {
        match query {
            FeedQuery::Since {
                holding,
                cursor: Some(c),
            } if c.epoch == self.epoch && c.seq <= self.seq => FeedAnswer::Changes {
                docs: self
                    .in_scope(holding)
                    .filter(|(_, d)| d.seq > c.seq)
                    .map(|(id, d)| DocDigest {
                        doc: *id,
                        heads: d.heads,
                    })
                    .collect(),
                cursor: self.cursor(),
            },
            FeedQuery::Since { holding, .. } => FeedAnswer::Buckets {
                digests: bucket_digests(self.in_scope(holding).map(|(id, d)| (id, d.heads))),
                cursor: self.cursor(),
            },
            FeedQuery::Buckets { holding, buckets } => FeedAnswer::Changes {
                docs: self.in_buckets(holding, buckets),
                cursor: self.cursor(),
            },
            FeedQuery::Documents { holding, buckets } => {
                let docs = self.in_buckets(holding, buckets);
                let mut budget = BULK_MAX_BYTES;
                let saved = (docs.iter())
                    .map_while(|d| {
                        let bytes = self.load(&d.doc)?;
                        budget = budget.checked_sub(bytes.len())?;
                        Some((d.doc, bytes))
                    })
                    .collect();
                FeedAnswer::Documents {
                    docs,
                    saved,
                    cursor: self.cursor(),
                }
            }
        }
    }

    fn in_buckets(&self, holding: &Holding, buckets: &[u64]) -> Vec<DocDigest> {
        self.in_scope(holding)
            .filter(|(id, _)| buckets.contains(&(bucket_of(id) as u64)))
            .map(|(id, d)| DocDigest {
                doc: *id,
                heads: d.heads,
            })
            .collect()
    }
}
