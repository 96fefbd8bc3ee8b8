//! The change feed of [`super::redb_store::RedbStore`]: its entries, the index of open issues,
//! and answering a device's feed query with what that device holds
//! ([`shared::sync::holding`]).
//!
//! Every feed entry carries the document's heads digest and its [`Standing`], so a listing
//! filters by holding without decoding a row. A supervisor's first sync lists its queue from
//! the index of open issues per level, never by scanning its area's whole feed; a month's
//! reviews come from the same index, under each grid they cover, by day.
//!
//! [`Derived`] writes every row derived from a document's row, for commits and rebuilds alike.

use redb::{ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};
use shared::aggregate::Contribution;
use shared::ids::{DocumentId, GridId, Scope};
use shared::model::Level;
use shared::sync::feed::{BULK_MAX_BYTES, bucket_digests, bucket_of};
use shared::sync::{FeedAnswer, FeedQuery, Holding, Keeps, Standing};
use shared::wire::{Cursor, DocDigest};

use super::{DocRow, StoreError};

pub(super) const FEED: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("feed");
/// The same feed per grid, so a worker's reconnect scans only its grids' changes.
pub(super) const GRID_FEED: TableDefinition<'_, (&str, u64), &[u8]> =
    TableDefinition::new("grid_feed");
/// Open issues by level and grid: (level, grid, document) → heads digest; and monthly reviews
/// under [`REVIEW_CLASS`] and each grid they cover: (8, grid, day ++ document) → heads digest.
pub(super) const OPEN: TableDefinition<'_, (u8, &str, &[u8]), &[u8]> =
    TableDefinition::new("open_issues");
pub(super) const DOCS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("docs");
/// What a household search matches, per grid: (grid, document) → lowercase text.
pub(super) const HOUSEHOLD_TEXT: TableDefinition<'_, (&str, &[u8]), &str> =
    TableDefinition::new("household_text");
pub(super) const CHUNKS: TableDefinition<'_, (&[u8], u64), &[u8]> = TableDefinition::new("chunks");

/// Bytes of a feed entry: key 16, heads 8, has-grid 1, standing 9, queue levels 1. The
/// per-grid feed leaves out the has-grid byte.
pub(super) const ENTRY: usize = 35;

/// A feed entry and its per-grid form. `levels`: the queues the issue has been in
/// ([`Holding::lists`]).
pub(super) fn feed_entry(
    doc: &DocumentId,
    heads: [u8; 8],
    has_grid: bool,
    standing: Standing,
    levels: u8,
) -> ([u8; ENTRY], [u8; ENTRY - 1]) {
    let mut out = [0u8; ENTRY];
    out[..16].copy_from_slice(doc.as_bytes());
    out[16..24].copy_from_slice(&heads);
    out[24] = u8::from(has_grid);
    out[25..34].copy_from_slice(&standing.encode());
    out[34] = levels;
    let mut grid = [0u8; ENTRY - 1];
    grid[..24].copy_from_slice(&out[..24]);
    grid[24..].copy_from_slice(&out[25..]);
    (out, grid)
}

/// Where a stored contribution stands (`Other` for none).
pub(super) fn standing_of(c: Option<&Contribution>) -> Standing {
    c.map_or(Standing::Other, Contribution::standing)
}

/// The index class of reviews (classes 0–3 are the levels' queues of open issues).
pub(super) const REVIEW_CLASS: u8 = 8;

