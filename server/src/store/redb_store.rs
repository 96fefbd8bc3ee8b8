//! The embedded store on redb: one file in the data folder, ACID, fsync on commit.

use std::path::Path;

use automerge::Automerge;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use shared::aggregate::Contribution;
use shared::ids::{DocumentId, GridId, Scope};
use shared::sync::feed::{bucket_digests, bucket_of};
use shared::sync::{FeedAnswer, FeedQuery, Quarantine};
use shared::wire::{Cursor, DocDigest};

use super::{Account, ChunkWrite, DocRow, QuarantineRow, Storage, StoreError, TokenRow};

const CHUNKS: TableDefinition<'_, (&[u8], u64), &[u8]> = TableDefinition::new("chunks");
const DOCS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("docs");
const FEED: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("feed");
/// The same feed per grid, so a worker's reconnect scans only its grids' changes.
const GRID_FEED: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("grid_feed");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const ACCOUNTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("accounts");
const TOKENS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("tokens");
const QUARANTINE: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("quarantine");

/// Chunks per document before they are compacted into one saved document.
const COMPACT_AFTER: u64 = 32;

/// The redb-backed store.
pub struct RedbStore {
    db: Database,
    epoch: String,
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(v)?)
}

fn parse<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(b)?)
}

fn doc_id(b: &[u8]) -> Result<DocumentId, StoreError> {
    let arr: [u8; 16] = b.try_into().map_err(|_| StoreError::Key(b.len()))?;
    Ok(DocumentId::from_bytes(arr))
}

fn in_scope(row: &DocRow, scope: &Scope) -> bool {
    grid_in_scope(row.grid.as_deref(), scope)
}

fn grid_in_scope(grid: Option<&str>, scope: &Scope) -> bool {
    grid.and_then(|g| g.parse::<GridId>().ok())
        .is_some_and(|g| scope.contains(&g))
}

/// A feed entry: the document's key, its heads digest and whether it has a grid (the per-grid
/// feed stores the first 24 bytes).
fn feed_entry(doc: &DocumentId, heads: [u8; 8], has_grid: bool) -> [u8; 25] {
    let mut out = [0u8; 25];
    out[..16].copy_from_slice(doc.as_bytes());
    out[16..24].copy_from_slice(&heads);
    out[24] = u8::from(has_grid);
    out
}

fn scope_of(query: &FeedQuery) -> &Scope {
    match query {
        FeedQuery::Since { scope, .. } | FeedQuery::Buckets { scope, .. } => scope,
    }
}

/// The part of a stored row a feed answer reads. Deserializing only this skips over the
/// dashboard contribution, which keeps answering a live client's `gv-poll` cheap.
#[derive(serde::Deserialize)]
struct RowDigest {
    grid: Option<String>,
    heads: [u8; 8],
}

impl RedbStore {
    /// Opens (creating if needed) `dir/gridvisit.redb`. A new database gets a random epoch.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        // A bounded page cache keeps memory flat as the database grows.
        let db = Database::builder()
            .set_cache_size(32 * 1024 * 1024)
            .create(dir.join("gridvisit.redb"))?;
        let tx = db.begin_write()?;
        let epoch = {
            let mut meta = tx.open_table(META)?;
            let existing = meta
                .get("epoch")?
                .map(|v| String::from_utf8_lossy(v.value()).into_owned());
            match existing {
                Some(ep) => ep,
                None => {
                    let mut bytes = [0u8; 12];
                    getrandom::fill(&mut bytes)?;
                    let ep = shared::hex::encode(&bytes);
                    meta.insert("epoch", ep.as_bytes())?;
                    ep
                }
            }
        };
        // Create every table so readers never meet a missing one.
        tx.open_table(CHUNKS)?;
        tx.open_table(DOCS)?;
        tx.open_table(FEED)?;
        tx.open_table(GRID_FEED)?;
        tx.open_table(ACCOUNTS)?;
        tx.open_table(TOKENS)?;
        tx.open_table(QUARANTINE)?;
        tx.commit()?;
        Ok(Self { db, epoch })
    }

    /// The epoch of this database.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The current feed position.
    pub fn seq(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        let feed = tx.open_table(FEED)?;
        Ok(feed.last()?.map_or(0, |(k, _)| k.value()))
    }
}

