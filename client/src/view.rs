//! What the screens show, computed from records: plain Rust, tested natively.
//!
//! Lists are drawn from a [`Summary`] per document, kept next to the document in IndexedDB, so
//! a cold start renders the household list without loading a single Automerge document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::ids::DocumentId;
use shared::model::issue::{EventKind, Level};
use shared::model::lifecycle::Status;
use shared::model::visit::Outcome;
use shared::model::{Area, Record};
use shared::time::{Calendar, Millis};

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
}

impl Summary {
    /// The summary of a valid record.
    pub fn of(record: &Record) -> Self {
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
            }),
            Record::Visit(v) => Self::Visit(VisitSummary {
                grid: v.grid.to_string(),
                household: v.household,
                at: v.started_at,
                outcome: v.outcome.value,
                visitors: v.visitors.clone(),
                items: v.items.len(),
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
            }),
        }
    }

    /// The record's grid.
    pub fn grid(&self) -> &str {
        match self {
            Self::Household(h) => &h.grid,
            Self::Visit(v) => &v.grid,
            Self::Issue(i) => &i.grid,
        }
    }
}

/// Where a household stands for this week's visit (每周一次走访入户).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    /// Not visited this week: due.
    Due,
    /// Visited this week but nobody was home (or the visit was declined): go again.
    NotHome,
    /// Met this week.
    Visited,
}

/// One row of the household list.
#[derive(Clone, Debug, PartialEq)]
pub struct HouseholdRow {
    /// The household.
    pub id: DocumentId,
    /// Its summary.
    pub household: HouseholdSummary,
    /// This week's visit status.
    pub due: Due,
    /// The last visit, any week.
    pub last_visit: Option<Millis>,
    /// Open issues about it.
    pub open_issues: usize,
}

/// The households of `grid` (all grids when `None`), those due first, then by address.
pub fn household_rows(
    records: &BTreeMap<DocumentId, Summary>,
    grid: Option<&str>,
    now: Millis,
    calendar: Calendar,
) -> Vec<HouseholdRow> {
    let week = calendar.week(now);
    let mut rows: BTreeMap<DocumentId, HouseholdRow> = records
        .iter()
        .filter_map(|(id, s)| match s {
            Summary::Household(h) if grid.is_none_or(|g| h.grid == g) => Some((
                *id,
                HouseholdRow {
                    id: *id,
                    household: h.clone(),
                    due: Due::Due,
                    last_visit: None,
                    open_issues: 0,
                },
            )),
            _ => None,
        })
        .collect();
    for s in records.values() {
        match s {
            Summary::Visit(v) => {
                if let Some(row) = rows.get_mut(&v.household) {
                    row.last_visit = row.last_visit.max(Some(v.at));
                    if calendar.week(v.at) == week {
                        let this = match v.outcome {
                            Outcome::Met => Due::Visited,
                            Outcome::NotHome | Outcome::Declined => Due::NotHome,
                        };
                        row.due = row.due.max(this);
                    }
                }
            }
            Summary::Issue(i) if i.status != Status::Closed => {
                if let Some(row) = i.household.and_then(|h| rows.get_mut(&h)) {
                    row.open_issues += 1;
                }
            }
            _ => {}
        }
    }
    let mut rows: Vec<HouseholdRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        (a.due, natural_key(&a.household.label)).cmp(&(b.due, natural_key(&b.household.label)))
    });
    rows
}

/// Sorts "3-1-201" before "12-1-101": numbers compare as numbers.
fn natural_key(s: &str) -> Vec<(u64, String)> {
    s.split('-')
        .map(|p| (p.parse().unwrap_or(u64::MAX), p.to_owned()))
        .collect()
}

/// The visits of a household, newest first.
pub fn visits_of(
    records: &BTreeMap<DocumentId, Summary>,
    household: DocumentId,
) -> Vec<(DocumentId, VisitSummary)> {
    let mut v: Vec<_> = records
        .iter()
        .filter_map(|(id, s)| match s {
            Summary::Visit(v) if v.household == household => Some((*id, v.clone())),
            _ => None,
        })
        .collect();
    v.sort_by(|a, b| b.1.at.cmp(&a.1.at).then(a.0.cmp(&b.0)));
    v
}

/// Issues matching `keep`, open ones first (overdue, then by deadline), then closed ones,
/// newest first.
pub fn issues_where(
    records: &BTreeMap<DocumentId, Summary>,
    now: Millis,
    keep: impl Fn(&IssueSummary) -> bool,
) -> Vec<(DocumentId, IssueSummary)> {
    let mut v: Vec<_> = records
        .iter()
        .filter_map(|(id, s)| match s {
            Summary::Issue(i) if keep(i) => Some((*id, i.clone())),
            _ => None,
        })
        .collect();
    v.sort_by_key(|(id, i)| {
        let open = i.status != Status::Closed;
        let overdue = open && i.deadline.is_some_and(|d| now > d);
        (
            !open,
            !overdue,
            i.deadline.unwrap_or(Millis(i64::MAX)),
            std::cmp::Reverse(i.reported_at),
            *id,
        )
    });
    v
}

