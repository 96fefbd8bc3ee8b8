//! The phone's store: IndexedDB through `rexie`. Schema version 3.
//!
//! - `docs`: `{id, bytes}`, a document's compacted save.
//! - `chunks` (version 3): `{id, n, bytes}`, keyed `[id, n]`: the change chunks saved since
//!   (the engine's `Persist.chunk`s, appended as they come). A document is its save followed
//!   by its chunks; past [`COMPACT_AFTER`] chunks the engine writes a new save and drops them.
//! - `meta`: `{id, summary, contribution}`, a document's list summary and dashboard
//!   contribution, read at start without any document bytes, so lists show at once.
//! - `acked`: per document, the heads the server holds (JSON list of hex hashes).
//! - `kv`: the session, the sync cursor, the device's actor, the language and form drafts.
//!
//! Upgrades keep everything: version 2 added `meta` (back-filled from the documents), version 3
//! added `chunks` (a version-2 `docs` row is a save with no chunks after it).
//!
//! Every write is one transaction that is committed before the caller goes on: a change is
//! durable here before the UI calls it saved or a frame leaves the device.

use js_sys::{Array, Object, Reflect, Uint8Array};
use rexie::{KeyRange, ObjectStore, Rexie, TransactionMode};
use shared::ids::DocumentId;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::ClientError;
use crate::local::{LocalWrite, MetaRow, encode_cursor, encode_heads};

const DB: &str = "gridvisit";
/// The schema version this code opens (see the module docs).
pub(crate) const VERSION: u32 = 3;
const DOCS: &str = "docs";
const CHUNKS: &str = "chunks";
const META: &str = "meta";
const ACKED: &str = "acked";
const KV: &str = "kv";
/// What stays when a user's records are wiped: the device, not its user.
const KEPT_ON_WIPE: [&str; 2] = ["device", "lang"];

/// Chunks a document may collect before it is compacted into one save.
pub(crate) const COMPACT_AFTER: u32 = 32;

/// A saved document as loaded: its bytes (save and chunks) and how many chunks follow the save.
pub(crate) struct Saved {
    pub(crate) id: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) chunks: u32,
}

/// A row of `meta` as loaded.
pub(crate) struct Meta {
    pub(crate) id: String,
    pub(crate) summary: Option<String>,
    pub(crate) contribution: Option<String>,
}

fn storage(e: rexie::Error) -> ClientError {
    ClientError::storage(format!("{e:?}"))
}

fn field(v: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(v, &key.into())
        .ok()
        .filter(|v| !v.is_undefined())
}

fn bytes_of(v: &JsValue) -> Option<Vec<u8>> {
    Some(field(v, "bytes")?.dyn_into::<Uint8Array>().ok()?.to_vec())
}

fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let row = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&row, &(*k).into(), v);
    }
    row.into()
}

fn chunk_key(id: &str, n: f64) -> JsValue {
    Array::of2(&id.into(), &n.into()).into()
}

/// Every chunk key of a document.
fn chunks_of(id: &str) -> Result<KeyRange, rexie::Error> {
    Ok(KeyRange::bound(
        &chunk_key(id, 0.0),
        &chunk_key(id, f64::MAX),
        Some(false),
        Some(false),
    )?)
}

/// The open database.
pub(crate) struct Db(Rexie);

impl Db {
    pub(crate) async fn open() -> Result<Self, ClientError> {
        Rexie::builder(DB)
            .version(VERSION)
            .add_object_store(ObjectStore::new(DOCS).key_path("id"))
            .add_object_store(ObjectStore::new(CHUNKS).key_path_array(["id", "n"]))
            .add_object_store(ObjectStore::new(META).key_path("id"))
            .add_object_store(ObjectStore::new(ACKED))
            .add_object_store(ObjectStore::new(KV))
            .build()
            .await
            .map(Self)
            .map_err(storage)
    }

    /// Every value of a store, in key order.
    async fn all(&self, store: &str) -> Result<Vec<JsValue>, ClientError> {
        let run = async {
            let tx = self.0.transaction(&[store], TransactionMode::ReadOnly)?;
            tx.store(store)?.get_all(None, None).await
        };
        run.await.map_err(storage)
    }

