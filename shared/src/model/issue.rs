//! The issue record (work order, 事件): what it is about, and its append-only list of events.

use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

pub use super::event::{EventKind, IssueEvent, Level};
use super::field::{self};
use super::lifecycle::{self, IssueState};
pub use super::photos::{MAX_PHOTOS, add_photos, is_photo_hash, read_photos};
use super::role::Role;
use super::visit::Location;
use super::{Area, RecordKind, SchemaError, doc_ref, put_header};
use crate::ids::{DocumentId, GridId};
use crate::time::Millis;

/// Where an issue came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueSource {
    /// Found during a visit.
    Visit,
    /// Reported by a resident through the grid's QR code (码上办).
    Qr,
    /// Anything else (a phone call, a patrol).
    Other,
}

impl IssueSource {
    /// The code stored in records.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Visit => "visit",
            Self::Qr => "qr",
            Self::Other => "other",
        }
    }
}

impl FromStr for IssueSource {
    type Err = SchemaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "visit" => Ok(Self::Visit),
            "qr" => Ok(Self::Qr),
            "other" => Ok(Self::Other),
            other => Err(SchemaError::invalid(
                "source",
                format!("unknown source {other:?}"),
            )),
        }
    }
}

/// Whether a resident reports a problem or makes a suggestion (问题 / 建议).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueKind {
    /// Something is wrong.
    #[default]
    Problem,
    /// An idea for the neighbourhood.
    Suggestion,
}

impl IssueKind {
    /// The code stored in records (`reportKind`).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Problem => "problem",
            Self::Suggestion => "suggestion",
        }
    }
}

impl FromStr for IssueKind {
    type Err = SchemaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "problem" => Ok(Self::Problem),
            "suggestion" => Ok(Self::Suggestion),
            other => Err(SchemaError::invalid(
                "reportKind",
                format!("unknown kind {other:?}"),
            )),
        }
    }
}

/// What a report may carry beyond its text: its kind, where it was seen, photos (by
/// SHA-256), and a phone number to call back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    /// Problem or suggestion.
    pub kind: IssueKind,
    /// Where, if the reporter's device gave a position.
    pub geo: Option<Location>,
    /// Photos, each the lowercase hex SHA-256 of its bytes (at most [`MAX_PHOTOS`]).
    pub photos: Vec<String>,
    /// A phone number to call back (a resident's, optional).
    pub contact: String,
}

/// An issue, as read from its document, with its derived state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Issue {
    /// The grid where it was reported.
    pub grid: GridId,
    /// Where it came from.
    pub source: IssueSource,
    /// Which area.
    pub area: Area,
    /// What it is about (text).
    pub description: String,
    /// The household concerned, if any.
    pub household: Option<DocumentId>,
    /// A place, when there is no household (e.g. "3号楼北侧路灯").
    pub location: String,
    /// Kind, position, photos and call-back number.
    pub detail: Detail,
    /// A recent report in the same grid this one repeats (linked by the server).
    pub duplicate_of: Option<DocumentId>,
    /// The events in the order the fold applies them.
    pub events: Vec<IssueEvent>,
    /// Status, level, assignee and deadline, folded from the events.
    pub state: IssueState,
}

/// What is needed to report a new issue.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueDraft {
    /// The grid.
    pub grid: GridId,
    /// Source.
    pub source: IssueSource,
    /// Area.
    pub area: Area,
    /// Description.
    pub description: String,
    /// Household, if any.
    pub household: Option<DocumentId>,
    /// Place, if no household.
    pub location: String,
    /// Kind, position, photos and call-back number.
    pub detail: Detail,
    /// The `report` event (its kind must be `Report`).
    pub report: IssueEvent,
}

fn read_event<D: ReadDoc>(doc: &D, obj: &automerge::ObjId) -> Result<IssueEvent, SchemaError> {
    let opt = |k| -> Result<Option<String>, SchemaError> {
        Ok(field::string(doc, obj, k)?
            .map(|f| f.value)
            .filter(|s| !s.is_empty()))
    };
    let note = opt("note")?.unwrap_or_default();
    Ok(IssueEvent {
        id: field::req_string(doc, obj, "id")?.value,
        kind: field::req_string(doc, obj, "kind")?.value.parse()?,
        at: Millis(
            field::int(doc, obj, "at")?
                .ok_or(SchemaError::Missing("events.at"))?
                .value,
        ),
        actor: field::req_string(doc, obj, "actor")?.value,
        role: opt("role")?
            .map(|r| {
                r.parse::<Role>()
                    .map_err(|e| SchemaError::invalid("events.role", e.to_string()))
            })
            .transpose()?,
        note,
        level: opt("level")?.map(|s| s.parse()).transpose()?,
        assignee: opt("assignee")?,
        satisfied: field::boolean(doc, obj, "satisfied")?.map(|f| f.value),
        score: match field::int(doc, obj, "score")?.map(|f| f.value) {
            None => None,
            Some(n @ 1..=5) => Some(n as u8),
            Some(_) => return Err(SchemaError::invalid("events.score", "a rating is 1 to 5")),
        },
        limit: match field::int(doc, obj, "limitMs")?.map(|f| f.value) {
            None => None,
            Some(ms) if super::lifecycle::StepLimits::RANGE.contains(&ms) => Some(ms),
            Some(_) => {
                return Err(SchemaError::invalid(
                    "events.limitMs",
                    "a step's limit is between one hour and 90 days",
                ));
            }
        },
    })
}

