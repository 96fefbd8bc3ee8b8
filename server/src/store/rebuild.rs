//! `gridvisit rebuild-figures`: everything derived from each document, derived again from
//! the documents themselves.

use automerge::Automerge;
use redb::{ReadableDatabase, ReadableTable};

use super::redb_feed::{CHUNKS, DOCS, Derived, HOUSEHOLD_TEXT, OPEN, standing_of};
use super::redb_store::RedbStore;
use super::rows::{doc_id, json, parse};
use super::{ChunkWrite, DocRow, StoreError};

impl RedbStore {
    /// Recomputes what is derived from each document (its dashboard contribution, figures
    /// over time, search text, queue entry and feed standing) from the documents themselves,
    /// and the stored figures from those (`gridvisit rebuild-figures`). `progress` hears how
    /// many documents are done. Returns how many were read.
    pub fn rebuild_figures(&self, mut progress: impl FnMut(u64)) -> Result<u64, StoreError> {
        let tx = self.db.begin_write()?;
        super::redb_trends::clear(&tx)?;
        tx.delete_table(OPEN)?;
        tx.delete_table(HOUSEHOLD_TEXT)?;
        tx.open_table(OPEN)?;
        tx.open_table(HOUSEHOLD_TEXT)?;
        tx.commit()?;
        let keys: Vec<[u8; 16]> = {
            let tx = self.db.begin_read()?;
            let docs = tx.open_table(DOCS)?;
            let mut keys = Vec::new();
            for item in docs.iter()? {
                let (k, _) = item?;
                keys.push(
                    k.value()
                        .try_into()
                        .map_err(|_| StoreError::Key(k.value().len()))?,
                );
            }
            keys
        };
        let dashboard = shared::aggregate::Dashboard::new(shared::time::Calendar::CHINA);
        let mut done = 0u64;
        for chunk in keys.chunks(5_000) {
            let tx = self.db.begin_write()?;
            {
                let chunks = tx.open_table(CHUNKS)?;
                let mut docs = tx.open_table(DOCS)?;
                let mut derived = Derived::open(&tx)?;
                let mut trends = shared::trends::Delta::default();
                for key in chunk {
                    let key = key.as_slice();
                    let mut row: DocRow = match docs.get(key)? {
                        Some(v) => parse(v.value())?,
                        None => continue,
                    };
                    let mut bytes = Vec::new();
                    for c in chunks.range((key, 0)..=(key, u64::MAX))? {
                        bytes.extend_from_slice(c?.1.value());
                    }
                    let record = Automerge::load(&bytes)
                        .ok()
                        .and_then(|d| shared::model::Record::read(&d).ok());
                    let w = ChunkWrite::of(
                        doc_id(key)?,
                        Vec::new(),
                        row.heads,
                        record.as_ref().map(shared::model::Record::meta),
                        record.as_ref(),
                        &dashboard,
                    );
                    row.contribution = w.contribution;
                    row.trend = w.trend;
                    trends.replace(None, row.trend.as_ref());
                    row.levels |= standing_of(row.contribution.as_ref()).queue_bits();
                    derived.insert(&w.doc, &row, w.text.as_deref())?;
                    docs.insert(key, json(&row)?.as_slice())?;
                    done += 1;
                }
                super::redb_trends::apply(&tx, &trends)?;
            }
            tx.commit()?;
            progress(done);
        }
        Ok(done)
    }
}
