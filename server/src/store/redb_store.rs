//! The embedded store on redb: one file in the data folder, ACID, fsync on commit.

use std::collections::HashMap;
use std::path::Path;

use automerge::Automerge;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use shared::aggregate::Contribution;
use shared::ids::{DocumentId, GridId, Scope};
use shared::sync::{FeedAnswer, FeedQuery, Quarantine};

use super::{
    Account, ChunkWrite, DocRow, Page, PageQuery, QuarantineRow, Storage, StoreError, TokenRow,
};

use super::redb_feed::{CHUNKS, DOCS, Derived, FEED, GRID_FEED, HOUSEHOLD_TEXT, OPEN, standing_of};
use super::rows::{ACCOUNTS, META, TOKENS, doc_id, json, parse};
const QUARANTINE: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("quarantine");

/// Chunks per document before they are compacted into one saved document.
const COMPACT_AFTER: u64 = 32;

/// The redb-backed store.
pub struct RedbStore {
    pub(super) db: Database,
    epoch: String,
}

fn in_scope(row: &DocRow, scope: &Scope) -> bool {
    grid_in_scope(row.grid.as_deref(), scope)
}

fn grid_in_scope(grid: Option<&str>, scope: &Scope) -> bool {
    grid.and_then(|g| g.parse::<GridId>().ok())
        .is_some_and(|g| scope.contains(&g))
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
        // The marks of the first release's one-off steps, then the schema's migrations.
        super::migrate::marks(&tx)?;
        let figures_missing = tx.open_table(META)?.get("figures")?.is_none();
        // Create every table so readers never meet a missing one.
        tx.open_table(CHUNKS)?;
        tx.open_table(DOCS)?;
        tx.open_table(FEED)?;
        tx.open_table(GRID_FEED)?;
        tx.open_table(OPEN)?;
        tx.open_table(HOUSEHOLD_TEXT)?;
        super::redb_trends::create(&tx)?;
        tx.open_table(ACCOUNTS)?;
        tx.open_table(TOKENS)?;
        tx.open_table(QUARANTINE)?;
        super::redb_admin::create(&tx)?;
        super::evidence_tables::create(&tx)?;
        super::migrate::run(&tx)?;
        tx.commit()?;
        let store = Self { db, epoch };
        // Rows written before the figures over time were kept: derive them once (marked done
        // only once done, so an interrupted start derives them again).
        if figures_missing {
            if store.doc_count()? > 0 {
                tracing::info!("deriving the figures over time from the stored records (once)");
                let n = store.rebuild_figures(|_| {})?;
                tracing::info!(documents = n, "figures derived");
            }
            let tx = store.db.begin_write()?;
            tx.open_table(META)?.insert("figures", b"1".as_slice())?;
            tx.commit()?;
        }
        Ok(store)
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
            let mut derived = Derived::open(&tx)?;
            let mut trends = shared::trends::Delta::default();
            let mut next = derived.feed.last()?.map_or(0, |(k, _)| k.value());
            for w in chunks {
                let key = w.doc.as_bytes().as_slice();
                let old: Option<DocRow> = match docs.get(key)? {
                    Some(v) => Some(parse(v.value())?),
                    None => None,
                };
                next += 1;
                previous.push(old.as_ref().and_then(|r| r.contribution.clone()));
                if let Some(old) = &old {
                    derived.remove(&w.doc, old)?;
                }
                let mut row = old.unwrap_or(DocRow {
                    seq: 0,
                    kind: None,
                    grid: None,
                    heads: [0; 8],
                    chunks: 0,
                    contribution: None,
                    levels: 0,
                    trend: None,
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
                trends.replace(row.trend.as_ref(), w.trend.as_ref());
                row.trend = w.trend.clone();
                row.levels |= standing_of(row.contribution.as_ref()).queue_bits();
                docs.insert(key, json(&row)?.as_slice())?;
                derived.insert(&w.doc, &row, w.text.as_deref())?;
                if !w.photos.is_empty() {
                    super::evidence_tables::link_photos(&tx, &w.doc, &w.photos)?;
                }
            }
            super::redb_trends::apply(&tx, &trends)?;
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
        super::redb_feed::answer(&tx, &self.epoch, query)
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

    fn page(&self, q: &PageQuery<'_>) -> Result<Page, StoreError> {
        let tx = self.db.begin_read()?;
        let docs = tx.open_table(DOCS)?;
        let before = q.before.unwrap_or(u64::MAX);
        // Candidates, newest first: (feed position, document key).
        let mut candidates: Vec<(u64, [u8; 16])> = Vec::new();
        let key16 = |entry: &[u8]| -> [u8; 16] {
            let mut k = [0u8; 16];
            k.copy_from_slice(&entry[..16]);
            k
        };
        let prefixes: Vec<(String, bool)> = match (q.grid, q.scope) {
            (Some(g), scope) => {
                if !grid_in_scope(Some(g), scope) {
                    return Ok(Page::default());
                }
                vec![(g.to_owned(), true)]
            }
            (None, Scope::City) => Vec::new(),
            (None, Scope::Street(s)) => vec![(format!("{s}/"), false)],
            (None, Scope::Community(c)) => vec![(format!("{c}/"), false)],
            (None, Scope::Grids(gs)) => gs.iter().map(|g| (g.to_string(), true)).collect(),
        };
        let mut rows = Vec::new();
        let mut next = None;
        let mut take = |seq: u64, key: [u8; 16]| -> Result<bool, StoreError> {
            if rows.len() == q.limit {
                next = Some(seq + 1);
                return Ok(false);
            }
            if let Some(v) = docs.get(key.as_slice())? {
                let row: DocRow = parse(v.value())?;
                let of_household = q.household.is_none_or(|h| {
                    matches!(&row.contribution, Some(Contribution::Visit { household, .. }) if *household == h)
                });
                if in_scope(&row, q.scope)
                    && q.kind.is_none_or(|k| row.kind.as_deref() == Some(k))
                    && of_household
                    && q.status
                        .is_none_or(|s| s.matches(row.contribution.as_ref()))
                {
                    rows.push((DocumentId::from_bytes(key), row));
                }
            }
            Ok(true)
        };
        if prefixes.is_empty() {
            let feed = tx.open_table(FEED)?;
            for item in feed.range(..before)?.rev() {
                let (k, v) = item?;
                if !take(k.value(), key16(v.value()))? {
                    break;
                }
            }
        } else {
            let grid_feed = tx.open_table(GRID_FEED)?;
            for (prefix, exact) in &prefixes {
                for item in grid_feed.range((prefix.as_str(), 0)..)? {
                    let (k, v) = item?;
                    let (grid, seq) = k.value();
                    let inside = if *exact {
                        grid == prefix.as_str()
                    } else {
                        grid.starts_with(prefix.as_str())
                    };
                    if !inside {
                        break;
                    }
                    // The entry's standing rules most rows out without reading them.
                    if seq < before && super::redb_feed::entry_may_match(v.value(), q) {
                        candidates.push((seq, key16(v.value())));
                    }
                }
            }
            candidates.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
            for (seq, key) in candidates {
                if !take(seq, key)? {
                    break;
                }
            }
        }
        Ok(Page { rows, next })
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ACCOUNTS)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            out.push(parse(item?.1.value())?);
        }
        Ok(out)
    }

    fn snapshot(
        &self,
        f: &mut dyn FnMut(super::Snap<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_read()?;
        let docs = tx.open_table(DOCS)?;
        let chunks = tx.open_table(CHUNKS)?;
        let mut bytes = Vec::new();
        for item in docs.iter()? {
            let (k, _) = item?;
            let key = k.value();
            bytes.clear();
            for c in chunks.range((key, 0)..=(key, u64::MAX))? {
                bytes.extend_from_slice(c?.1.value());
            }
            f(super::Snap::Doc(doc_id(key)?, &bytes))?;
        }
        for item in tx.open_table(ACCOUNTS)?.iter()? {
            f(super::Snap::Account(parse(item?.1.value())?))?;
        }
        for item in tx.open_table(TOKENS)?.iter()? {
            let (k, v) = item?;
            f(super::Snap::Token(k.value(), parse(v.value())?))?;
        }
        for item in tx.open_table(super::redb_admin::ORG)?.iter()? {
            f(super::Snap::Unit(parse(item?.1.value())?))?;
        }
        for item in tx.open_table(super::redb_admin::AUDIT)?.iter()? {
            f(super::Snap::Audit(parse(item?.1.value())?))?;
        }
        super::evidence_tables::snapshot(&tx, f)
    }

    fn reviews(&self, scope: &Scope, lo: i64, hi: i64) -> Result<Vec<DocumentId>, StoreError> {
        let tx = self.db.begin_read()?;
        super::redb_feed::reviews(&tx, scope, lo, hi)
    }

    fn with_figures(
        &self,
        f: &mut dyn FnMut(&mut dyn shared::month::Source),
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_read()?;
        let mut reader = super::redb_trends::Reader {
            tx: &tx,
            error: None,
        };
        f(&mut reader);
        reader.error.map_or(Ok(()), Err)
    }

    fn org(&self) -> Result<shared::org::Org, StoreError> {
        super::redb_admin::org(&self.db.begin_read()?)
    }

    fn put_units(&self, units: &[shared::org::Unit]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        super::redb_admin::put_units(&tx, units)?;
        Ok(tx.commit()?)
    }

    fn step_limits(&self) -> Result<shared::model::lifecycle::StepLimits, StoreError> {
        super::redb_admin::step_limits(&self.db.begin_read()?)
    }

    fn put_step_limits(
        &self,
        limits: &shared::model::lifecycle::StepLimits,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        super::redb_admin::put_step_limits(&tx, limits)?;
        Ok(tx.commit()?)
    }

    fn append_audit(&self, entries: &[super::AuditEntry]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        super::redb_admin::append_audit(&tx, entries)?;
        Ok(tx.commit()?)
    }

    fn audit_log(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<super::AuditEntry>, StoreError> {
        super::redb_admin::audit_log(&self.db.begin_read()?, before, limit)
    }

    fn accounts_page(
        &self,
        after: Option<&str>,
        keep: &dyn Fn(&Account) -> bool,
        limit: usize,
    ) -> Result<(Vec<Account>, Option<String>), StoreError> {
        super::redb_admin::accounts_page(&self.db.begin_read()?, ACCOUNTS, after, keep, limit)
    }

    fn household_texts(&self, grid: &str) -> Result<Vec<(DocumentId, String)>, StoreError> {
        super::redb_admin::household_texts(&self.db.begin_read()?, grid)
    }

    fn put_provision(&self, key: &str, row: &super::ProvisionRow) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        super::redb_admin::put_provision(&tx, key, row)?;
        Ok(tx.commit()?)
    }

    fn redeem_provision(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Result<super::ProvisionRow, super::Redeem>, StoreError> {
        let tx = self.db.begin_write()?;
        let r = super::redb_admin::redeem_provision(&tx, key, now)?;
        tx.commit()?;
        Ok(r)
    }

    fn search_households(
        &self,
        scope: &Scope,
        q: &str,
        limit: usize,
    ) -> Result<Vec<DocumentId>, StoreError> {
        let tx = self.db.begin_read()?;
        super::redb_feed::search(&tx, scope, q, limit)
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

    fn revoke_user_tokens(&self, user: &str) -> Result<usize, StoreError> {
        let tx = self.db.begin_write()?;
        let mut live = 0;
        {
            let mut t = tx.open_table(TOKENS)?;
            let mut hits = Vec::new();
            for item in t.iter()? {
                let (k, v) = item?;
                let row: TokenRow = parse(v.value())?;
                if row.user == user && !row.revoked {
                    hits.push((k.value().to_owned(), row));
                }
            }
            for (key, mut row) in hits {
                row.revoked = true;
                live += 1;
                t.insert(key.as_str(), json(&row)?.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(live)
    }

    fn quarantine_counts(&self) -> Result<HashMap<Option<String>, usize>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(QUARANTINE)?;
        let mut out = HashMap::new();
        for item in t.iter()? {
            let (_, v) = item?;
            let row: QuarantineRow = parse(v.value())?;
            *out.entry(row.user).or_default() += 1;
        }
        Ok(out)
    }

    fn discard_quarantine(&self, id: u64) -> Result<Option<QuarantineRow>, StoreError> {
        let tx = self.db.begin_write()?;
        let row = {
            let mut t = tx.open_table(QUARANTINE)?;
            let removed = t.remove(id)?;
            removed.map(|v| parse(v.value())).transpose()?
        };
        tx.commit()?;
        Ok(row)
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
#[path = "redb_tests.rs"]
mod tests;
