//! What a list shows of one record: small enough to keep beside every document in a
//! phone's IndexedDB, and what the server's paged lists answer with, so a supervisor's
//! drill-down lists records it does not hold.

use serde::{Deserialize, Serialize};

use crate::ids::DocumentId;
use crate::model::issue::{EventKind, Level};
use crate::model::lifecycle::Status;
use crate::model::visit::Outcome;
use crate::model::{Area, Record};
use crate::time::Millis;

/// What a list needs to know about one record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Summary {
    /// A household.
    Household(HouseholdSummary),
    /// A visit.
    Visit(VisitSummary),
    /// An issue.
    Issue(IssueSummary),
    /// A monthly review.
    Review(ReviewSummary),
}

/// A household in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HouseholdSummary {
    /// Grid path.
    pub grid: String,
    /// `building-unit-room`.
    pub label: String,
    /// Head of household.
    pub head: String,
    /// Members.
    pub members: i64,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether a field holds concurrent values.
    pub conflicted: bool,
    /// How many value rules it breaks (it needs correcting when not 0).
    #[serde(default)]
    pub problems: usize,
}

/// A visit in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitSummary {
    /// Grid path.
    pub grid: String,
    /// The household visited.
    pub household: DocumentId,
    /// When it started.
    pub at: Millis,
    /// How it went.
    pub outcome: Outcome,
    /// Who visited.
    pub visitors: Vec<String>,
    /// Number of items found.
    pub items: usize,
    /// How many value rules it breaks (it needs correcting when not 0).
    #[serde(default)]
    pub problems: usize,
}

/// An issue in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueSummary {
    /// Grid path.
    pub grid: String,
    /// The household concerned.
    pub household: Option<DocumentId>,
    /// Area.
    pub area: Area,
    /// The start of its description.
    pub title: String,
    /// Derived status.
    pub status: Status,
    /// Derived level.
    pub level: Level,
    /// Derived assignee.
    pub assignee: Option<String>,
    /// Who reported it.
    pub reporter: String,
    /// When it was reported.
    pub reported_at: Millis,
    /// When the current step is due.
    pub deadline: Option<Millis>,
    /// How many value rules it breaks (it needs correcting when not 0).
    #[serde(default)]
    pub problems: usize,
    /// Its first photo (SHA-256), the list's thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
}

/// A monthly review in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewSummary {
    /// Grid path it is filed under.
    pub grid: String,
    /// Every grid it covers.
    pub grids: Vec<String>,
    /// When it was held.
    pub held_at: Millis,
    /// Who attended.
    pub attendees: Vec<String>,
    /// Matters discussed.
    pub topics: usize,
    /// Issues discussed.
    pub issues: usize,
    /// The start of its conclusions.
    pub title: String,
    /// How many value rules it breaks (it needs correcting when not 0).
    #[serde(default)]
    pub problems: usize,
}

impl Summary {
    /// The summary of a valid record.
    pub fn of(record: &Record) -> Self {
        let problems = crate::model::problems(record).len();
        match record {
            Record::Household(h) => Self::Household(HouseholdSummary {
                grid: h.grid.to_string(),
                label: h.address.label(),
                head: h.head.value.clone(),
                members: h.members.value,
                tags: h.tags.clone(),
                conflicted: h.address.building.is_conflicted()
                    || h.address.unit.is_conflicted()
                    || h.address.room.is_conflicted()
                    || h.head.is_conflicted()
                    || h.contact.is_conflicted()
                    || h.members.is_conflicted(),
                problems,
            }),
            Record::Visit(v) => Self::Visit(VisitSummary {
                grid: v.grid.to_string(),
                household: v.household,
                at: v.started_at,
                outcome: v.outcome.value,
                visitors: v.visitors.clone(),
                items: v.items.len(),
                problems,
            }),
            Record::Issue(i) => Self::Issue(IssueSummary {
                grid: i.grid.to_string(),
                household: i.household,
                area: i.area,
                title: i.description.chars().take(80).collect(),
                status: i.state.status,
                level: i.state.level,
                assignee: i.state.assignee.clone(),
                reporter: i
                    .events
                    .iter()
                    .find(|e| e.kind == EventKind::Report)
                    .map(|e| e.actor.clone())
                    .unwrap_or_default(),
                reported_at: i.state.reported_at,
                deadline: i.state.deadline,
                problems,
                photo: i.detail.photos.first().cloned(),
            }),
            Record::Review(r) => Self::Review(ReviewSummary {
                grid: r.grid.to_string(),
                grids: r.grids.iter().map(ToString::to_string).collect(),
                held_at: r.held_at,
                attendees: r.attendees.clone(),
                topics: r.topics.len(),
                issues: r.issues.len(),
                title: r.conclusions.chars().take(80).collect(),
                problems,
            }),
        }
    }

    /// How many value rules the record breaks.
    pub fn problems(&self) -> usize {
        match self {
            Self::Household(h) => h.problems,
            Self::Visit(v) => v.problems,
            Self::Issue(i) => i.problems,
            Self::Review(r) => r.problems,
        }
    }

    /// The record's grid.
    pub fn grid(&self) -> &str {
        match self {
            Self::Household(h) => &h.grid,
            Self::Visit(v) => &v.grid,
            Self::Issue(i) => &i.grid,
            Self::Review(r) => &r.grid,
        }
    }
}

/// What a household search matches on: its address, head and contact, lowercased. `None`
/// for other records.
pub fn search_text(record: &Record) -> Option<String> {
    match record {
        Record::Household(h) => Some(
            format!("{} {} {}", h.address.label(), h.head.value, h.contact.value).to_lowercase(),
        ),
        _ => None,
    }
}
