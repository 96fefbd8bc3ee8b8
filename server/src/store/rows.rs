//! What every redb module of the store shares: the tables of accounts, tokens and meta, and
//! the row encoding (JSON) and document keys. A leaf: it imports no other store module.

use redb::TableDefinition;
use shared::ids::DocumentId;

use super::StoreError;

pub(super) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
pub(super) const ACCOUNTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("accounts");
pub(super) const TOKENS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("tokens");

pub(super) fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(v)?)
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(b)?)
}

pub(super) fn doc_id(b: &[u8]) -> Result<DocumentId, StoreError> {
    let arr: [u8; 16] = b.try_into().map_err(|_| StoreError::Key(b.len()))?;
    Ok(DocumentId::from_bytes(arr))
}
