//! A record's history: who changed what, when, read from the document's changes. The app's
//! history screen and the server's record API both read it here.
//!
//! gridvisit writes the user into each change's message, so every change names its writer.
//! A field set to a new value reads "old → new"; a phone number is masked as the record's
//! header masks it (`138****5678`), so the history never shows more than the record does.

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
    /// The fields set to a value, with the value before (what a screen shows in words).
    pub fields: Vec<FieldChange>,
}

/// A field set to a value by one change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// Its path (`members`, `address.room`, `items.0.area`).
    pub field: String,
    /// The value before the change, if it had one.
    pub old: Option<String>,
    /// The value the change set.
    pub new: String,
}

/// Fields whose values are shown masked.
const MASKED: [&str; 1] = ["contact"];

/// The words a screen uses for a field path: Chinese, English.
pub fn label(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field {
        "head" => ("户主", "head"),
        "contact" => ("电话", "phone"),
        "members" => ("成员数", "members"),
        "notes" => ("备注", "notes"),
        "tags" => ("标签", "tags"),
        "address.building" => ("楼栋", "building"),
        "address.unit" => ("单元", "unit"),
        "address.room" => ("房号", "room"),
        "outcome" => ("走访结果", "outcome"),
        "description" => ("描述", "description"),
        "conclusions" => ("结论", "conclusions"),
        "heldAt" => ("研判时间", "held at"),
        _ => return None,
    })
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

fn show_in(field: &str, v: &Value<'_>) -> String {
    let key = field.rsplit('.').next().unwrap_or(field);
    let shown = show(v);
    if MASKED.contains(&key) {
        super::household::mask(&shown)
    } else {
        shown
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

/// The scalar value at `key` of `obj` as of `heads` (before a change), shown as `field` is.
fn before(
    doc: &Automerge,
    obj: &automerge::ObjId,
    key: &str,
    heads: &[automerge::ChangeHash],
    field: &str,
) -> Option<String> {
    use automerge::ReadDoc;
    match doc.get_at(obj, key, heads).ok()?? {
        (v @ Value::Scalar(_), _) => Some(show_in(field, &v)),
        (Value::Object(_), _) => None,
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
            let mut fields = Vec::new();
            let mut what: Vec<String> = patches
                .iter()
                .map(|p| {
                    let path = path_of(&p.path);
                    match &p.action {
                        PatchAction::PutMap { key, value, .. } => {
                            let field = join(&path, key);
                            let new = show_in(&field, &value.0);
                            let old = before(doc, &p.obj, key, c.deps(), &field);
                            let line = match &old {
                                Some(o) if *o != new => format!("{field} {o} → {new}"),
                                _ => format!("{field} = {new}"),
                            };
                            fields.push(FieldChange { field, old, new });
                            line
                        }
                        PatchAction::PutSeq { index, value, .. } => {
                            let field = join(&path, &index.to_string());
                            format!("{field} = {}", show_in(&field, &value.0))
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
                fields,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use automerge::transaction::CommitOptions;
    use automerge::{AutomergeError, ROOT, transaction::Transactable};

    use super::*;
    use crate::model::HouseholdDraft;

    #[test]
    fn history_reads_old_to_new_and_masks_the_phone_as_the_record_does() {
        let draft = HouseholdDraft {
            grid: "s01/c01/g01".parse().expect("grid"),
            building: "3".into(),
            unit: "1".into(),
            room: "402".into(),
            head: "周淑珍".into(),
            contact: "13912345678".into(),
            members: 3,
            tags: vec![],
            notes: String::new(),
        };
        let mut doc = Automerge::new();
        let by = |u: &str| CommitOptions::default().with_message(u.to_owned());
        doc.transact_with::<_, _, AutomergeError, _>(|_| by("w1"), |tx| draft.write(tx))
            .expect("create");
        doc.transact_with::<_, _, AutomergeError, _>(
            |_| by("w2"),
            |tx| {
                tx.put(ROOT, "contact", "13800001111")?;
                tx.put(ROOT, "members", 4)
            },
        )
        .expect("edit");
        let h = history(&doc);
        let all = format!("{h:?}");
        assert!(
            !all.contains("13912345678") && !all.contains("13800001111"),
            "{all}"
        );
        let edit = h.iter().find(|e| e.user == "w2").expect("the edit");
        assert!(
            edit.what
                .contains(&"contact 139****5678 → 138****1111".to_owned()),
            "{edit:?}"
        );
        assert!(edit.what.contains(&"members 3 → 4".to_owned()), "{edit:?}");
        let members = edit
            .fields
            .iter()
            .find(|f| f.field == "members")
            .expect("members");
        assert_eq!(
            (members.old.as_deref(), members.new.as_str()),
            (Some("3"), "4")
        );
        assert_eq!(label("members"), Some(("成员数", "members")));
    }
}
