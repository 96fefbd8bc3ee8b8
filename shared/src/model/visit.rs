//! The visit record: one door-to-door visit to a household (走访入户).

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

use super::field::{self, Field};
use super::{Area, RecordKind, SchemaError, doc_ref, put_header};
use crate::ids::{DocumentId, GridId};
use crate::time::Millis;

/// How the visit went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Met the household (见面).
    Met,
    /// Nobody was home (未遇).
    NotHome,
    /// The household declined the visit (拒访).
    Declined,
}

impl Outcome {
    /// The code stored in records.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotHome => "not_home",
            Self::Declined => "declined",
        }
    }

    fn parse(s: &str) -> Result<Self, SchemaError> {
        match s {
            "met" => Ok(Self::Met),
            "not_home" => Ok(Self::NotHome),
            "declined" => Ok(Self::Declined),
            other => Err(SchemaError::invalid(
                "outcome",
                format!("unknown outcome {other:?}"),
            )),
        }
    }
}

/// Where the visit took place, when the worker allowed location.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Accuracy radius in metres.
    pub accuracy: f64,
}

impl Location {
    /// The location at root `key`, if there is one.
    pub fn read<D: ReadDoc>(doc: &D, key: &'static str) -> Result<Option<Self>, SchemaError> {
        let Some(loc) = field::object(doc, &ROOT, key, ObjType::Map)? else {
            return Ok(None);
        };
        let num = |k| {
            field::float(doc, &loc, k)?
                .map(|f| f.value)
                .ok_or(SchemaError::Missing(k))
        };
        let l = Self {
            lat: num("lat")?,
            lon: num("lon")?,
            accuracy: field::float(doc, &loc, "accuracy")?.map_or(0.0, |f| f.value),
        };
        if !(-90.0..=90.0).contains(&l.lat) || !(-180.0..=180.0).contains(&l.lon) {
            return Err(SchemaError::invalid(
                key,
                "latitude or longitude out of range",
            ));
        }
        Ok(Some(l))
    }

    /// Writes it at root `key`.
    pub fn put<T: Transactable>(
        &self,
        tx: &mut T,
        key: &'static str,
    ) -> Result<(), automerge::AutomergeError> {
        let obj = tx.put_object(ROOT, key, ObjType::Map)?;
        tx.put(&obj, "lat", self.lat)?;
        tx.put(&obj, "lon", self.lon)?;
        tx.put(&obj, "accuracy", self.accuracy)?;
        Ok(())
    }
}

/// One thing found during a visit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitItem {
    /// Which of the five areas.
    pub area: Area,
    /// What was found.
    pub description: String,
    /// Solved on the spot (当场解决).
    pub solved: bool,
    /// The issue it was reported as, if not solved.
    pub issue: Option<DocumentId>,
}

/// A visit, as read from its document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Visit {
    /// The grid.
    pub grid: GridId,
    /// The household visited.
    pub household: DocumentId,
    /// Who visited (user IDs).
    pub visitors: Vec<String>,
    /// Start time.
    pub started_at: Millis,
    /// End time, once finished.
    pub ended_at: Option<Millis>,
    /// Location, if allowed.
    pub location: Option<Location>,
    /// How it went.
    pub outcome: Field<Outcome>,
    /// Items found, by area.
    pub items: Vec<VisitItem>,
    /// Notes (text).
    pub notes: String,
    /// The household's special tags when it was visited (none on visits written before they
    /// were kept): figures count visits to each group as it stood then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub household_tags: Vec<String>,
    /// Photos taken on the visit (SHA-256 each), added after it was saved.
    pub photos: Vec<String>,
}

/// What a worker fills in to record a visit.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitDraft {
    /// The grid.
    pub grid: GridId,
    /// The household.
    pub household: DocumentId,
    /// Visitors.
    pub visitors: Vec<String>,
    /// Start.
    pub started_at: Millis,
    /// End.
    pub ended_at: Option<Millis>,
    /// Location.
    pub location: Option<Location>,
    /// Outcome.
    pub outcome: Outcome,
    /// Items.
    pub items: Vec<VisitItem>,
    /// Notes.
    pub notes: String,
    /// The household's special tags when it was visited (visits written before they were
    /// kept have none), so figures count visits to each group as it stood then.
    pub household_tags: Vec<String>,
}