impl Storage for RedbStore {
    fn commit(
        &self,
        chunks: &[ChunkWrite],
        quarantine: &[Quarantine],
        now: i64,
    ) -> Result<Vec<Option<Contribution>>, StoreError> {
        let tx = self.db.begin_write()?;
        let mut previous = Vec::with_capacity(chunks.len());
        {
            let mut chunk_t = tx.open_table(CHUNKS)?;
            let mut docs = tx.open_table(DOCS)?;
            let mut feed = tx.open_table(FEED)?;
            let mut grid_feed = tx.open_table(GRID_FEED)?;
            let mut next = feed.last()?.map_or(0, |(k, _)| k.value());
            for w in chunks {
                let key = w.doc.as_bytes().as_slice();
                let old: Option<DocRow> = match docs.get(key)? {
                    Some(v) => Some(parse(v.value())?),
                    None => None,
                };
                next += 1;
                previous.push(old.as_ref().and_then(|r| r.contribution.clone()));
                if let Some(old) = &old {
                    feed.remove(old.seq)?;
                    if let Some(g) = &old.grid {
                        grid_feed.remove((g.as_str(), old.seq))?;
                    }
                }
                let mut row = old.unwrap_or(DocRow {
                    seq: 0,
                    kind: None,
                    grid: None,
                    heads: [0; 8],
                    chunks: 0,
                    contribution: None,
                });
                chunk_t.insert((key, row.chunks), w.chunk.as_slice())?;
                row.chunks += 1;
                if row.chunks > COMPACT_AFTER {
                    let mut all = Vec::new();
                    for i in 0..row.chunks {
                        if let Some(c) = chunk_t.remove((key, i))? {
                            all.extend_from_slice(c.value());
                        }
                    }
                    let saved = Automerge::load(&all)?.save();
                    chunk_t.insert((key, 0), saved.as_slice())?;
                    row.chunks = 1;
                }
                row.seq = next;
                row.heads = w.heads;
                if let Some(meta) = &w.meta {
                    row.kind = Some(meta.kind.to_string());
                    row.grid = Some(meta.grid.to_string());
                }
                row.contribution = w.contribution.clone();
                docs.insert(key, json(&row)?.as_slice())?;
                let entry = feed_entry(&w.doc, row.heads, row.grid.is_some());
                feed.insert(next, entry.as_slice())?;
                if let Some(g) = &row.grid {
                    grid_feed.insert((g.as_str(), next), &entry[..24])?;
                }
            }
            let mut q = tx.open_table(QUARANTINE)?;
            let mut qn = q.last()?.map_or(0, |(k, _)| k.value());
            for item in quarantine {
                qn += 1;
                let row = QuarantineRow {
                    id: qn,
                    at: now,
                    user: item.user.clone(),
                    doc: item.doc,
                    reason: item.reason.to_string(),
                    bytes: item.chunk.len(),
                    chunk_hex: shared::hex::encode(&item.chunk),
                };
                q.insert(qn, json(&row)?.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(previous)
    }

    fn for_each_row(&self, f: &mut dyn FnMut(DocumentId, DocRow)) -> Result<(), StoreError> {
        let tx = self.db.begin_read()?;
        let docs = tx.open_table(DOCS)?;
        for item in docs.iter()? {
            let (k, v) = item?;
            f(doc_id(k.value())?, parse(v.value())?);
        }
        Ok(())
    }

    fn load(&self, doc: &DocumentId) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read()?;
        let chunks = tx.open_table(CHUNKS)?;
        let key = doc.as_bytes().as_slice();
        let mut out = Vec::new();
        let mut any = false;
        for item in chunks.range((key, 0)..=(key, u64::MAX))? {
            let (_, v) = item?;
            out.extend_from_slice(v.value());
            any = true;
        }
        Ok(any.then_some(out))
    }

    fn row(&self, doc: &DocumentId) -> Result<Option<DocRow>, StoreError> {
        let tx = self.db.begin_read()?;
        let docs = tx.open_table(DOCS)?;
        docs.get(doc.as_bytes().as_slice())?
            .map(|v| parse(v.value()))
            .transpose()
    }

    fn answer(&self, query: &FeedQuery) -> Result<FeedAnswer, StoreError> {
        let tx = self.db.begin_read()?;
        let feed = tx.open_table(FEED)?;
        let docs = tx.open_table(DOCS)?;
        let seq = feed.last()?.map_or(0, |(k, _)| k.value());
        let cursor = Cursor {
            epoch: self.epoch.clone(),
            seq,
        };
        let row_of = |key: &[u8]| -> Result<Option<RowDigest>, StoreError> {
            docs.get(key)?.map(|v| parse(v.value())).transpose()
        };
        // Every document of the scope changed after `after`, with its heads, from the feeds
        // alone: each entry carries the document's heads, so no row is decoded. (Entries written
        // before they carried heads hold only the document's key; those rows are read.)
        let grid_feed = tx.open_table(GRID_FEED)?;
        let entries = |after: u64| -> Result<Vec<DocDigest>, StoreError> {
            let mut out = Vec::new();
            let mut take = |v: &[u8], in_feed: bool| -> Result<(), StoreError> {
                let doc = doc_id(&v[..16.min(v.len())])?;
                if v.len() >= 24 {
                    // The feed lists documents without a grid too: no scope holds them.
                    if !in_feed || v.get(24) == Some(&1) {
                        let mut heads = [0u8; 8];
                        heads.copy_from_slice(&v[16..24]);
                        out.push(DocDigest { doc, heads });
                    }
                } else if let Some(row) = row_of(v)?
                    && grid_in_scope(row.grid.as_deref(), scope_of(query))
                {
                    out.push(DocDigest {
                        doc,
                        heads: row.heads,
                    });
                }
                Ok(())
            };
            // Grid paths sort by street, then community: a street or community is one
            // contiguous range of the per-grid feed ('0' is the byte after '/').
            let mut scan = |lo: &str, hi: &str, exact: bool| -> Result<(), StoreError> {
                for item in grid_feed.range((lo, after + 1)..(hi, 0))? {
                    let (k, v) = item?;
                    let (g, s) = k.value();
                    if s > after && (!exact || g == lo) {
                        take(v.value(), false)?;
                    }
                }
                Ok(())
            };
            match scope_of(query) {
                Scope::City => {
                    for item in feed.range(after + 1..)? {
                        let (_, v) = item?;
                        take(v.value(), true)?;
                    }
                }
                Scope::Street(s) => scan(&format!("{s}/"), &format!("{s}0"), false)?,
                Scope::Community(cm) => scan(&format!("{cm}/"), &format!("{cm}0"), false)?,
                Scope::Grids(gs) => {
                    for g in gs {
                        let lo = g.as_str();
                        scan(lo, &format!("{lo}\u{0}"), true)?;
                    }
                }
            }
            Ok(out)
        };
        match query {
            FeedQuery::Since {
                cursor: Some(c), ..
            } if c.epoch == self.epoch && c.seq <= seq => Ok(FeedAnswer::Changes {
                docs: entries(c.seq)?,
                cursor,
            }),
            FeedQuery::Since { .. } => Ok(FeedAnswer::Buckets {
                digests: bucket_digests(entries(0)?.iter().map(|d| (&d.doc, d.heads))),
                cursor,
            }),
            FeedQuery::Buckets { buckets, .. } => {
                let mut docs = entries(0)?;
                docs.retain(|d| buckets.contains(&(bucket_of(&d.doc) as u64)));
                Ok(FeedAnswer::Changes { docs, cursor })
            }
        }
    }

    fn rows(
        &self,
        scope: &Scope,
        kind: Option<&str>,
    ) -> Result<Vec<(DocumentId, DocRow)>, StoreError> {
        let tx = self.db.begin_read()?;
        let docs = tx.open_table(DOCS)?;
        let mut out = Vec::new();
        for item in docs.iter()? {
            let (k, v) = item?;
            let row: DocRow = parse(v.value())?;
            if in_scope(&row, scope) && kind.is_none_or(|k| row.kind.as_deref() == Some(k)) {
                out.push((doc_id(k.value())?, row));
            }
        }
        Ok(out)
    }

    fn doc_count(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(DOCS)?.len()?)
    }

    fn account(&self, user: &str) -> Result<Option<Account>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ACCOUNTS)?;
        t.get(user)?.map(|v| parse(v.value())).transpose()
    }

    fn put_accounts(&self, accounts: &[Account]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(ACCOUNTS)?;
            for a in accounts {
                t.insert(a.principal.user.as_str(), json(a)?.as_slice())?;
            }
        }
        Ok(tx.commit()?)
    }

    fn put_token(&self, token: &str, row: &TokenRow) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(TOKENS)?;
            t.insert(token, json(row)?.as_slice())?;
        }
        Ok(tx.commit()?)
    }

    fn token(&self, token: &str) -> Result<Option<TokenRow>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(TOKENS)?;
        t.get(token)?.map(|v| parse(v.value())).transpose()
    }

    fn quarantine(&self, limit: usize) -> Result<Vec<QuarantineRow>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(QUARANTINE)?;
        let mut out = Vec::new();
        for item in t.iter()?.rev().take(limit) {
            let (_, v) = item?;
            out.push(parse(v.value())?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ids::GridId;
    use shared::model::{RecordKind, RecordMeta};

    #[test]
    fn chunks_compact_and_the_feed_lists_only_newer_changes() {
        let dir = std::env::temp_dir().join(format!("gv-redb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = RedbStore::open(&dir).expect("open");
        let grid: GridId = "s01/c01/g01".parse().expect("grid");
        let mut doc = Automerge::new();
        let id = DocumentId::from_bytes([3; 16]);
        for i in 0..40i64 {
            let before = doc.get_heads();
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                automerge::transaction::Transactable::put(tx, automerge::ROOT, "n", i)
            })
            .expect("edit");
            let w = ChunkWrite {
                doc: id,
                chunk: doc.save_after(&before),
                heads: shared::sync::heads_digest(&doc.get_heads()),
                meta: Some(RecordMeta {
                    kind: RecordKind::Household,
                    grid: grid.clone(),
                }),
                contribution: None,
            };
            store.commit(&[w], &[], 0).expect("commit");
        }
        let row = store.row(&id).expect("row").expect("present");
        assert!(row.chunks <= COMPACT_AFTER, "compacted: {}", row.chunks);
        let loaded =
            Automerge::load(&store.load(&id).expect("load").expect("present")).expect("valid");
        assert_eq!(loaded.get_heads(), doc.get_heads());
        let cursor = Cursor {
            epoch: store.epoch().to_owned(),
            seq: 40,
        };
        let since = |c: &Cursor| {
            store
                .answer(&FeedQuery::Since {
                    scope: Scope::City,
                    cursor: Some(c.clone()),
                })
                .expect("answer")
        };
        assert!(matches!(since(&cursor), FeedAnswer::Changes { docs, .. } if docs.is_empty()));
        let earlier = Cursor {
            seq: 39,
            ..cursor.clone()
        };
        assert!(matches!(since(&earlier), FeedAnswer::Changes { docs, .. } if docs.len() == 1));
        let other = Cursor {
            epoch: "other".into(),
            seq: 1,
        };
        assert!(matches!(since(&other), FeedAnswer::Buckets { .. }));
        drop(store);
        let reopened = RedbStore::open(&dir).expect("reopen");
        assert_eq!(reopened.seq().expect("seq"), 40);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn area_feeds_list_exactly_the_documents_changed_after_the_cursor() {
        let dir = std::env::temp_dir().join(format!("gv-redb-area-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = RedbStore::open(&dir).expect("open");
        let grids: Vec<GridId> = ["s01/c01/g01", "s01/c01/g02", "s01/c02/g01", "s02/c01/g01"]
            .iter()
            .map(|g| g.parse().expect("grid"))
            .collect();
        // Twelve documents, three per grid, each changed at several times: (doc, seq) log.
        let mut docs: Vec<(DocumentId, Automerge)> = (0..12u8)
            .map(|i| (DocumentId::from_bytes([i + 1; 16]), Automerge::new()))
            .collect();
        let mut last_seq = std::collections::HashMap::new();
        for round in 0..30u64 {
            let i = ((round * 7 + 3) % 12) as usize;
            let (id, doc) = &mut docs[i];
            let before = doc.get_heads();
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                automerge::transaction::Transactable::put(tx, automerge::ROOT, "n", round as i64)
            })
            .expect("edit");
            let w = ChunkWrite {
                doc: *id,
                chunk: doc.save_after(&before),
                heads: shared::sync::heads_digest(&doc.get_heads()),
                meta: Some(RecordMeta {
                    kind: RecordKind::Household,
                    grid: grids[i % 4].clone(),
                }),
                contribution: None,
            };
            store.commit(&[w], &[], 0).expect("commit");
            last_seq.insert(i, round + 1);
        }
        let scopes: Vec<Scope> = [
            "street:s01",
            "community:s01/c01",
            "grids:s01/c02/g01",
            "city",
        ]
        .iter()
        .map(|s| s.parse().expect("scope"))
        .collect();
        for scope in &scopes {
            for at in [0u64, 5, 17, 29, 30] {
                let answer = store
                    .answer(&FeedQuery::Since {
                        scope: scope.clone(),
                        cursor: Some(Cursor {
                            epoch: store.epoch().to_owned(),
                            seq: at,
                        }),
                    })
                    .expect("answer");
                let FeedAnswer::Changes { docs: got, .. } = answer else {
                    panic!("a listing for {scope} at {at}");
                };
                let mut got: Vec<DocumentId> = got.iter().map(|d| d.doc).collect();
                got.sort();
                let mut want: Vec<DocumentId> = last_seq
                    .iter()
                    .filter(|(i, seq)| **seq > at && scope.contains(&grids[**i % 4]))
                    .map(|(i, _)| docs[*i].0)
                    .collect();
                want.sort();
                assert_eq!(got, want, "{scope} since {at}");
            }
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