/// A worker's issues: those they hold or reported, and any open issue at grid level in their
/// grids.
pub fn my_issues(
    records: &BTreeMap<DocumentId, Summary>,
    user: &str,
    now: Millis,
) -> Vec<(DocumentId, IssueSummary)> {
    issues_where(records, now, |i| {
        i.assignee.as_deref() == Some(user)
            || i.reporter == user
            || (i.level == Level::Grid && i.status != Status::Closed)
    })
}

/// The actions a grid worker may take on an issue: small matters stay in the grid, so at grid
/// level they accept, handle, escalate to the community and close; above it they comment.
pub fn worker_actions(status: Status, level: Level) -> Vec<EventKind> {
    let mut actions = Vec::new();
    if level == Level::Grid {
        match status {
            Status::Reported => actions.extend([EventKind::Accept, EventKind::Escalate]),
            Status::Accepted | Status::Dispatched => {
                actions.extend([EventKind::Handle, EventKind::Escalate]);
            }
            Status::Handled | Status::Verified => actions.push(EventKind::Close),
            Status::Closed => actions.push(EventKind::Reopen),
        }
    }
    actions.push(EventKind::Comment);
    actions
}

/// Hex of 16 random bytes (IDs of events and devices).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> DocumentId {
        DocumentId::from_bytes([n; 16])
    }

    fn household(label: &str) -> Summary {
        Summary::Household(HouseholdSummary {
            grid: "s/c/g".into(),
            label: label.into(),
            head: "王".into(),
            members: 2,
            tags: vec![],
            conflicted: false,
        })
    }

    fn visit(h: u8, at: i64, outcome: Outcome) -> Summary {
        Summary::Visit(VisitSummary {
            grid: "s/c/g".into(),
            household: id(h),
            at: Millis(at),
            outcome,
            visitors: vec!["w".into()],
            items: 0,
        })
    }

    #[test]
    fn households_due_this_week_come_first_and_not_home_counts_as_due_again() {
        let now = Millis(1_800_000_000_000);
        let mut r = BTreeMap::new();
        r.insert(id(1), household("12-1-101"));
        r.insert(id(2), household("3-1-201"));
        r.insert(id(3), household("3-1-101"));
        r.insert(id(10), visit(1, now.0 - 1000, Outcome::Met));
        r.insert(id(11), visit(2, now.0 - 2000, Outcome::NotHome));
        // Last week's visit does not count for this week.
        r.insert(id(12), visit(3, now.0 - 8 * Millis::DAY, Outcome::Met));
        let rows = household_rows(&r, Some("s/c/g"), now, Calendar::CHINA);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.household.label.as_str(), r.due))
            .collect();
        assert_eq!(
            got,
            vec![
                ("3-1-101", Due::Due),
                ("3-1-201", Due::NotHome),
                ("12-1-101", Due::Visited)
            ]
        );
        assert_eq!(rows[0].last_visit, Some(Millis(now.0 - 8 * Millis::DAY)));
        assert!(household_rows(&r, Some("other/c/g"), now, Calendar::CHINA).is_empty());
    }

    #[test]
    fn a_met_visit_wins_over_not_home_in_the_same_week() {
        let now = Millis(1_800_000_000_000);
        let mut r = BTreeMap::new();
        r.insert(id(1), household("1-1-1"));
        r.insert(id(10), visit(1, now.0 - 1000, Outcome::Met));
        r.insert(id(11), visit(1, now.0 - 500, Outcome::NotHome));
        let rows = household_rows(&r, None, now, Calendar::CHINA);
        assert_eq!(rows[0].due, Due::Visited);
        assert_eq!(visits_of(&r, id(1)).first().map(|v| v.0), Some(id(11)));
    }

    #[test]
    fn workers_act_only_at_grid_level() {
        assert_eq!(
            worker_actions(Status::Reported, Level::Grid),
            vec![EventKind::Accept, EventKind::Escalate, EventKind::Comment]
        );
        assert_eq!(
            worker_actions(Status::Reported, Level::Community),
            vec![EventKind::Comment]
        );
        assert!(worker_actions(Status::Closed, Level::Grid).contains(&EventKind::Reopen));
    }

    #[test]
    fn summaries_round_trip_through_json() {
        let s = visit(1, 5, Outcome::NotHome);
        let text = serde_json::to_string(&s).expect("json");
        assert_eq!(serde_json::from_str::<Summary>(&text).expect("back"), s);
    }
}
