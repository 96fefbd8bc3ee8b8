//! What the phone keeps of each batch the engine performs: the change chunks, each changed
//! record's list summary and dashboard contribution, the heads the server acknowledged and the
//! sync cursor. Plain Rust: the IndexedDB driver writes what [`LocalWrite::of`] computes, in
//! one transaction, before anything of the batch is sent.

use automerge::ChangeHash;
use shared::aggregate::{Contribution, Dashboard};
use shared::ids::DocumentId;
use shared::sync::{Durable, Event};
use shared::wire::Cursor;

use crate::view::Summary;

/// What a list and the overview know of one document without loading it.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaRow {
    /// The document.
    pub id: DocumentId,
    /// Its list summary (`None`: not a valid record).
    pub summary: Option<Summary>,
    /// Its dashboard contribution.
    pub contribution: Option<Contribution>,
}

/// Everything one batch writes on the phone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalWrite {
    /// Change chunks to append, in order (`Automerge::load` accepts their concatenation).
    pub chunks: Vec<(DocumentId, Vec<u8>)>,
    /// The latest meta of every changed document.
    pub metas: Vec<MetaRow>,
    /// Heads the server now holds.
    pub acked: Vec<(DocumentId, Vec<ChangeHash>)>,
    /// The cursor of a complete sync.
    pub cursor: Option<Cursor>,
}

impl LocalWrite {
    /// What a batch writes. Contributions follow `dashboard`'s calendar.
    pub fn of(batch: Durable<'_>, dashboard: &Dashboard) -> Self {
        let mut out = Self::default();
        for p in batch.persist {
            out.chunks.push((p.doc, p.chunk.clone()));
            let row = MetaRow {
                id: p.doc,
                summary: p.record.as_deref().map(Summary::of),
                contribution: p.record.as_deref().map(|r| dashboard.contribution(r)),
            };
            match out.metas.iter_mut().find(|m| m.id == p.doc) {
                Some(m) => *m = row,
                None => out.metas.push(row),
            }
        }
        for event in batch.events {
            match event {
                Event::Acked { doc, heads } => {
                    out.acked.retain(|(d, _)| d != doc);
                    out.acked.push((*doc, heads.clone()));
                }
                Event::CursorSaved { cursor } => out.cursor = Some(cursor.clone()),
                _ => {}
            }
        }
        out
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
            && self.metas.is_empty()
            && self.acked.is_empty()
            && self.cursor.is_none()
    }
}

/// Heads as stored: a JSON list of hex hashes.
pub fn encode_heads(heads: &[ChangeHash]) -> String {
    let list: Vec<String> = heads.iter().map(ToString::to_string).collect();
    serde_json::Value::from(list).to_string()
}

/// Heads as stored, read back (`None` if unreadable: the document is pushed again).
pub fn decode_heads(json: &str) -> Option<Vec<ChangeHash>> {
    let list: Vec<String> = serde_json::from_str(json).ok()?;
    list.iter().map(|h| h.parse().ok()).collect()
}

/// The cursor as stored: `[epoch, seq]`.
pub fn encode_cursor(c: &Cursor) -> String {
    serde_json::json!([c.epoch, c.seq]).to_string()
}

/// The cursor as stored, read back.
pub fn decode_cursor(json: &str) -> Option<Cursor> {
    let (epoch, seq) = serde_json::from_str::<(String, u64)>(json).ok()?;
    Some(Cursor { epoch, seq })
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::CommitOptions;
    use shared::model::{HouseholdDraft, Record};
    use shared::sync::{ConnId, Persist};
    use shared::time::Calendar;

    fn household(members: i64) -> (Vec<u8>, Record, Vec<ChangeHash>) {
        let draft = HouseholdDraft {
            grid: "s01/c01/g01".parse().expect("grid"),
            building: "1".into(),
            unit: "1".into(),
            room: "101".into(),
            head: "王".into(),
            contact: String::new(),
            members,
            tags: vec![],
            notes: String::new(),
        };
        let mut doc = automerge::Automerge::new();
        doc.transact_with::<_, _, automerge::AutomergeError, _>(
            |_| CommitOptions::default(),
            |tx| draft.write(tx),
        )
        .expect("write");
        let record = Record::read(&doc).expect("valid");
        (doc.save(), record, doc.get_heads())
    }

    #[test]
    fn a_batch_keeps_every_chunk_the_last_meta_and_the_acknowledgements() {
        let id = DocumentId::from_bytes([1; 16]);
        let (c1, r1, _) = household(2);
        let (c2, r2, heads) = household(5);
        let persist = |chunk: Vec<u8>, record: Record| Persist {
            doc: id,
            chunk,
            heads: heads.clone(),
            meta: Some(record.meta()),
            record: Some(Box::new(record)),
        };
        let persist = [persist(c1.clone(), r1), persist(c2.clone(), r2.clone())];
        let cursor = Cursor {
            epoch: "e".into(),
            seq: 9,
        };
        let events = [
            Event::Acked {
                doc: id,
                heads: vec![],
            },
            Event::Acked {
                doc: id,
                heads: heads.clone(),
            },
            Event::CursorSaved {
                cursor: cursor.clone(),
            },
            Event::Unavailable {
                conn: ConnId(1),
                doc: id,
            },
        ];
        let dashboard = Dashboard::new(Calendar::CHINA);
        let w = LocalWrite::of(
            Durable {
                persist: &persist,
                quarantine: &[],
                events: &events,
            },
            &dashboard,
        );
        assert_eq!(w.chunks, vec![(id, c1), (id, c2)]);
        assert_eq!(w.metas.len(), 1);
        assert_eq!(w.metas[0].summary, Some(Summary::of(&r2)));
        assert_eq!(w.metas[0].contribution, Some(dashboard.contribution(&r2)));
        assert_eq!(w.acked, vec![(id, heads)]);
        assert_eq!(w.cursor, Some(cursor));
        assert!(!w.is_empty());
        assert!(
            LocalWrite::of(
                Durable {
                    persist: &[],
                    quarantine: &[],
                    events: &[]
                },
                &dashboard
            )
            .is_empty()
        );
    }

    #[test]
    fn heads_and_cursors_round_trip_in_the_stored_format() {
        let (_, _, heads) = household(1);
        assert_eq!(decode_heads(&encode_heads(&heads)), Some(heads));
        assert_eq!(decode_heads("not json"), None);
        let c = Cursor {
            epoch: "ab12".into(),
            seq: 42,
        };
        assert_eq!(encode_cursor(&c), r#"["ab12",42]"#);
        assert_eq!(decode_cursor(&encode_cursor(&c)), Some(c));
    }
}