    /// Every saved document: its save and the chunks after it.
    pub(crate) async fn documents(&self) -> Result<Vec<Saved>, ClientError> {
        let mut out: std::collections::BTreeMap<String, Saved> = self
            .all(DOCS)
            .await?
            .into_iter()
            .filter_map(|v| {
                let id = field(&v, "id")?.as_string()?;
                let bytes = bytes_of(&v)?;
                Some((
                    id.clone(),
                    Saved {
                        id,
                        bytes,
                        chunks: 0,
                    },
                ))
            })
            .collect();
        // Keys `[id, n]` sort by document, then by chunk: appending keeps each order.
        for v in self.all(CHUNKS).await? {
            let (Some(id), Some(bytes)) =
                (field(&v, "id").and_then(|i| i.as_string()), bytes_of(&v))
            else {
                continue;
            };
            let saved = out.entry(id.clone()).or_insert_with(|| Saved {
                id,
                bytes: Vec::new(),
                chunks: 0,
            });
            saved.bytes.extend_from_slice(&bytes);
            saved.chunks += 1;
        }
        Ok(out.into_values().collect())
    }

    /// Every meta row.
    pub(crate) async fn metas(&self) -> Result<Vec<Meta>, ClientError> {
        Ok(self
            .all(META)
            .await?
            .into_iter()
            .filter_map(|v| {
                let text = |key: &str| field(&v, key).and_then(|s| s.as_string());
                Some(Meta {
                    id: text("id")?,
                    summary: text("summary"),
                    contribution: text("contribution"),
                })
            })
            .collect())
    }