impl Issue {
    /// Reads and validates an issue document and folds its events.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, SchemaError> {
        let grid = field::req_string(doc, &ROOT, "grid")?.value.parse()?;
        let source = field::req_string(doc, &ROOT, "source")?.value.parse()?;
        let area = field::req_string(doc, &ROOT, "area")?.value.parse()?;
        let description = field::req_string(doc, &ROOT, "description")?.value;
        let location = field::string(doc, &ROOT, "location")?
            .map(|f| f.value)
            .unwrap_or_default();
        let list = field::object(doc, &ROOT, "events", ObjType::List)?
            .ok_or(SchemaError::Missing("events"))?;
        let mut events = (0..doc.length(&list))
            .map(|i| read_event(doc, &field::list_map(doc, &list, i, "events")?))
            .collect::<Result<Vec<_>, _>>()?;
        lifecycle::sort_events(&mut events);
        let follow_up = field::boolean(doc, &ROOT, "followUp")?.is_some_and(|f| f.value);
        let state = lifecycle::fold_with(&events, follow_up)?;
        let detail = Detail {
            kind: match field::string(doc, &ROOT, "reportKind")? {
                Some(f) => f.value.parse()?,
                None => IssueKind::Problem,
            },
            geo: Location::read(doc, "geo")?,
            photos: read_photos(doc, "photos")?,
            contact: field::string(doc, &ROOT, "contact")?
                .map(|f| f.value)
                .unwrap_or_default(),
        };
        Ok(Self {
            grid,
            source,
            area,
            description,
            household: doc_ref(doc, &ROOT, "household")?,
            location,
            detail,
            duplicate_of: doc_ref(doc, &ROOT, "duplicateOf")?,
            events,
            state,
        })
    }
}

/// Appends an event to an issue. Concurrent appends are all kept; the fold orders them.
pub fn append_event<T: Transactable + ReadDoc>(
    tx: &mut T,
    event: &IssueEvent,
) -> Result<(), automerge::AutomergeError> {
    let list = match tx.get(ROOT, "events")? {
        Some((automerge::Value::Object(ObjType::List), id)) => id,
        _ => tx.put_object(ROOT, "events", ObjType::List)?,
    };
    let at = tx.length(&list);
    let obj = tx.insert_object(&list, at, ObjType::Map)?;
    tx.put(&obj, "id", event.id.as_str())?;
    tx.put(&obj, "kind", event.kind.code())?;
    tx.put(&obj, "at", event.at.0)?;
    tx.put(&obj, "actor", event.actor.as_str())?;
    if let Some(role) = event.role {
        tx.put(&obj, "role", role.code())?;
    }
    tx.put(&obj, "note", event.note.as_str())?;
    if let Some(level) = event.level {
        tx.put(&obj, "level", level.code())?;
    }
    if let Some(assignee) = &event.assignee {
        tx.put(&obj, "assignee", assignee.as_str())?;
    }
    if let Some(limit) = event.limit {
        tx.put(&obj, "limitMs", limit)?;
    }
    if let Some(satisfied) = event.satisfied {
        tx.put(&obj, "satisfied", satisfied)?;
    }
    if let Some(score) = event.score {
        tx.put(&obj, "score", i64::from(score))?;
    }
    Ok(())
}

