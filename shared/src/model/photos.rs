//! Photos on records (DESIGN decision 12): a record refers to each by the lowercase hex
//! SHA-256 of its bytes, in a list at a root key (`photos`); the bytes live on the server.

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};

use super::SchemaError;
use super::field;

/// At most this many photos on one record.
pub const MAX_PHOTOS: usize = 6;

/// Whether `s` names a photo: 64 lowercase hex digits (its SHA-256).
pub fn is_photo_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The photo hashes of a list at root `key` (none if absent).
pub fn read_photos<D: ReadDoc>(doc: &D, key: &'static str) -> Result<Vec<String>, SchemaError> {
    let Some(list) = field::object(doc, &ROOT, key, ObjType::List)? else {
        return Ok(Vec::new());
    };
    let photos = field::string_list(doc, &list, key)?;
    if photos.len() > MAX_PHOTOS || !photos.iter().all(|p| is_photo_hash(p)) {
        return Err(SchemaError::invalid(
            key,
            format!("at most {MAX_PHOTOS} photos, each a SHA-256 in hex"),
        ));
    }
    Ok(photos)
}

/// Adds photos to the list at root `key` (creating it), skipping ones already there.
pub fn add_photos<T: Transactable + ReadDoc>(
    tx: &mut T,
    key: &'static str,
    photos: &[String],
) -> Result<(), automerge::AutomergeError> {
    let list = match tx.get(ROOT, key)? {
        Some((automerge::Value::Object(ObjType::List), id)) => id,
        _ => tx.put_object(ROOT, key, ObjType::List)?,
    };
    let have = field::string_list(tx, &list, key).unwrap_or_default();
    for p in photos.iter().filter(|p| !have.contains(p)) {
        let at = tx.length(&list);
        tx.insert(&list, at, p.as_str())?;
    }
    Ok(())
}
