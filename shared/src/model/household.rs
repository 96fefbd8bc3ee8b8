//! The household record: who lives where in a grid.

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde::Serialize;

use super::field::{self, Field};
use super::{RecordKind, SchemaError, put_header};
use crate::ids::GridId;

/// Building, unit and room of a household. Each part is a scalar: concurrent edits conflict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Address {
    /// Building (楼栋).
    pub building: Field<String>,
    /// Unit (单元).
    pub unit: Field<String>,
    /// Room (房号).
    pub room: Field<String>,
}

impl Address {
    /// `building-unit-room`, the way workers write it on a door list.
    pub fn label(&self) -> String {
        format!(
            "{}-{}-{}",
            self.building.value, self.unit.value, self.room.value
        )
    }
}

/// A household, as read from its document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Household {
    /// The grid the household belongs to.
    pub grid: GridId,
    /// Its address.
    pub address: Address,
    /// Head of household (text: merges character by character).
    pub head: Field<String>,
    /// Contact phone; show [`Household::masked_contact`] in lists.
    pub contact: Field<String>,
    /// Number of members.
    pub members: Field<i64>,
    /// Tags such as `elderly-alone`, `disabled`, `low-income`, `party-member`, sorted.
    pub tags: Vec<String>,
    /// Free-text notes (text).
    pub notes: String,
}

/// What a worker fills in to register a household.
#[derive(Clone, Debug, PartialEq)]
pub struct HouseholdDraft {
    /// The grid.
    pub grid: GridId,
    /// Building.
    pub building: String,
    /// Unit.
    pub unit: String,
    /// Room.
    pub room: String,
    /// Head of household.
    pub head: String,
    /// Contact phone.
    pub contact: String,
    /// Number of members.
    pub members: i64,
    /// Tags.
    pub tags: Vec<String>,
    /// Notes.
    pub notes: String,
}

#[cfg(test)]
impl HouseholdDraft {
    /// A valid household of `grid` (room 101, two members) for the crate's tests.
    pub(crate) fn sample(grid: &str) -> Self {
        Self {
            grid: grid.parse().expect("grid"),
            building: "1".into(),
            unit: "1".into(),
            room: "101".into(),
            head: "王".into(),
            contact: String::new(),
            members: 2,
            tags: vec![],
            notes: String::new(),
        }
    }
}

impl Household {
    /// Reads and validates a household document.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, SchemaError> {
        let grid = field::req_string(doc, &ROOT, "grid")?.value.parse()?;
        let addr = field::object(doc, &ROOT, "address", ObjType::Map)?
            .ok_or(SchemaError::Missing("address"))?;
        let address = Address {
            building: field::req_string(doc, &addr, "building")?,
            unit: field::req_string(doc, &addr, "unit")?,
            room: field::req_string(doc, &addr, "room")?,
        };
        let head = field::req_string(doc, &ROOT, "head")?;
        let contact =
            field::string(doc, &ROOT, "contact")?.unwrap_or_else(|| Field::plain(String::new()));
        let members = field::int(doc, &ROOT, "members")?.unwrap_or_else(|| Field::plain(0));
        let mut tags = Vec::new();
        if let Some(map) = field::object(doc, &ROOT, "tags", ObjType::Map)? {
            for key in doc.keys(&map) {
                let on = matches!(
                    doc.get(&map, key.as_str()),
                    Ok(Some((Value::Scalar(v), _))) if *v == ScalarValue::Boolean(true)
                );
                if on {
                    tags.push(key);
                }
            }
        }
        tags.sort();
        let notes = field::string(doc, &ROOT, "notes")?
            .map(|f| f.value)
            .unwrap_or_default();
        Ok(Self {
            grid,
            address,
            head,
            contact,
            members,
            tags,
            notes,
        })
    }

    /// The contact with its middle hidden, for lists: `138****5678`.
    pub fn masked_contact(&self) -> String {
        mask(&self.contact.value)
    }
}

/// Hides all but the first three and last four characters.
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..3].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 7));
    out.extend(&chars[chars.len() - 4..]);
    out
}

impl HouseholdDraft {
    /// Writes a new household into an empty document.
    pub fn write<T: Transactable>(&self, tx: &mut T) -> Result<(), automerge::AutomergeError> {
        put_header(tx, RecordKind::Household, &self.grid)?;
        let addr = tx.put_object(ROOT, "address", ObjType::Map)?;
        tx.put(&addr, "building", self.building.as_str())?;
        tx.put(&addr, "unit", self.unit.as_str())?;
        tx.put(&addr, "room", self.room.as_str())?;
        field::put_text(tx, &ROOT, "head", &self.head)?;
        tx.put(ROOT, "contact", self.contact.as_str())?;
        tx.put(ROOT, "members", self.members)?;
        let tags = tx.put_object(ROOT, "tags", ObjType::Map)?;
        for tag in &self.tags {
            tx.put(&tags, tag.as_str(), true)?;
        }
        field::put_text(tx, &ROOT, "notes", &self.notes)?;
        Ok(())
    }
}

/// Edits of an existing household. Each sets one field, so concurrent edits of different
/// fields merge and edits of the same scalar field conflict visibly.
pub mod edit {
    use super::*;

    /// Sets the contact phone.
    pub fn set_contact<T: Transactable>(
        tx: &mut T,
        contact: &str,
    ) -> Result<(), automerge::AutomergeError> {
        tx.put(ROOT, "contact", contact)
    }

    /// Sets the member count.
    pub fn set_members<T: Transactable>(
        tx: &mut T,
        members: i64,
    ) -> Result<(), automerge::AutomergeError> {
        tx.put(ROOT, "members", members)
    }

    /// Sets `building`, `unit` or `room`.
    pub fn set_address<T: Transactable + ReadDoc>(
        tx: &mut T,
        part: &'static str,
        value: &str,
    ) -> Result<(), automerge::AutomergeError> {
        let addr = match tx.get(ROOT, "address")? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => tx.put_object(ROOT, "address", ObjType::Map)?,
        };
        tx.put(&addr, part, value)
    }

    /// Adds or removes a tag.
    pub fn set_tag<T: Transactable + ReadDoc>(
        tx: &mut T,
        tag: &str,
        on: bool,
    ) -> Result<(), automerge::AutomergeError> {
        let tags = match tx.get(ROOT, "tags")? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => tx.put_object(ROOT, "tags", ObjType::Map)?,
        };
        if on {
            tx.put(&tags, tag, true)
        } else {
            tx.delete(&tags, tag)
        }
    }

    /// Replaces the notes, as a text edit that merges with concurrent ones.
    pub fn set_notes<T: Transactable + ReadDoc>(
        tx: &mut T,
        notes: &str,
    ) -> Result<(), automerge::AutomergeError> {
        field::update_text(tx, &ROOT, "notes", notes)
    }

    /// Replaces the head of household's name, as a text edit.
    pub fn set_head<T: Transactable + ReadDoc>(
        tx: &mut T,
        head: &str,
    ) -> Result<(), automerge::AutomergeError> {
        field::update_text(tx, &ROOT, "head", head)
    }

    /// Resolves a conflict on a scalar field by writing the chosen value once more: the new
    /// write supersedes every concurrent one on every replica.
    pub fn resolve<T: Transactable>(
        tx: &mut T,
        key: &'static str,
        value: ScalarValue,
    ) -> Result<(), automerge::AutomergeError> {
        tx.put(ROOT, key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_middle_of_a_phone_number() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("1234"), "****");
    }
}