/// The index keys of a stored contribution: an open issue's under its level and grid, a
/// review's under each grid it covers (its day first, big-endian, so a month is one range).
fn index_keys(c: Option<&Contribution>, doc: &[u8]) -> Vec<(u8, String, Vec<u8>)> {
    match c {
        Some(Contribution::Issue {
            open: true,
            level,
            grid,
            ..
        }) => vec![(level.index() as u8, grid.to_string(), doc.to_vec())],
        Some(Contribution::Review {
            grid, also, day, ..
        }) => std::iter::once(grid)
            .chain(also)
            .map(|g| {
                let mut k = day.to_be_bytes().to_vec();
                k.extend_from_slice(doc);
                (REVIEW_CLASS, g.to_string(), k)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The tables derived from the document rows, open in one write transaction.
pub(super) struct Derived<'t> {
    pub(super) feed: Table<'t, u64, &'static [u8]>,
    grid_feed: Table<'t, (&'static str, u64), &'static [u8]>,
    index: Table<'t, (u8, &'static str, &'static [u8]), &'static [u8]>,
    text: Table<'t, (&'static str, &'static [u8]), &'static str>,
}

impl<'t> Derived<'t> {
    /// Opens the derived tables of `tx`.
    pub(super) fn open(tx: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            feed: tx.open_table(FEED)?,
            grid_feed: tx.open_table(GRID_FEED)?,
            index: tx.open_table(OPEN)?,
            text: tx.open_table(HOUSEHOLD_TEXT)?,
        })
    }

    /// Takes out what `row` (the document's row before a change) put in.
    pub(super) fn remove(&mut self, doc: &DocumentId, row: &DocRow) -> Result<(), StoreError> {
        self.feed.remove(row.seq)?;
        if let Some(g) = &row.grid {
            self.grid_feed.remove((g.as_str(), row.seq))?;
        }
        for (class, grid, k) in index_keys(row.contribution.as_ref(), doc.as_bytes()) {
            self.index.remove((class, grid.as_str(), k.as_slice()))?;
        }
        Ok(())
    }

    /// Writes what `row` derives: its feed entries at `row.seq`, its index entries, and its
    /// search text, if it has one. Returns its standing.
    pub(super) fn insert(
        &mut self,
        doc: &DocumentId,
        row: &DocRow,
        text: Option<&str>,
    ) -> Result<(), StoreError> {
        let standing = standing_of(row.contribution.as_ref());
        let (entry, grid_entry) =
            feed_entry(doc, row.heads, row.grid.is_some(), standing, row.levels);
        self.feed.insert(row.seq, entry.as_slice())?;
        if let Some(g) = &row.grid {
            self.grid_feed
                .insert((g.as_str(), row.seq), grid_entry.as_slice())?;
        }
        for (class, grid, k) in index_keys(row.contribution.as_ref(), doc.as_bytes()) {
            self.index
                .insert((class, grid.as_str(), k.as_slice()), row.heads.as_slice())?;
        }
        if let (Some(t), Some(g)) = (text, &row.grid) {
            self.text
                .insert((g.as_str(), doc.as_bytes().as_slice()), t)?;
        }
        Ok(())
    }
}

