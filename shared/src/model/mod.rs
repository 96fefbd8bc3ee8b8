//! Records as typed views over Automerge documents: households, visits, issues and monthly
//! reviews.
//!
//! Every record is one Automerge document whose root map holds `type` (`household`, `visit`,
//! `issue` or `review`), `schema` (1) and `grid`. [`Record::read`] checks a whole document's structure
//! (what no merge can break: types, required fields, codes) and returns a typed view or a
//! [`SchemaError`]; value rules that two valid concurrent edits can break together (lengths,
//! ranges, cross-field consistency) are [`checks::problems`] of a read record, flagged for
//! correction, never refused; the `create` and `set_*` functions write through any
//! [`automerge::transaction::Transactable`]. Scalars that peers set concurrently come back as a
//! [`Field`] carrying every candidate.

pub mod checks;
pub mod event;
pub mod field;
pub mod history;
pub mod household;
pub mod issue;
pub mod lifecycle;
pub mod photos;
pub mod review;
pub mod role;
pub mod rules;
pub mod visit;

use std::fmt;
use std::str::FromStr;

use automerge::{ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

pub use checks::{Problem, Rule, problems};
pub use field::{Candidate, Field};
pub use household::{Address, Household, HouseholdDraft};
pub use issue::{EventKind, Issue, IssueDraft, IssueEvent, IssueSource, Level};
pub use lifecycle::{IssueState, Status};
pub use review::{Review, ReviewDraft};
pub use role::Role;
pub use visit::{Location, Outcome, Visit, VisitDraft, VisitItem};

use crate::ids::{DocumentId, GridId, IdError};

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// Why a document is not a valid record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    /// A required field is absent.
    #[error("missing field {0:?}")]
    Missing(&'static str),
    /// A field holds a value of the wrong type.
    #[error("field {0:?} has the wrong type")]
    WrongType(&'static str),
    /// A field's value is not allowed.
    #[error("field {field:?} is invalid: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The `type` field names no known record kind.
    #[error("unknown record type {0:?}")]
    UnknownKind(String),
    /// The document was written by a newer schema.
    #[error("schema version {0} is newer than this program understands ({SCHEMA_VERSION})")]
    NewerSchema(i64),
    /// An identifier inside the record did not parse.
    #[error(transparent)]
    Id(#[from] IdError),
    /// Automerge refused a read.
    #[error("automerge: {0}")]
    Automerge(String),
}

impl SchemaError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// The kind of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A household of a grid.
    Household,
    /// One visit to a household.
    Visit,
    /// An issue (work order, 事件).
    Issue,
    /// A monthly review of a grid or community (民情研判).
    Review,
}

impl RecordKind {
    /// The value of the `type` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Household => "household",
            Self::Visit => "visit",
            Self::Issue => "issue",
            Self::Review => "review",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = SchemaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "household" => Ok(Self::Household),
            "visit" => Ok(Self::Visit),
            "issue" => Ok(Self::Issue),
            "review" => Ok(Self::Review),
            other => Err(SchemaError::UnknownKind(other.chars().take(40).collect())),
        }
    }
}

/// The five areas every visit item and issue belongs to (五项重点任务).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// Residents' needs and wishes (掌握民需民盼).
    Needs,
    /// Basic infrastructure (完善基础设施).
    Infrastructure,
    /// Employment and starting businesses (落实就业创业).
    Employment,
    /// Practical livelihood matters (办好民生实事).
    Livelihood,
    /// Mediating conflicts and disputes (化解矛盾纠纷).
    Disputes,
}

impl Area {
    /// All five areas in display order.
    pub const ALL: [Self; 5] = [
        Self::Needs,
        Self::Infrastructure,
        Self::Employment,
        Self::Livelihood,
        Self::Disputes,
    ];

    /// The code stored in records.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Needs => "needs",
            Self::Infrastructure => "infrastructure",
            Self::Employment => "employment",
            Self::Livelihood => "livelihood",
            Self::Disputes => "disputes",
        }
    }
}

impl FromStr for Area {
    type Err = SchemaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.code() == s)
            .ok_or_else(|| SchemaError::invalid("area", format!("unknown area {s:?}")))
    }
}

/// What the access policy and the indexes need to know of a record, read cheaply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    /// Household, visit or issue.
    pub kind: RecordKind,
    /// The grid the record belongs to (the winning value if concurrently set).
    pub grid: GridId,
}

/// A validated record of any kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record {
    /// A household.
    Household(Household),
    /// A visit.
    Visit(Visit),
    /// An issue.
    Issue(Issue),
    /// A monthly review.
    Review(Review),
}

impl Record {
    /// Validates a whole document and returns its typed view.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, SchemaError> {
        let meta = RecordMeta::read(doc)?;
        match meta.kind {
            RecordKind::Household => Household::read(doc).map(Self::Household),
            RecordKind::Visit => Visit::read(doc).map(Self::Visit),
            RecordKind::Issue => Issue::read(doc).map(Self::Issue),
            RecordKind::Review => Review::read(doc).map(Self::Review),
        }
    }

    /// The record's kind and grid.
    pub fn meta(&self) -> RecordMeta {
        let (kind, grid) = match self {
            Self::Household(h) => (RecordKind::Household, &h.grid),
            Self::Visit(v) => (RecordKind::Visit, &v.grid),
            Self::Issue(i) => (RecordKind::Issue, &i.grid),
            Self::Review(r) => (RecordKind::Review, &r.grid),
        };
        RecordMeta {
            kind,
            grid: grid.clone(),
        }
    }
}

impl RecordMeta {
    /// Reads `type`, `schema` and `grid` without validating the rest.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, SchemaError> {
        let kind: RecordKind = field::req_string(doc, &ROOT, "type")?.value.parse()?;
        let schema = field::int(doc, &ROOT, "schema")?
            .ok_or(SchemaError::Missing("schema"))?
            .value;
        if schema > SCHEMA_VERSION {
            return Err(SchemaError::NewerSchema(schema));
        }
        let grid = field::req_string(doc, &ROOT, "grid")?.value.parse()?;
        Ok(Self { kind, grid })
    }
}

/// Reads an optional document reference stored as a bs58check ID or an `automerge:` URL.
pub(crate) fn doc_ref<D: ReadDoc>(
    doc: &D,
    obj: &automerge::ObjId,
    key: &'static str,
) -> Result<Option<DocumentId>, SchemaError> {
    match field::string(doc, obj, key)? {
        None => Ok(None),
        Some(f) if f.value.is_empty() => Ok(None),
        Some(f) => Ok(Some(DocumentId::parse_any(&f.value)?)),
    }
}

/// Writes the header every record starts with.
pub(crate) fn put_header<T: automerge::transaction::Transactable>(
    tx: &mut T,
    kind: RecordKind,
    grid: &GridId,
) -> Result<(), automerge::AutomergeError> {
    tx.put(ROOT, "type", kind.as_str())?;
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put(ROOT, "grid", grid.as_str())?;
    Ok(())
}
