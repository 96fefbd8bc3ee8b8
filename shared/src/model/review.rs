//! The monthly review record (每月一次民情研判): a meeting that went over a grid's, or a whole
//! community's, residents' situation and issues, who attended, and what it concluded.
//!
//! A review is filed under one grid (the record header's `grid`, as every record is) and
//! covers that grid and the other grids listed in `grids`, all of one community: a
//! community-wide review lists every grid of its community. Each grid it covers counts as
//! having held a review in the month of `heldAt` ([`crate::month::PeriodFigures::reviewed`]).

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use serde::Serialize;

use super::field;
use super::{RecordKind, SchemaError, put_header};
use crate::ids::{DocumentId, GridId};
use crate::time::Millis;

/// A review, as read from its document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Review {
    /// The grid it is filed under.
    pub grid: GridId,
    /// Every grid it covers: the filing grid first, then the others, each once.
    pub grids: Vec<GridId>,
    /// When it was held.
    pub held_at: Millis,
    /// Who attended (names as written).
    pub attendees: Vec<String>,
    /// The matters discussed, one per entry.
    pub topics: Vec<String>,
    /// Issue records discussed.
    pub issues: Vec<DocumentId>,
    /// What it concluded and who follows up.
    pub conclusions: String,
}

/// What a supervisor fills in to record a review.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewDraft {
    /// The grid it is filed under.
    pub grid: GridId,
    /// The other grids it covers (same community).
    pub also: Vec<GridId>,
    /// When it was held.
    pub held_at: Millis,
    /// Who attended.
    pub attendees: Vec<String>,
    /// Matters discussed.
    pub topics: Vec<String>,
    /// Issues discussed.
    pub issues: Vec<DocumentId>,
    /// Conclusions.
    pub conclusions: String,
}

fn strings<D: ReadDoc>(doc: &D, key: &'static str) -> Result<Vec<String>, SchemaError> {
    match field::object(doc, &ROOT, key, ObjType::List)? {
        Some(list) => field::string_list(doc, &list, key),
        None => Ok(Vec::new()),
    }
}

impl Review {
    /// Reads and validates a review document: every grid it covers is a grid of the filing
    /// grid's community (a rule no merge can break, since each entry is checked alone).
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, SchemaError> {
        let grid: GridId = field::req_string(doc, &ROOT, "grid")?.value.parse()?;
        let mut grids = vec![grid.clone()];
        for g in strings(doc, "grids")? {
            let g: GridId = g.parse()?;
            if g.community() != grid.community() {
                return Err(SchemaError::invalid(
                    "grids",
                    format!("{g} is not in community {}", grid.community()),
                ));
            }
            if !grids.contains(&g) {
                grids.push(g);
            }
        }
        let held_at = Millis(
            field::int(doc, &ROOT, "heldAt")?
                .ok_or(SchemaError::Missing("heldAt"))?
                .value,
        );
        let issues = strings(doc, "issues")?
            .iter()
            .map(|s| DocumentId::parse_any(s).map_err(SchemaError::from))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            grid,
            grids,
            held_at,
            attendees: strings(doc, "attendees")?,
            topics: strings(doc, "topics")?,
            issues,
            conclusions: field::string(doc, &ROOT, "conclusions")?
                .map(|f| f.value)
                .unwrap_or_default(),
        })
    }
}

fn put_list<T: Transactable>(
    tx: &mut T,
    key: &str,
    values: impl Iterator<Item = String>,
) -> Result<(), automerge::AutomergeError> {
    let list = tx.put_object(ROOT, key, ObjType::List)?;
    for (i, v) in values.enumerate() {
        tx.insert(&list, i, v)?;
    }
    Ok(())
}

impl ReviewDraft {
    /// Writes a new review into an empty document.
    pub fn write<T: Transactable>(&self, tx: &mut T) -> Result<(), automerge::AutomergeError> {
        put_header(tx, RecordKind::Review, &self.grid)?;
        tx.put(ROOT, "heldAt", self.held_at.0)?;
        put_list(tx, "grids", self.also.iter().map(GridId::to_string))?;
        put_list(tx, "attendees", self.attendees.iter().cloned())?;
        put_list(tx, "topics", self.topics.iter().cloned())?;
        put_list(tx, "issues", self.issues.iter().map(DocumentId::to_string))?;
        field::put_text(tx, &ROOT, "conclusions", &self.conclusions)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Record;
    use automerge::{AutoCommit, ReadDoc};

    fn draft() -> ReviewDraft {
        ReviewDraft {
            grid: "s01/c01/g01".parse().expect("grid"),
            also: vec!["s01/c01/g02".parse().expect("grid")],
            held_at: Millis(1_790_000_000_000),
            attendees: vec!["王主任".into(), "李网格员".into()],
            topics: vec!["3号楼漏水".into()],
            issues: vec![DocumentId::from_bytes([7; 16])],
            conclusions: "物业本周内维修".into(),
        }
    }

    #[test]
    fn a_review_round_trips_and_covers_its_grids() {
        let d = draft();
        let mut doc = AutoCommit::new();
        d.write(&mut doc).expect("write");
        let Record::Review(r) = Record::read(&doc).expect("valid") else {
            panic!("not a review");
        };
        assert_eq!(r.grids, vec![d.grid.clone(), d.also[0].clone()]);
        assert_eq!(r.held_at, d.held_at);
        assert_eq!(r.attendees, d.attendees);
        assert_eq!(r.topics, d.topics);
        assert_eq!(r.issues, d.issues);
        assert_eq!(r.conclusions, d.conclusions);
    }

    #[test]
    fn a_review_covering_another_community_is_not_valid() {
        let mut d = draft();
        d.also = vec!["s01/c02/g01".parse().expect("grid")];
        let mut doc = AutoCommit::new();
        d.write(&mut doc).expect("write");
        let err = Record::read(&doc).expect_err("invalid");
        assert!(err.to_string().contains("not in community"), "{err}");
        assert!(doc.get(ROOT, "heldAt").expect("read").is_some());
    }
}