impl Visit {
    /// Reads and validates a visit document.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, SchemaError> {
        let grid = field::req_string(doc, &ROOT, "grid")?.value.parse()?;
        let household =
            doc_ref(doc, &ROOT, "household")?.ok_or(SchemaError::Missing("household"))?;
        let visitors = match field::object(doc, &ROOT, "visitors", ObjType::List)? {
            Some(list) => field::string_list(doc, &list, "visitors")?,
            None => Vec::new(),
        };
        let started_at = Millis(
            field::int(doc, &ROOT, "startedAt")?
                .ok_or(SchemaError::Missing("startedAt"))?
                .value,
        );
        let ended_at = field::int(doc, &ROOT, "endedAt")?.map(|f| Millis(f.value));
        let location = Location::read(doc, "location")?;
        let raw = field::req_string(doc, &ROOT, "outcome")?;
        let outcome = Field {
            value: Outcome::parse(&raw.value)?,
            conflicts: raw
                .conflicts
                .iter()
                .map(|c| {
                    Ok(field::Candidate {
                        value: Outcome::parse(&c.value)?,
                        actor: c.actor.clone(),
                    })
                })
                .collect::<Result<_, SchemaError>>()?,
        };
        let mut items = Vec::new();
        if let Some(list) = field::object(doc, &ROOT, "items", ObjType::List)? {
            for i in 0..doc.length(&list) {
                let item = field::list_map(doc, &list, i, "items")?;
                let description = field::string(doc, &item, "description")?
                    .map(|f| f.value)
                    .unwrap_or_default();
                items.push(VisitItem {
                    area: field::req_string(doc, &item, "area")?.value.parse()?,
                    description,
                    solved: field::boolean(doc, &item, "solved")?.is_some_and(|f| f.value),
                    issue: doc_ref(doc, &item, "issue")?,
                });
            }
        }
        let notes = field::string(doc, &ROOT, "notes")?
            .map(|f| f.value)
            .unwrap_or_default();
        let household_tags = match field::object(doc, &ROOT, "householdTags", ObjType::List)? {
            Some(list) => field::string_list(doc, &list, "householdTags")?,
            None => Vec::new(),
        };
        Ok(Self {
            grid,
            household,
            visitors,
            started_at,
            ended_at,
            location,
            outcome,
            items,
            notes,
            household_tags,
            photos: super::photos::read_photos(doc, "photos")?,
        })
    }
}

impl VisitDraft {
    /// Writes a new visit into an empty document.
    pub fn write<T: Transactable>(&self, tx: &mut T) -> Result<(), automerge::AutomergeError> {
        put_header(tx, RecordKind::Visit, &self.grid)?;
        tx.put(ROOT, "household", self.household.to_string())?;
        let visitors = tx.put_object(ROOT, "visitors", ObjType::List)?;
        for (i, v) in self.visitors.iter().enumerate() {
            tx.insert(&visitors, i, v.as_str())?;
        }
        tx.put(ROOT, "startedAt", self.started_at.0)?;
        if let Some(end) = self.ended_at {
            tx.put(ROOT, "endedAt", end.0)?;
        }
        if let Some(loc) = self.location {
            loc.put(tx, "location")?;
        }
        tx.put(ROOT, "outcome", self.outcome.code())?;
        let items = tx.put_object(ROOT, "items", ObjType::List)?;
        for (i, item) in self.items.iter().enumerate() {
            let obj = tx.insert_object(&items, i, ObjType::Map)?;
            tx.put(&obj, "area", item.area.code())?;
            field::put_text(tx, &obj, "description", &item.description)?;
            tx.put(&obj, "solved", item.solved)?;
            if let Some(issue) = item.issue {
                tx.put(&obj, "issue", issue.to_string())?;
            }
        }
        field::put_text(tx, &ROOT, "notes", &self.notes)?;
        if !self.household_tags.is_empty() {
            let tags = tx.put_object(ROOT, "householdTags", ObjType::List)?;
            for (i, t) in self.household_tags.iter().enumerate() {
                tx.insert(&tags, i, t.as_str())?;
            }
        }
        Ok(())
    }
}
