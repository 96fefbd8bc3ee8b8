//! Reading typed fields out of an Automerge map, with concurrent values kept visible.
//!
//! Automerge keeps every value two peers set concurrently on the same key; it picks one
//! deterministically as "the" value. A [`Field`] carries that winner *and* the other candidates,
//! so the product can show a conflict instead of hiding it.

use automerge::{ActorId, ObjId, ObjType, ReadDoc, ScalarValue, Value, transaction::Transactable};
use serde::Serialize;

use super::SchemaError;

/// One value of a field together with the actor that wrote it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate<T> {
    /// The value.
    pub value: T,
    /// Hex of the actor that wrote it (map it to a user through the change history).
    pub actor: String,
}

/// A field's value as merged, and every concurrent value when peers disagreed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field<T> {
    /// The value every replica shows (Automerge's deterministic winner).
    pub value: T,
    /// All concurrent values including the winner; empty unless there is a conflict.
    pub conflicts: Vec<Candidate<T>>,
}

impl<T> Field<T> {
    /// A field without conflict.
    pub fn plain(value: T) -> Self {
        Self {
            value,
            conflicts: Vec::new(),
        }
    }

    /// Whether peers set this field concurrently to different values.
    pub fn is_conflicted(&self) -> bool {
        self.conflicts.len() > 1
    }
}

fn actor_of(id: &automerge::ObjId) -> String {
    match id {
        automerge::ObjId::Id(_, actor, _) => actor.to_hex_string(),
        automerge::ObjId::Root => String::new(),
    }
}

/// Reads every concurrent value at `key` with `convert`, returning `None` when the key is absent.
fn read_all<T: Clone, D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &'static str,
    convert: impl Fn(&D, &Value<'_>, &ObjId) -> Option<T>,
) -> Result<Option<Field<T>>, SchemaError> {
    let mut all = doc
        .get_all(obj, key)
        .map_err(|e| SchemaError::Automerge(e.to_string()))?;
    // JS apps write `null` for "not set": treat it as absent.
    all.retain(|(v, _)| !matches!(v, Value::Scalar(s) if matches!(s.as_ref(), ScalarValue::Null)));
    if all.is_empty() {
        return Ok(None);
    }
    let mut candidates = Vec::with_capacity(all.len());
    for (value, id) in &all {
        let converted = convert(doc, value, id).ok_or(SchemaError::WrongType(key))?;
        candidates.push(Candidate {
            value: converted,
            actor: actor_of(id),
        });
    }
    // `get` returns the winner, which is the last of `get_all`.
    let winner = candidates.pop().ok_or(SchemaError::WrongType(key))?;
    let conflicts = if candidates.is_empty() {
        Vec::new()
    } else {
        let mut all = candidates;
        all.push(winner.clone());
        all
    };
    Ok(Some(Field {
        value: winner.value,
        conflicts,
    }))
}

/// A string: a scalar string or a text object (text merges character by character).
pub fn string<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &'static str,
) -> Result<Option<Field<String>>, SchemaError> {
    read_all(doc, obj, key, |doc, value, id| match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        Value::Object(ObjType::Text) => doc.text(id).ok(),
        Value::Object(_) => None,
    })
}

/// A required string.
pub fn req_string<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &'static str,
) -> Result<Field<String>, SchemaError> {
    string(doc, obj, key)?.ok_or(SchemaError::Missing(key))
}

/// An integer (signed, unsigned or timestamp; Automerge and JS may store any of them).
pub fn int<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &'static str,
) -> Result<Option<Field<i64>>, SchemaError> {
    read_all(doc, obj, key, |_, value, _| match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            ScalarValue::F64(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        },
        Value::Object(_) => None,
    })
}

/// A number (JS writes every number as f64 unless it is an integer).
pub fn float<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &'static str,
) -> Result<Option<Field<f64>>, SchemaError> {
    read_all(doc, obj, key, |_, value, _| match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::F64(f) => Some(*f),
            ScalarValue::Int(i) => Some(*i as f64),
            ScalarValue::Uint(u) => Some(*u as f64),
            _ => None,
        },
        Value::Object(_) => None,
    })
}

/// A boolean.
pub fn boolean<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &'static str,
) -> Result<Option<Field<bool>>, SchemaError> {
    read_all(doc, obj, key, |_, value, _| match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Boolean(b) => Some(*b),
            _ => None,
        },
        Value::Object(_) => None,
    })
}

/// The object stored at `key` if it has type `ty` (the winning value when concurrent).
pub fn object<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &'static str,
    ty: ObjType,
) -> Result<Option<ObjId>, SchemaError> {
    match doc
        .get(obj, key)
        .map_err(|e| SchemaError::Automerge(e.to_string()))?
    {
        None => Ok(None),
        Some((Value::Object(t), id)) if t == ty => Ok(Some(id)),
        Some(_) => Err(SchemaError::WrongType(key)),
    }
}

/// The object at list index `i` if it is a map.
pub fn list_map<D: ReadDoc>(
    doc: &D,
    list: &ObjId,
    i: usize,
    what: &'static str,
) -> Result<ObjId, SchemaError> {
    match doc
        .get(list, i)
        .map_err(|e| SchemaError::Automerge(e.to_string()))?
    {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(SchemaError::WrongType(what)),
    }
}

/// Every string in a list (skipping nothing: a non-string is a schema error).
pub fn string_list<D: ReadDoc>(
    doc: &D,
    list: &ObjId,
    what: &'static str,
) -> Result<Vec<String>, SchemaError> {
    (0..doc.length(list))
        .map(|i| match doc.get(list, i) {
            Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                ScalarValue::Str(s) => Ok(s.to_string()),
                _ => Err(SchemaError::WrongType(what)),
            },
            // Automerge 3 (JS) writes strings as text objects, in lists too.
            Ok(Some((Value::Object(ObjType::Text), id))) => {
                doc.text(&id).map_err(|_| SchemaError::WrongType(what))
            }
            _ => Err(SchemaError::WrongType(what)),
        })
        .collect()
}

/// Writes `value` as a text object at `key` (so later edits merge character by character).
pub fn put_text<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    key: &'static str,
    value: &str,
) -> Result<ObjId, automerge::AutomergeError> {
    let text = tx.put_object(obj, key, ObjType::Text)?;
    tx.splice_text(&text, 0, 0, value)?;
    Ok(text)
}

/// Replaces the content of the text object at `key`, keeping the object so concurrent edits
/// merge; creates it when missing.
pub fn update_text<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    key: &'static str,
    value: &str,
) -> Result<(), automerge::AutomergeError> {
    match tx.get(obj, key)? {
        Some((Value::Object(ObjType::Text), id)) => tx.update_text(&id, value),
        _ => put_text(tx, obj, key, value).map(|_| ()),
    }
}

/// The actor ID a device uses for its edits: its bytes come from the caller.
pub fn actor(bytes: &[u8]) -> ActorId {
    ActorId::from(bytes)
}
