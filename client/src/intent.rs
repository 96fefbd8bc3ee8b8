//! What a user meant by an edit of an existing record, kept until the server holds it: a
//! change the server refuses is dropped from the document, and the edits made after it are
//! applied again, as new changes, on the document as the server holds it.

use automerge::AutomergeError;
use automerge::transaction::Transaction;
use serde::{Deserialize, Serialize};
use shared::model::IssueEvent;

use crate::forms::{HouseholdChange, write_household};
use crate::i18n::Lang;

/// One edit, as the screen that made it described it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "snake_case")]
pub enum Intent {
    /// The household form's changes.
    Household {
        /// The fields it set.
        changes: Vec<HouseholdChange>,
    },
    /// An issue action.
    Event {
        /// The event it appends.
        event: IssueEvent,
    },
    /// Photos added to an issue (by SHA-256).
    Photos {
        /// Their hashes.
        photos: Vec<String>,
    },
    /// A conflict resolved by keeping one value.
    Resolve {
        /// The field.
        field: String,
        /// The value kept.
        value: String,
    },
}

impl Intent {
    /// Writes the edit.
    pub fn write(&self, tx: &mut Transaction<'_>) -> Result<(), AutomergeError> {
        match self {
            Self::Household { changes } => write_household(tx, changes),
            Self::Event { event } => shared::model::issue::append_event(tx, event),
            Self::Photos { photos } => shared::model::issue::add_photos(tx, "photos", photos),
            Self::Resolve { field, value } => crate::view::resolve(tx, field, value),
        }
    }

    /// The edit in a few words, in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        match self {
            Self::Household { changes } => {
                let fields: Vec<&str> = changes
                    .iter()
                    .map(|c| match c {
                        HouseholdChange::Head(_) => lang.t("户主", "head"),
                        HouseholdChange::Contact(_) => lang.t("电话", "phone"),
                        HouseholdChange::Members(_) => lang.t("人数", "members"),
                        HouseholdChange::Tag(..) => lang.t("标签", "tags"),
                        HouseholdChange::Notes(_) => lang.t("备注", "notes"),
                    })
                    .collect();
                format!(
                    "{} ({})",
                    lang.t("修改住户", "household edit"),
                    fields.join(", ")
                )
            }
            Self::Event { event } => {
                let note = event.note.chars().take(40).collect::<String>();
                if note.is_empty() {
                    lang.event(event.kind).to_owned()
                } else {
                    format!("{}「{note}」", lang.event(event.kind))
                }
            }
            Self::Photos { photos } => {
                format!("{} {}", lang.t("添加照片", "photos added:"), photos.len())
            }
            Self::Resolve { field, value } => {
                format!("{} {field} = {value}", lang.t("采用", "kept"))
            }
        }
    }

    /// The edit in both languages, Chinese first.
    pub fn describe_both(&self) -> String {
        format!("{} · {}", self.describe(Lang::Zh), self.describe(Lang::En))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::{EventKind, Role};
    use shared::time::Millis;

    #[test]
    fn intents_round_trip_and_say_what_they_did() {
        let event = IssueEvent {
            id: "e1".into(),
            kind: EventKind::Comment,
            at: Millis(5),
            actor: "w".into(),
            role: Some(Role::Worker),
            note: "已联系物业".into(),
            level: None,
            assignee: None,
            limit: None,
            satisfied: None,
            score: None,
        };
        let all = [
            Intent::Household {
                changes: vec![
                    HouseholdChange::Members(4),
                    HouseholdChange::Tag("veteran".into(), true),
                ],
            },
            Intent::Event { event },
            Intent::Resolve {
                field: "members".into(),
                value: "6".into(),
            },
        ];
        for i in &all {
            let json = serde_json::to_string(i).expect("json");
            assert_eq!(&serde_json::from_str::<Intent>(&json).expect("back"), i);
        }
        assert_eq!(all[1].describe(Lang::Zh), "备注「已联系物业」");
        assert_eq!(all[0].describe(Lang::En), "household edit (members, tags)");
    }
}
