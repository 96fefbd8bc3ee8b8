//! What residents and photos leave in redb: the tracking codes of residents' reports, the
//! photos (immutable blobs named by their SHA-256), the index from each photo to the records
//! that refer to it, and the bytes each uploader and grid holds (their quotas). The tables
//! are `evidence_tables.rs`'s.

use redb::{ReadableDatabase, ReadableTable};
use shared::ids::DocumentId;

use super::evidence_tables::{PHOTO_META, PHOTO_REFS, PHOTOS, REPORTS, USAGE};
use super::redb_store::RedbStore;
use super::rows::{doc_id, json, parse};
use super::{Evidence, PhotoMeta, PhotoPut, ReportRow, StoreError};

fn add_usage(t: &mut redb::Table<'_, &str, u64>, key: &str, delta: i64) -> Result<u64, StoreError> {
    let old = t.get(key)?.map_or(0, |v| v.value());
    let new = old.saturating_add_signed(delta);
    if new == 0 {
        t.remove(key)?;
    } else {
        t.insert(key, new)?;
    }
    Ok(new)
}

impl Evidence for RedbStore {
    fn put_reports(&self, rows: &[(String, ReportRow)]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(REPORTS)?;
            for (key, row) in rows {
                t.insert(key.as_str(), json(row)?.as_slice())?;
            }
        }
        Ok(tx.commit()?)
    }

    fn report(&self, key: &str) -> Result<Option<ReportRow>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(REPORTS)?;
        t.get(key)?.map(|v| parse(v.value())).transpose()
    }

    fn put_photo(
        &self,
        hash: &str,
        bytes: &[u8],
        meta: &PhotoMeta,
        quota: (u64, u64),
    ) -> Result<PhotoPut, StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut photos = tx.open_table(PHOTOS)?;
            if photos.get(hash)?.is_some() {
                return Ok(PhotoPut::Exists);
            }
            let mut usage = tx.open_table(USAGE)?;
            let size = bytes.len() as u64;
            let user_key = format!("u:{}", meta.user);
            let grid_key = format!("g:{}", meta.grid);
            let user_has = usage.get(user_key.as_str())?.map_or(0, |v| v.value());
            let grid_has = usage.get(grid_key.as_str())?.map_or(0, |v| v.value());
            if user_has + size > quota.0 {
                return Ok(PhotoPut::OverQuota("user"));
            }
            if grid_has + size > quota.1 {
                return Ok(PhotoPut::OverQuota("grid"));
            }
            photos.insert(hash, bytes)?;
            tx.open_table(PHOTO_META)?
                .insert(hash, json(meta)?.as_slice())?;
            add_usage(&mut usage, &user_key, size as i64)?;
            add_usage(&mut usage, &grid_key, size as i64)?;
        }
        tx.commit()?;
        Ok(PhotoPut::Stored)
    }

    fn photo(&self, hash: &str) -> Result<Option<(Vec<u8>, PhotoMeta)>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(bytes) = tx
            .open_table(PHOTOS)?
            .get(hash)?
            .map(|v| v.value().to_vec())
        else {
            return Ok(None);
        };
        let meta = match tx.open_table(PHOTO_META)?.get(hash)? {
            Some(v) => parse(v.value())?,
            None => return Ok(None),
        };
        Ok(Some((bytes, meta)))
    }

    fn photo_records(&self, hash: &str) -> Result<Vec<DocumentId>, StoreError> {
        let tx = self.db.begin_read()?;
        let refs = tx.open_table(PHOTO_REFS)?;
        let lo: (&str, &[u8]) = (hash, &[]);
        let mut out = Vec::new();
        for item in refs.range(lo..)? {
            let (k, _) = item?;
            let (h, doc) = k.value();
            if h != hash {
                break;
            }
            out.push(doc_id(doc)?);
        }
        Ok(out)
    }

    fn photo_usage(&self, key: &str) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(USAGE)?.get(key)?.map_or(0, |v| v.value()))
    }

    fn collect_photos(&self, uploaded_before: i64) -> Result<usize, StoreError> {
        let tx = self.db.begin_write()?;
        let mut removed = 0;
        {
            let mut meta_t = tx.open_table(PHOTO_META)?;
            let refs = tx.open_table(PHOTO_REFS)?;
            let mut orphans = Vec::new();
            for item in meta_t.iter()? {
                let (k, v) = item?;
                let meta: PhotoMeta = parse(v.value())?;
                let hash = k.value().to_owned();
                let lo: (&str, &[u8]) = (hash.as_str(), &[]);
                let used = refs
                    .range(lo..)?
                    .next()
                    .transpose()?
                    .is_some_and(|(k, _)| k.value().0 == hash);
                if meta.at < uploaded_before && !used {
                    orphans.push((hash, meta));
                }
            }
            let mut photos = tx.open_table(PHOTOS)?;
            let mut usage = tx.open_table(USAGE)?;
            for (hash, meta) in orphans {
                let size = meta.size as i64;
                photos.remove(hash.as_str())?;
                meta_t.remove(hash.as_str())?;
                add_usage(&mut usage, &format!("u:{}", meta.user), -size)?;
                add_usage(&mut usage, &format!("g:{}", meta.grid), -size)?;
                removed += 1;
            }
        }
        tx.commit()?;
        Ok(removed)
    }
}