impl IssueDraft {
    /// Writes a new issue, with its `report` event, into an empty document.
    pub fn write<T: Transactable + ReadDoc>(
        &self,
        tx: &mut T,
    ) -> Result<(), automerge::AutomergeError> {
        put_header(tx, RecordKind::Issue, &self.grid)?;
        tx.put(ROOT, "source", self.source.code())?;
        tx.put(ROOT, "area", self.area.code())?;
        field::put_text(tx, &ROOT, "description", &self.description)?;
        if let Some(h) = self.household {
            tx.put(ROOT, "household", h.to_string())?;
        }
        tx.put(ROOT, "location", self.location.as_str())?;
        // An issue a resident or a visit raised needs a satisfied follow-up (回访) before
        // it closes; the rule travels with the record, so older issues keep theirs.
        if matches!(self.source, IssueSource::Qr | IssueSource::Visit) {
            tx.put(ROOT, "followUp", true)?;
        }
        let d = &self.detail;
        if d.kind != IssueKind::Problem {
            tx.put(ROOT, "reportKind", d.kind.code())?;
        }
        if let Some(geo) = d.geo {
            geo.put(tx, "geo")?;
        }
        if !d.photos.is_empty() {
            add_photos(tx, "photos", &d.photos)?;
        }
        if !d.contact.is_empty() {
            tx.put(ROOT, "contact", d.contact.as_str())?;
        }
        tx.put_object(ROOT, "events", ObjType::List)?;
        append_event(tx, &self.report)
    }
}

/// An event that new changes added, with the issue as the change that added it saw it (its
/// causal past): what the server judges the event against.
#[derive(Clone, Debug, PartialEq)]
pub struct Added {
    /// The event.
    pub event: IssueEvent,
    /// The change that added it.
    pub change: automerge::ChangeHash,
    /// The issue as of that change's dependencies (`None`: the change created the issue).
    pub seen: Option<Issue>,
}

/// The events of `doc` added by the changes not in `before`, grouped by change in the order
/// the changes were made, each with the issue its writer saw.
pub fn added_events(
    doc: &automerge::Automerge,
    before: &[automerge::ChangeHash],
) -> Result<Vec<Added>, SchemaError> {
    let changes = doc.get_changes(before);
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let Some(list) = field::object(doc, &ROOT, "events", ObjType::List)? else {
        return Ok(Vec::new());
    };
    let mut found: Vec<(usize, IssueEvent)> = Vec::new();
    for i in 0..doc.length(&list) {
        let obj = field::list_map(doc, &list, i, "events")?;
        let automerge::ObjId::Id(counter, actor, _) = &obj else {
            continue;
        };
        let made_by = changes.iter().position(|c| {
            c.actor_id() == actor && c.start_op().get() <= *counter && *counter <= c.max_op()
        });
        if let Some(c) = made_by {
            found.push((c, read_event(doc, &obj)?));
        }
    }
    found.sort_by_key(|(c, _)| *c);
    let mut out = Vec::with_capacity(found.len());
    let mut seen_of: Option<(usize, Option<Issue>)> = None;
    for (c, event) in found {
        if seen_of.as_ref().is_none_or(|(at, _)| *at != c) {
            let deps = changes[c].deps();
            let seen = if deps.is_empty() {
                None
            } else {
                let past = doc
                    .fork_at(deps)
                    .map_err(|e| SchemaError::Automerge(e.to_string()))?;
                Issue::read(&past).ok()
            };
            seen_of = Some((c, seen));
        }
        let seen = seen_of.as_ref().and_then(|(_, s)| s.clone());
        out.push(Added {
            event,
            change: changes[c].hash(),
            seen,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;

    use super::*;
    use crate::model::{Area, Role};

    fn event(id: &str, kind: EventKind, at: i64, limit: Option<i64>) -> IssueEvent {
        IssueEvent {
            id: id.into(),
            kind,
            at: Millis(at),
            actor: "w1".into(),
            role: Some(Role::Worker),
            note: String::new(),
            level: None,
            assignee: None,
            limit,
            satisfied: None,
            score: None,
        }
    }

    fn issue_with(limit: i64) -> Result<Issue, SchemaError> {
        let mut doc = AutoCommit::new();
        IssueDraft {
            grid: "s01/c01/g01".parse().expect("grid"),
            source: IssueSource::Visit,
            area: Area::Infrastructure,
            description: "路灯".into(),
            household: None,
            location: String::new(),
            detail: Detail::default(),
            report: event("r", EventKind::Report, 0, None),
        }
        .write(&mut doc)
        .expect("write");
        append_event(&mut doc, &event("a", EventKind::Accept, 10, Some(limit))).expect("append");
        Issue::read(doc.document())
    }

    #[test]
    fn a_steps_limit_is_written_and_read_back_and_out_of_range_ones_are_refused() {
        let issue = issue_with(7_200_000).expect("valid");
        assert_eq!(issue.events[1].limit, Some(7_200_000));
        assert_eq!(issue.state.deadline, Some(Millis(10 + 7_200_000)));
        assert!(issue_with(0).is_err());
        assert!(issue_with(365 * Millis::DAY).is_err());
    }
}