/// The reviews covering grids of `scope` held on local days `lo..=hi`.
pub(super) fn reviews(
    tx: &ReadTransaction,
    scope: &Scope,
    lo: i64,
    hi: i64,
) -> Result<Vec<DocumentId>, StoreError> {
    let index = tx.open_table(OPEN)?;
    let (from, to) = (lo.to_be_bytes(), (hi + 1).to_be_bytes());
    let mut out = std::collections::BTreeSet::new();
    let mut take = |key: &[u8]| -> Result<(), StoreError> {
        if key.len() == 24 && (from.as_slice()..to.as_slice()).contains(&&key[..8]) {
            out.insert(doc_id(&key[8..])?);
        }
        Ok(())
    };
    match ranges(scope) {
        None => {
            let all = (REVIEW_CLASS, "", [].as_slice())..(REVIEW_CLASS + 1, "", [].as_slice());
            for item in index.range(all)? {
                take(item?.0.value().2)?;
            }
        }
        Some(rs) => {
            for (glo, ghi, _) in rs {
                let range = (REVIEW_CLASS, glo.as_str(), [].as_slice())
                    ..(REVIEW_CLASS, ghi.as_str(), [].as_slice());
                for item in index.range(range)? {
                    take(item?.0.value().2)?;
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

fn doc_id(b: &[u8]) -> Result<DocumentId, StoreError> {
    let arr: [u8; 16] = b.try_into().map_err(|_| StoreError::Key(b.len()))?;
    Ok(DocumentId::from_bytes(arr))
}

fn grid_in_scope(grid: Option<&str>, scope: &Scope) -> bool {
    grid.and_then(|g| g.parse::<GridId>().ok())
        .is_some_and(|g| scope.contains(&g))
}

/// The part of a stored row an old feed entry needs read.
#[derive(serde::Deserialize)]
struct RowDigest {
    grid: Option<String>,
    heads: [u8; 8],
    contribution: Option<Contribution>,
    #[serde(default)]
    levels: u8,
}

/// The key ranges of a scope in the per-grid feed and the open-issue index: grid paths sort by
/// street, then community, so a street or community is one contiguous range ('0' is the byte
/// after '/'). `None`: the whole city.
fn ranges(scope: &Scope) -> Option<Vec<(String, String, bool)>> {
    match scope {
        Scope::City => None,
        Scope::Street(s) => Some(vec![(format!("{s}/"), format!("{s}0"), false)]),
        Scope::Community(c) => Some(vec![(format!("{c}/"), format!("{c}0"), false)]),
        Scope::Grids(gs) => Some(
            gs.iter()
                .map(|g| (g.to_string(), format!("{g}\u{0}"), true))
                .collect(),
        ),
    }
}

/// Answers a feed query from the committed state `tx` reads.
pub(super) fn answer(
    tx: &ReadTransaction,
    epoch: &str,
    query: &FeedQuery,
) -> Result<FeedAnswer, StoreError> {
    let feed = tx.open_table(FEED)?;
    let seq = feed.last()?.map_or(0, |(k, _)| k.value());
    let cursor = Cursor {
        epoch: epoch.to_owned(),
        seq,
    };
    let holding = query.holding();
    let listing = |after: u64| -> Result<Vec<DocDigest>, StoreError> {
        match holding.keeps {
            Keeps::Queue(level) if after == 0 => queue(tx, holding, level),
            Keeps::Nothing if after == 0 => Ok(Vec::new()),
            _ => changed(tx, holding, after),
        }
    };
    match query {
        FeedQuery::Since {
            cursor: Some(c), ..
        } if c.epoch == epoch && c.seq <= seq => Ok(FeedAnswer::Changes {
            docs: listing(c.seq)?,
            cursor,
        }),
        FeedQuery::Since { .. } => Ok(FeedAnswer::Buckets {
            digests: bucket_digests(listing(0)?.iter().map(|d| (&d.doc, d.heads))),
            cursor,
        }),
        FeedQuery::Buckets { buckets, .. } => {
            let mut docs = listing(0)?;
            docs.retain(|d| buckets.contains(&(bucket_of(&d.doc) as u64)));
            Ok(FeedAnswer::Changes { docs, cursor })
        }
        FeedQuery::Documents { buckets, .. } => {
            let mut docs = listing(0)?;
            docs.retain(|d| buckets.contains(&(bucket_of(&d.doc) as u64)));
            let saved = saved(tx, &docs)?;
            Ok(FeedAnswer::Documents {
                docs,
                saved,
                cursor,
            })
        }
    }
}

/// The saved bytes of listed documents, in order, while they fit in [`BULK_MAX_BYTES`]: read
/// in the transaction of the listing, so each matches its digest.
fn saved(
    tx: &ReadTransaction,
    docs: &[DocDigest],
) -> Result<Vec<(DocumentId, Vec<u8>)>, StoreError> {
    let chunks = tx.open_table(CHUNKS)?;
    let mut budget = BULK_MAX_BYTES;
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let key = d.doc.as_bytes().as_slice();
        let mut bytes = Vec::new();
        for item in chunks.range((key, 0)..=(key, u64::MAX))? {
            bytes.extend_from_slice(item?.1.value());
        }
        let Some(left) = budget.checked_sub(bytes.len()) else {
            break;
        };
        budget = left;
        out.push((d.doc, bytes));
    }
    Ok(out)
}

/// A supervisor's whole queue: the open issues at its level in its area, from the index.
fn queue(
    tx: &ReadTransaction,
    holding: &Holding,
    level: Level,
) -> Result<Vec<DocDigest>, StoreError> {
    let open = tx.open_table(OPEN)?;
    let l = level.index() as u8;
    let mut out = Vec::new();
    let mut take = |doc: &[u8], heads: &[u8]| -> Result<(), StoreError> {
        let mut h = [0u8; 8];
        h.copy_from_slice(&heads[..8]);
        out.push(DocDigest {
            doc: doc_id(doc)?,
            heads: h,
        });
        Ok(())
    };
    match ranges(&holding.scope) {
        None => {
            for item in open.range((l, "", [].as_slice())..(l + 1, "", [].as_slice()))? {
                let (k, v) = item?;
                take(k.value().2, v.value())?;
            }
        }
        Some(rs) => {
            for (lo, hi, _) in rs {
                let range = (l, lo.as_str(), [].as_slice())..(l, hi.as_str(), [].as_slice());
                for item in open.range(range)? {
                    let (k, v) = item?;
                    take(k.value().2, v.value())?;
                }
            }
        }
    }
    Ok(out)
}

/// Every document the device holds changed after `after`, with its heads, from the feeds
/// alone. (Entries written before they carried a standing are completed from their rows.)
fn changed(
    tx: &ReadTransaction,
    holding: &Holding,
    after: u64,
) -> Result<Vec<DocDigest>, StoreError> {
    let feed = tx.open_table(FEED)?;
    let grid_feed = tx.open_table(GRID_FEED)?;
    let docs = tx.open_table(DOCS)?;
    let mut out = Vec::new();
    // `v` is an entry; `grid_at`: where its has-grid byte is (the main feed), if any.
    let mut take = |v: &[u8], in_feed: bool| -> Result<(), StoreError> {
        let doc = doc_id(&v[..16.min(v.len())])?;
        let standing_at = if in_feed { 25 } else { 24 };
        if v.len() > standing_at + 9 {
            // The feed lists documents without a grid too: no scope holds them.
            if in_feed && v[24] != 1 {
                return Ok(());
            }
            let standing = Standing::decode(&v[standing_at..standing_at + 9]);
            if holding.lists(standing, v[standing_at + 9]) {
                let mut heads = [0u8; 8];
                heads.copy_from_slice(&v[16..24]);
                out.push(DocDigest { doc, heads });
            }
        } else if let Some(row) = docs.get(&v[..16])? {
            let row: RowDigest = serde_json::from_slice(row.value())?;
            if grid_in_scope(row.grid.as_deref(), &holding.scope)
                && holding.lists(standing_of(row.contribution.as_ref()), row.levels)
            {
                out.push(DocDigest {
                    doc,
                    heads: row.heads,
                });
            }
        }
        Ok(())
    };
    match ranges(&holding.scope) {
        None => {
            for item in feed.range(after + 1..)? {
                let (_, v) = item?;
                take(v.value(), true)?;
            }
        }
        Some(rs) => {
            for (lo, hi, exact) in rs {
                for item in grid_feed.range((lo.as_str(), after + 1)..(hi.as_str(), 0))? {
                    let (k, v) = item?;
                    let (g, s) = k.value();
                    if s > after && (!exact || g == lo) {
                        take(v.value(), false)?;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Households of `scope` whose text contains `q`, at most `limit`.
pub(super) fn search(
    tx: &ReadTransaction,
    scope: &Scope,
    q: &str,
    limit: usize,
) -> Result<Vec<DocumentId>, StoreError> {
    let table = tx.open_table(HOUSEHOLD_TEXT)?;
    let mut out = Vec::new();
    let mut take = |grid: &str, doc: &[u8], text: &str| -> Result<bool, StoreError> {
        if grid_in_scope(Some(grid), scope) && text.contains(q) {
            out.push(doc_id(doc)?);
        }
        Ok(out.len() < limit)
    };
    let ranges = ranges(scope).unwrap_or_else(|| vec![(String::new(), "\u{10ffff}".into(), false)]);
    for (lo, hi, _) in ranges {
        for item in table.range((lo.as_str(), [].as_slice())..(hi.as_str(), [].as_slice()))? {
            let (k, v) = item?;
            let (grid, doc) = k.value();
            if !take(grid, doc, v.value())? {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// Builds the household search text from the stored households, once (databases written
/// before it).
pub(super) fn build_household_text(tx: &redb::WriteTransaction) -> Result<u64, StoreError> {
    let docs = tx.open_table(DOCS)?;
    let chunks = tx.open_table(CHUNKS)?;
    let mut text = tx.open_table(HOUSEHOLD_TEXT)?;
    let mut n = 0;
    for item in docs.iter()? {
        let (k, v) = item?;
        let row: super::DocRow = serde_json::from_slice(v.value())?;
        let (Some("household"), Some(grid)) = (row.kind.as_deref(), row.grid.as_deref()) else {
            continue;
        };
        let key = k.value();
        let mut bytes = Vec::new();
        for c in chunks.range((key, 0)..=(key, u64::MAX))? {
            bytes.extend_from_slice(c?.1.value());
        }
        let Ok(doc) = automerge::Automerge::load(&bytes) else {
            continue;
        };
        if let Some(t) = shared::model::Record::read(&doc)
            .ok()
            .and_then(|r| shared::summary::search_text(&r))
        {
            text.insert((grid, key), t.as_str())?;
            n += 1;
        }
    }
    Ok(n)
}

/// Builds the index of open issues (and reviews) from the document rows, once (databases written before it).
pub(super) fn build_open_index(tx: &redb::WriteTransaction) -> Result<u64, StoreError> {
    let docs = tx.open_table(DOCS)?;
    let mut open = tx.open_table(OPEN)?;
    let mut n = 0;
    for item in docs.iter()? {
        let (k, v) = item?;
        let row: RowDigest = serde_json::from_slice(v.value())?;
        for (class, grid, key) in index_keys(row.contribution.as_ref(), k.value()) {
            open.insert((class, grid.as_str(), key.as_slice()), row.heads.as_slice())?;
            n += 1;
        }
    }
    Ok(n)
}

/// Whether a per-grid feed entry can be a row `q` wants, by the standing it carries (entries
/// written before they carried one may be anything).
pub(super) fn entry_may_match(entry: &[u8], q: &super::PageQuery<'_>) -> bool {
    use shared::sync::Standing;
    let Some(bytes) = entry.get(24..33) else {
        return true;
    };
    let s = Standing::decode(bytes);
    let kind_ok = match q.kind {
        None => true,
        Some("household") => s == Standing::Household,
        Some("visit") => matches!(s, Standing::Visit { .. }),
        Some("issue") => matches!(s, Standing::Open(_) | Standing::Closed { .. }),
        Some("review") => matches!(s, Standing::Review { .. }),
        Some(_) => false,
    };
    let status_ok = match (q.status, s) {
        (None | Some(super::Wanted::Corrections), _) => true,
        (Some(super::Wanted::Open | super::Wanted::Overdue(_)), Standing::Open(_)) => true,
        (Some(super::Wanted::Closed), Standing::Closed { .. }) => true,
        (Some(super::Wanted::Week(w)), Standing::Visit { day }) => (day + 3).div_euclid(7) == w,
        (Some(super::Wanted::Days(lo, hi)), Standing::Review { day }) => (lo..=hi).contains(&day),
        _ => false,
    };
    kind_ok && status_ok
}
