//! The tables of residents' reports and photos, and what the rest of the store does with
//! them inside its own transactions (creating them, indexing a commit's photos, a backup's
//! snapshot). A leaf: it imports no other store module but the row encoding.

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use shared::ids::DocumentId;

use super::StoreError;
use super::rows::parse;

/// SHA-256 of a tracking code → the report's row.
pub(super) const REPORTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("reports");
/// Photo hash → its bytes.
pub(super) const PHOTOS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("photos");
/// Photo hash → who uploaded it, for which grid, when, and its size.
pub(super) const PHOTO_META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("photo_meta");
/// (photo hash, document) → nothing: the records that refer to a photo.
pub(super) const PHOTO_REFS: TableDefinition<'_, (&str, &[u8]), ()> =
    TableDefinition::new("photo_refs");
/// `u:<user>` or `g:<grid>` → bytes of photos held.
pub(super) const USAGE: TableDefinition<'_, &str, u64> = TableDefinition::new("photo_usage");

/// Creates the tables of this module.
pub(super) fn create(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(REPORTS)?;
    tx.open_table(PHOTOS)?;
    tx.open_table(PHOTO_META)?;
    tx.open_table(PHOTO_REFS)?;
    tx.open_table(USAGE)?;
    Ok(())
}

/// Records that `doc` refers to `photos` (inside a commit).
pub(super) fn link_photos(
    tx: &WriteTransaction,
    doc: &DocumentId,
    photos: &[String],
) -> Result<(), StoreError> {
    let mut refs = tx.open_table(PHOTO_REFS)?;
    for p in photos {
        refs.insert((p.as_str(), doc.as_bytes().as_slice()), ())?;
    }
    Ok(())
}

/// Every report and photo, for a backup (inside its read transaction).
pub(super) fn snapshot(
    tx: &redb::ReadTransaction,
    f: &mut dyn FnMut(super::Snap<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for item in tx.open_table(REPORTS)?.iter()? {
        let (k, v) = item?;
        f(super::Snap::Report(k.value(), parse(v.value())?))?;
    }
    let photos = tx.open_table(PHOTOS)?;
    for item in tx.open_table(PHOTO_META)?.iter()? {
        let (k, v) = item?;
        if let Some(bytes) = photos.get(k.value())? {
            f(super::Snap::Photo(
                k.value(),
                parse(v.value())?,
                bytes.value(),
            ))?;
        }
    }
    Ok(())
}
