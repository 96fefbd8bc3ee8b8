//! The phone's store: IndexedDB through `rexie`.
//!
//! - `docs`: one row per document, `{id, bytes}`: the whole saved document (records are small;
//!   a full save keeps loading a single `Automerge::load`).
//! - `meta`: one row per document, `{id, summary, contribution}`: its list summary and dashboard
//!   contribution, read at start without the documents' bytes, so the lists and the overview
//!   show before any document is loaded.
//! - `acked`: per document, the heads the server holds (JSON list of hex hashes).
//! - `kv`: the session, the sync cursor, the device's actor, the language and form drafts.
//!
//! Every write is one transaction that is committed before the caller goes on: a change is
//! durable here before the UI calls it saved or a frame leaves the device.

use js_sys::{Object, Reflect, Uint8Array};
use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};

const DB: &str = "gridvisit";
const DOCS: &str = "docs";
const META: &str = "meta";
const ACKED: &str = "acked";
const KV: &str = "kv";

/// A row of `docs` as loaded: the saved document.
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) bytes: Vec<u8>,
}

/// A row of `meta` as loaded: what lists and the overview need.
pub(crate) struct Meta {
    pub(crate) id: String,
    pub(crate) summary: Option<String>,
    pub(crate) contribution: Option<String>,
}

/// A document to write, with its meta.
pub(crate) struct DocRow {
    pub(crate) id: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) summary: Option<String>,
    pub(crate) contribution: Option<String>,
}

/// A storage failure, in words a worker can act on.
pub(crate) fn describe(e: &rexie::Error) -> String {
    let raw = format!("{e:?}");
    if raw.contains("Quota") {
        format!("手机存储空间不足，未能保存 · Storage is full, nothing was saved ({raw})")
    } else {
        format!("本机存储出错 · Local storage failed: {raw}")
    }
}

/// The open database.
pub(crate) struct Db(Rexie);

impl Db {
    pub(crate) async fn open() -> Result<Self, String> {
        // Version 2 added `meta`: a browser holding version 1 gets the store on upgrade and
        // the engine back-fills it from the documents.
        Rexie::builder(DB)
            .version(2)
            .add_object_store(ObjectStore::new(DOCS).key_path("id"))
            .add_object_store(ObjectStore::new(META).key_path("id"))
            .add_object_store(ObjectStore::new(ACKED))
            .add_object_store(ObjectStore::new(KV))
            .build()
            .await
            .map(Self)
            .map_err(|e| describe(&e))
    }

    /// Every value of a store.
    async fn all(&self, store: &str) -> Result<Vec<JsValue>, String> {
        let run = async {
            let tx = self.0.transaction(&[store], TransactionMode::ReadOnly)?;
            tx.store(store)?.get_all(None, None).await
        };
        run.await.map_err(|e| describe(&e))
    }

    /// Every document row.
    pub(crate) async fn docs(&self) -> Result<Vec<Row>, String> {
        Ok(self
            .all(DOCS)
            .await?
            .into_iter()
            .filter_map(|v| {
                let id = Reflect::get(&v, &"id".into()).ok()?.as_string()?;
                let bytes = Reflect::get(&v, &"bytes".into())
                    .ok()?
                    .dyn_into::<Uint8Array>()
                    .ok()?
                    .to_vec();
                Some(Row { id, bytes })
            })
            .collect())
    }

    /// Every meta row.
    pub(crate) async fn metas(&self) -> Result<Vec<Meta>, String> {
        Ok(self
            .all(META)
            .await?
            .into_iter()
            .filter_map(|v| {
                let text = |key: &str| {
                    Reflect::get(&v, &key.into())
                        .ok()
                        .and_then(|s| s.as_string())
                };
                Some(Meta {
                    id: text("id")?,
                    summary: text("summary"),
                    contribution: text("contribution"),
                })
            })
            .collect())
    }

    /// Every acknowledged-heads entry: `(doc, JSON list of hex hashes)`.
    pub(crate) async fn acked(&self) -> Result<Vec<(String, String)>, String> {
        let run = async {
            let tx = self.0.transaction(&[ACKED], TransactionMode::ReadOnly)?;
            let rows = tx.store(ACKED)?.scan(None, None, None, None).await?;
            Ok::<_, rexie::Error>(rows)
        };
        let rows = run.await.map_err(|e| describe(&e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, v)| Some((k.as_string()?, v.as_string()?)))
            .collect())
    }

    /// Writes documents (full saves with summaries) and acknowledged heads in one transaction.
    pub(crate) async fn write(
        &self,
        docs: &[DocRow],
        acked: &[(String, String)],
    ) -> Result<(), String> {
        if docs.is_empty() && acked.is_empty() {
            return Ok(());
        }
        let run = async {
            let tx = self
                .0
                .transaction(&[DOCS, META, ACKED], TransactionMode::ReadWrite)?;
            {
                let store = tx.store(DOCS)?;
                let meta = tx.store(META)?;
                for doc in docs {
                    let id: JsValue = doc.id.as_str().into();
                    let row = Object::new();
                    let _ = Reflect::set(&row, &"id".into(), &id);
                    let _ = Reflect::set(&row, &"bytes".into(), &Uint8Array::from(&doc.bytes[..]));
                    store.put(&row, None).await?;
                    let row = Object::new();
                    let _ = Reflect::set(&row, &"id".into(), &id);
                    for (key, value) in [
                        ("summary", &doc.summary),
                        ("contribution", &doc.contribution),
                    ] {
                        if let Some(s) = value {
                            let _ = Reflect::set(&row, &key.into(), &s.as_str().into());
                        }
                    }
                    meta.put(&row, None).await?;
                }
                let store = tx.store(ACKED)?;
                for (id, heads) in acked {
                    store.put(&heads.into(), Some(&id.into())).await?;
                }
            }
            tx.commit().await
        };
        run.await.map_err(|e| describe(&e))
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let run = async {
            let tx = self.0.transaction(&[KV], TransactionMode::ReadOnly)?;
            tx.store(KV)?.get(key.into()).await
        };
        run.await
            .map(|v| v.and_then(|v| v.as_string()))
            .map_err(|e| describe(&e))
    }

    pub(crate) async fn put(&self, key: &str, value: Option<&str>) -> Result<(), String> {
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
        run.await.map_err(|e| describe(&e))
    }
}