    /// Every acknowledged-heads entry: `(doc, JSON list of hex hashes)`.
    pub(crate) async fn acked(&self) -> Result<Vec<(String, String)>, ClientError> {
        let run = async {
            let tx = self.0.transaction(&[ACKED], TransactionMode::ReadOnly)?;
            tx.store(ACKED)?.scan(None, None, None, None).await
        };
        let rows = run.await.map_err(storage)?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, v)| Some((k.as_string()?, v.as_string()?)))
            .collect())
    }

    /// Writes one batch in one transaction: its chunks (numbered from `next_chunk` per
    /// document), metas, acknowledgements and cursor.
    pub(crate) async fn write(
        &self,
        batch: &LocalWrite,
        kv: &[(String, Option<String>)],
        mut next_chunk: impl FnMut(&DocumentId) -> u32,
    ) -> Result<(), ClientError> {
        if batch.is_empty() && kv.is_empty() {
            return Ok(());
        }
        let run = async {
            let tx = self
                .0
                .transaction(&[CHUNKS, META, ACKED, KV], TransactionMode::ReadWrite)?;
            {
                let chunks = tx.store(CHUNKS)?;
                for (doc, bytes) in &batch.chunks {
                    let id = doc.to_string();
                    let n = next_chunk(doc);
                    let row = object(&[
                        ("id", id.as_str().into()),
                        ("n", f64::from(n).into()),
                        ("bytes", Uint8Array::from(&bytes[..]).into()),
                    ]);
                    chunks.put(&row, None).await?;
                }
                let meta = tx.store(META)?;
                for m in &batch.metas {
                    meta.put(&meta_row(m), None).await?;
                }
                let acked = tx.store(ACKED)?;
                for (doc, heads) in &batch.acked {
                    acked
                        .put(&encode_heads(heads).into(), Some(&doc.to_string().into()))
                        .await?;
                }
                let store = tx.store(KV)?;
                if let Some(c) = &batch.cursor {
                    store
                        .put(&encode_cursor(c).into(), Some(&"cursor".into()))
                        .await?;
                }
                for (key, value) in kv {
                    match value {
                        Some(v) => {
                            store
                                .put(&v.as_str().into(), Some(&key.as_str().into()))
                                .await?;
                        }
                        None => store.delete(key.as_str().into()).await?,
                    }
                }
            }
            tx.commit().await
        };
        run.await.map_err(storage)
    }

    /// Meta rows only (back-filling documents saved before `meta` existed).
    pub(crate) async fn write_metas(&self, metas: &[MetaRow]) -> Result<(), ClientError> {
        if metas.is_empty() {
            return Ok(());
        }
        let run = async {
            let tx = self.0.transaction(&[META], TransactionMode::ReadWrite)?;
            {
                let store = tx.store(META)?;
                for m in metas {
                    store.put(&meta_row(m), None).await?;
                }
            }
            tx.commit().await
        };
        run.await.map_err(storage)
    }

    /// Replaces a document's save and chunks by one new save.
    pub(crate) async fn compact(&self, doc: &DocumentId, save: &[u8]) -> Result<(), ClientError> {
        let id = doc.to_string();
        let run = async {
            let tx = self
                .0
                .transaction(&[DOCS, CHUNKS], TransactionMode::ReadWrite)?;
            {
                let row = object(&[
                    ("id", id.as_str().into()),
                    ("bytes", Uint8Array::from(save).into()),
                ]);
                tx.store(DOCS)?.put(&row, None).await?;
                tx.store(CHUNKS)?.delete(chunks_of(&id)?.into()).await?;
            }
            tx.commit().await
        };
        run.await.map_err(storage)
    }

    /// Removes documents the phone no longer holds (the server has them): their saves,
    /// chunks, meta rows and acknowledgements, in one transaction.
    pub(crate) async fn forget(&self, docs: &[DocumentId]) -> Result<(), ClientError> {
        let run = async {
            let tx = self
                .0
                .transaction(&[DOCS, CHUNKS, META, ACKED], TransactionMode::ReadWrite)?;
            for doc in docs {
                let id = doc.to_string();
                for store in [DOCS, META, ACKED] {
                    tx.store(store)?.delete(id.as_str().into()).await?;
                }
                tx.store(CHUNKS)?.delete(chunks_of(&id)?.into()).await?;
            }
            tx.commit().await
        };
        run.await.map_err(storage)
    }

    /// Every key-value row whose key starts with `prefix`: `(key, value)`.
    pub(crate) async fn with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, ClientError> {
        let run = async {
            let tx = self.0.transaction(&[KV], TransactionMode::ReadOnly)?;
            tx.store(KV)?.scan(None, None, None, None).await
        };
        let rows = run.await.map_err(storage)?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, v)| Some((k.as_string()?, v.as_string()?)))
            .filter(|(k, _)| k.starts_with(prefix))
            .collect())
    }

    /// Removes every record, acknowledgement, cursor, draft, intent and the session: what a
    /// user leaves on a shared phone. Only the device's identity and language stay.
    pub(crate) async fn wipe_records(&self) -> Result<(), ClientError> {
        let keys: Vec<String> = self
            .with_prefix("")
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !KEPT_ON_WIPE.contains(&k.as_str()))
            .collect();
        let run = async {
            let tx = self
                .0
                .transaction(&[DOCS, CHUNKS, META, ACKED, KV], TransactionMode::ReadWrite)?;
            for store in [DOCS, CHUNKS, META, ACKED] {
                tx.store(store)?.clear().await?;
            }
            let kv = tx.store(KV)?;
            for k in &keys {
                kv.delete(k.as_str().into()).await?;
            }
            tx.commit().await
        };
        run.await.map_err(storage)
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, ClientError> {
        let run = async {
            let tx = self.0.transaction(&[KV], TransactionMode::ReadOnly)?;
            tx.store(KV)?.get(key.into()).await
        };
        run.await
            .map(|v| v.and_then(|v| v.as_string()))
            .map_err(storage)
    }

    pub(crate) async fn put(&self, key: &str, value: Option<&str>) -> Result<(), ClientError> {
        let run = async {
            let tx = self.0.transaction(&[KV], TransactionMode::ReadWrite)?;
            {
                let store = tx.store(KV)?;
                match value {
                    Some(v) => {
                        store.put(&JsValue::from_str(v), Some(&key.into())).await?;
                    }
                    None => store.delete(key.into()).await?,
                }
            }
            tx.commit().await
        };
        run.await.map_err(storage)
    }
}

fn meta_row(m: &MetaRow) -> JsValue {
    let mut fields = vec![("id", JsValue::from(m.id.to_string()))];
    if let Some(s) = m
        .summary
        .as_ref()
        .and_then(|s| serde_json::to_string(s).ok())
    {
        fields.push(("summary", s.into()));
    }
    if let Some(c) = m
        .contribution
        .as_ref()
        .and_then(|c| serde_json::to_string(c).ok())
    {
        fields.push(("contribution", c.into()));
    }
    object(&fields)
}
