//! Value rules: what two valid concurrent edits can break together (text that grew past its
//! length, a number out of range, fields that disagree). They are checked on the merged
//! record and flagged as "needs correction", never refused (DESIGN.md decision 5); the app's
//! forms keep a user from writing them in the first place.

use serde::{Deserialize, Serialize};

use super::Record;
use crate::time::Millis;

/// Which value rule a field breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// Longer than `max` characters.
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Outside `min..=max`.
    OutOfRange {
        /// The lowest value allowed.
        min: i64,
        /// The highest value allowed.
        max: i64,
    },
    /// A coordinate or accuracy that is not on Earth.
    NotOnEarth,
    /// A time before 1970 or after 2200.
    Implausible,
    /// A visit that ends before it starts, or lasts over 12 hours.
    BadDuration,
}

/// One field of a record that needs correcting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The field (`members`, `items.2.description`).
    pub field: String,
    /// What is wrong with it.
    #[serde(flatten)]
    pub rule: Rule,
}

/// The most members a household may have.
pub const MAX_MEMBERS: i64 = 200;
/// Visits longer than this are data-entry mistakes.
pub const MAX_VISIT: i64 = 12 * Millis::HOUR;
/// Times after this (the year 2200) are not plausible.
const MAX_TIME: i64 = 7_258_118_400_000;

struct Checker(Vec<Problem>);

impl Checker {
    fn flag(&mut self, field: impl Into<String>, rule: Rule) {
        self.0.push(Problem {
            field: field.into(),
            rule,
        });
    }

    fn len(&mut self, field: impl Into<String>, text: &str, max: usize) {
        if text.chars().count() > max {
            self.flag(field, Rule::TooLong { max });
        }
    }
}

/// Every value rule `record` breaks (empty: nothing to correct).
pub fn problems(record: &Record) -> Vec<Problem> {
    let mut c = Checker(Vec::new());
    match record {
        Record::Household(h) => {
            c.len("head", &h.head.value, 64);
            c.len("contact", &h.contact.value, 32);
            if !(0..=MAX_MEMBERS).contains(&h.members.value) {
                c.flag(
                    "members",
                    Rule::OutOfRange {
                        min: 0,
                        max: MAX_MEMBERS,
                    },
                );
            }
            for t in &h.tags {
                c.len("tags", t, 32);
            }
            c.len("notes", &h.notes, 4000);
        }
        Record::Visit(v) => {
            if !(0..=MAX_TIME).contains(&v.started_at.0) {
                c.flag("startedAt", Rule::Implausible);
            }
            if let Some(end) = v.ended_at
                && !(v.started_at.0..=v.started_at.0.saturating_add(MAX_VISIT)).contains(&end.0)
            {
                c.flag("endedAt", Rule::BadDuration);
            }
            if let Some(l) = v.location
                && (!(-90.0..=90.0).contains(&l.lat)
                    || !(-180.0..=180.0).contains(&l.lon)
                    || !(0.0..=1.0e6).contains(&l.accuracy))
            {
                c.flag("location", Rule::NotOnEarth);
            }
            for (i, item) in v.items.iter().enumerate() {
                c.len(format!("items.{i}.description"), &item.description, 2000);
            }
            c.len("notes", &v.notes, 4000);
        }
        Record::Issue(i) => {
            c.len("description", &i.description, 4000);
            c.len("location", &i.location, 200);
            for e in &i.events {
                c.len(format!("events.{}.note", e.id), &e.note, 2000);
            }
        }
        Record::Review(r) => {
            if !(0..=MAX_TIME).contains(&r.held_at.0) {
                c.flag("heldAt", Rule::Implausible);
            }
            for (i, a) in r.attendees.iter().enumerate() {
                c.len(format!("attendees.{i}"), a, 64);
            }
            for (i, t) in r.topics.iter().enumerate() {
                c.len(format!("topics.{i}"), t, 500);
            }
            c.len("conclusions", &r.conclusions, 4000);
        }
    }
    c.0
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;

    use super::*;
    use crate::model::HouseholdDraft;

    #[test]
    fn two_valid_notes_merged_past_the_limit_need_correction_but_read() {
        let draft = HouseholdDraft::sample("s01/c01/g01");
        let mut a = automerge::Automerge::new();
        a.transact::<_, _, automerge::AutomergeError>(|tx| draft.write(tx))
            .expect("write");
        let mut b = a.fork();
        let long = "很".repeat(2500);
        for doc in [&mut a, &mut b] {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                crate::model::household::edit::set_notes(tx, &long)
            })
            .expect("edit");
        }
        a.merge(&mut b).expect("merge");
        let record = Record::read(&a).expect("still a household");
        assert_eq!(
            problems(&record),
            vec![Problem {
                field: "notes".into(),
                rule: Rule::TooLong { max: 4000 }
            }]
        );
        a.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "members", 500))
            .expect("edit");
        let fields: Vec<String> = problems(&Record::read(&a).expect("read"))
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, vec!["members", "notes"]);
    }
}
