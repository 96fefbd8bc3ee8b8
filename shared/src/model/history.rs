//! A record's history: who changed what, when, read from the document's changes. The app's
//! history screen and the server's record API both read it here.
//!
//! gridvisit writes the user into each change's message, so every change names its writer.

use std::collections::BTreeMap;

use automerge::{Automerge, PatchAction, Prop, ScalarValue, Value};
use serde::Serialize;

use crate::time::Millis;

/// One change of a document's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The change's hash.
    pub hash: String,
    /// Hex of the actor that wrote it.
    pub actor: String,
    /// The actor's sequence number of this change.
    pub seq: u64,
    /// The changes it depends on.
    pub deps: Vec<String>,
    /// When (device time of the change, second precision).
    #[serde(rename = "time")]
    pub at: Millis,
    /// Who (the user in the change's message).
    pub user: String,
    /// What changed, one line per field.
    pub what: Vec<String>,
}

/// Who wrote with which actor: actor hex → user.
pub fn users_by_actor(doc: &Automerge) -> BTreeMap<String, String> {
    doc.get_changes(&[])
        .iter()
        .map(|c| {
            (
                c.actor_id().to_hex_string(),
                c.message().map(str::to_owned).unwrap_or_default(),
            )
        })
        .collect()
}

fn path_of(path: &[(automerge::ObjId, Prop)]) -> String {
    path.iter()
        .map(|(_, p)| match p {
            Prop::Map(k) => k.clone(),
            Prop::Seq(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn show(v: &Value<'_>) -> String {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(t) => t.to_string(),
            other => other.to_string(),
        },
        Value::Object(_) => "{…}".into(),
    }
}

/// The document's changes, oldest first, each with its user and what it changed.
pub fn history(doc: &Automerge) -> Vec<HistoryEntry> {
    let mut changes = doc.get_changes(&[]);
    changes.sort_by_key(|c| (c.timestamp(), c.seq()));
    changes
        .iter()
        .map(|c| {
            let patches = doc.diff(c.deps(), &[c.hash()]);
            let mut what: Vec<String> = patches
                .iter()
                .map(|p| {
                    let path = path_of(&p.path);
                    match &p.action {
                        PatchAction::PutMap { key, value, .. } => {
                            format!("{} = {}", join(&path, key), show(&value.0))
                        }
                        PatchAction::PutSeq { index, value, .. } => {
                            format!("{} = {}", join(&path, &index.to_string()), show(&value.0))
                        }
                        PatchAction::Insert { values, .. } => format!("{path} +{}", values.len()),
                        PatchAction::SpliceText { value, .. } => {
                            format!("{path} + \"{}\"", value.make_string())
                        }
                        PatchAction::DeleteMap { key } => format!("{} ✕", join(&path, key)),
                        PatchAction::DeleteSeq { length, .. } => format!("{path} -{length}"),
                        PatchAction::Increment { value, .. } => format!("{path} +{value}"),
                        PatchAction::Conflict { .. } | PatchAction::Mark { .. } => path,
                    }
                })
                .collect();
            what.dedup();
            HistoryEntry {
                hash: c.hash().to_string(),
                actor: c.actor_id().to_hex_string(),
                seq: c.seq(),
                deps: c.deps().iter().map(ToString::to_string).collect(),
                at: Millis(c.timestamp() * 1000),
                user: c.message().map(str::to_owned).unwrap_or_default(),
                what,
            }
        })
        .collect()
}
