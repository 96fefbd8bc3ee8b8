//! Who may read and write what: the access policy the engine consults, passed in by the driver.

use crate::model::{Record, RecordMeta};
use automerge::{Automerge, ChangeHash};

use crate::time::Millis;

pub use super::principal::Principal;
pub use super::refusal::Refusal;
pub use crate::model::Role;

/// The rules a hub applies to the peers it serves (its inbound connections). What arrives
/// from a hub's own server is applied as is. Implementations must be pure functions of their
/// arguments.
pub trait AccessPolicy: Send + Sync {
    /// Whether `who` may see a record.
    fn can_read(&self, who: Option<&Principal>, meta: &RecordMeta) -> bool;

    /// Whether a change may be applied: the rules no merge can break.
    fn check_write(&self, write: &Write<'_>) -> Result<(), Refusal>;
}

/// A change a peer sent, as the hub sees it before applying it.
pub struct Write<'a> {
    /// The server's clock.
    pub now: Millis,
    /// The writer.
    pub who: Option<&'a Principal>,
    /// The record before the change (`None` for a new one).
    pub before: Option<&'a Record>,
    /// The record after it.
    pub after: &'a Record,
    /// A copy of the document with the change applied.
    pub doc: &'a Automerge,
    /// The document's heads before the change.
    pub before_heads: &'a [ChangeHash],
}

/// How long after a review was held it may still be recorded, or its date changed.
pub const REVIEW_GRACE: i64 = 35 * Millis::DAY;

/// A review is written by workers and supervisors (not volunteers), covers only grids in the
/// writer's scope, and is dated from [`REVIEW_GRACE`] ago to the server's clock (plus the
/// clock skew events allow) when it is recorded or its date changes.
fn check_review(w: &Write<'_>, who: &Principal, r: &crate::model::Review) -> Result<(), Refusal> {
    if who.role == Role::Volunteer {
        return Err(Refusal::KindNotForRole {
            kind: "review",
            role: who.role,
        });
    }
    for g in &r.grids {
        let meta = RecordMeta {
            kind: crate::model::RecordKind::Review,
            grid: g.clone(),
        };
        if !who.can_read(&meta) {
            return Err(Refusal::OutOfScope {
                grid: g.clone(),
                scope: who.scope.to_string(),
                user: who.user.to_string(),
            });
        }
    }
    let moved = match w.before {
        Some(Record::Review(old)) => old.held_at != r.held_at,
        _ => true,
    };
    let (earliest, latest) = (
        w.now.0 - REVIEW_GRACE,
        w.now.0 + super::events::FUTURE_SLACK,
    );
    if moved && !(earliest..=latest).contains(&r.held_at.0) {
        return Err(Refusal::ReviewDate {
            at: r.held_at.0,
            earliest,
            latest,
        });
    }
    Ok(())
}

/// A department only adds events to issues that exist (the fold takes only its handling of
/// what is dispatched to it): it creates no record and changes no field, though its scope is
/// the city.
fn check_department(w: &Write<'_>, who: &Principal) -> Result<(), Refusal> {
    let only_events = match (w.before, w.after) {
        (Some(Record::Issue(old)), Record::Issue(new)) => {
            let mut same = new.clone();
            same.events.clone_from(&old.events);
            same.state = old.state.clone();
            same == *old
        }
        _ => false,
    };
    if only_events {
        Ok(())
    } else {
        Err(Refusal::KindNotForRole {
            kind: w.after.meta().kind.as_str(),
            role: who.role,
        })
    }
}

/// A client's policy: it serves no one, and trusts its server.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrustServer;

impl AccessPolicy for TrustServer {
    fn can_read(&self, _: Option<&Principal>, _: &RecordMeta) -> bool {
        true
    }
    fn check_write(&self, _: &Write<'_>) -> Result<(), Refusal> {
        Ok(())
    }
}

/// The server's policy: a user reads and writes records whose grid lies in their scope; a
/// record never changes grid or kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScopePolicy;

impl AccessPolicy for ScopePolicy {
    fn can_read(&self, who: Option<&Principal>, meta: &RecordMeta) -> bool {
        who.is_some_and(|p| p.can_read(meta))
    }

    fn check_write(&self, w: &Write<'_>) -> Result<(), Refusal> {
        let who = w.who.ok_or(Refusal::Anonymous)?;
        let meta = w.after.meta();
        if let Some(before) = w.before.map(Record::meta) {
            if before.kind != meta.kind {
                return Err(Refusal::Immutable("type"));
            }
            if before.grid != meta.grid {
                return Err(Refusal::Immutable("grid"));
            }
        }
        if !who.can_read(&meta) {
            return Err(Refusal::OutOfScope {
                grid: meta.grid,
                scope: who.scope.to_string(),
                user: who.user.to_string(),
            });
        }
        if who.role == Role::Department {
            check_department(w, who)?;
        }
        if let Record::Review(r) = w.after {
            check_review(w, who, r)?;
        }
        if let Record::Issue(new) = w.after {
            let old = match w.before {
                Some(Record::Issue(old)) => &old.events[..],
                _ => &[],
            };
            super::events::check(w.now, who, old, new, w.doc, w.before_heads)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;

    use super::*;
    use crate::ids::{DocumentId, Scope, UserId};
    use crate::model::ReviewDraft;

    const NOW: Millis = Millis(1_790_000_000_000);

    fn who(role: Role, scope: Scope) -> Principal {
        Principal {
            user: UserId::new("u1").expect("user"),
            role,
            scope,
        }
    }

    fn review(grids: &[&str], held_at: Millis) -> (Record, Automerge) {
        let mut doc = AutoCommit::new();
        ReviewDraft {
            grid: grids[0].parse().expect("grid"),
            also: grids[1..]
                .iter()
                .map(|g| g.parse().expect("grid"))
                .collect(),
            held_at,
            attendees: vec!["王".into()],
            topics: Vec::new(),
            issues: vec![DocumentId::from_bytes([1; 16])],
            conclusions: String::new(),
        }
        .write(&mut doc)
        .expect("write");
        let doc = doc.document().clone();
        (Record::read(&doc).expect("valid"), doc)
    }

    fn check(
        p: &Principal,
        before: Option<&Record>,
        after: &Record,
        doc: &Automerge,
    ) -> Result<(), Refusal> {
        ScopePolicy.check_write(&Write {
            now: NOW,
            who: Some(p),
            before,
            after,
            doc,
            before_heads: &[],
        })
    }

    #[test]
    fn a_community_supervisor_records_a_review_of_its_grids_and_a_worker_of_its_own() {
        let community = who(
            Role::CommunitySupervisor,
            Scope::Community("s01/c01".into()),
        );
        let (r, doc) = review(&["s01/c01/g01", "s01/c01/g02"], NOW.plus(-Millis::DAY));
        assert_eq!(check(&community, None, &r, &doc), Ok(()));
        let worker = who(
            Role::Worker,
            Scope::Grids(vec!["s01/c01/g01".parse().expect("grid")]),
        );
        assert!(matches!(
            check(&worker, None, &r, &doc),
            Err(Refusal::OutOfScope { grid, .. }) if grid.as_str() == "s01/c01/g02"
        ));
        let (own, doc) = review(&["s01/c01/g01"], NOW);
        assert_eq!(check(&worker, None, &own, &doc), Ok(()));
        let volunteer = who(
            Role::Volunteer,
            Scope::Grids(vec!["s01/c01/g01".parse().expect("grid")]),
        );
        assert!(matches!(
            check(&volunteer, None, &own, &doc),
            Err(Refusal::KindNotForRole { kind: "review", .. })
        ));
    }

    #[test]
    fn a_review_is_not_backdated_into_a_past_month_or_dated_ahead() {
        let p = who(
            Role::CommunitySupervisor,
            Scope::Community("s01/c01".into()),
        );
        let (old, doc) = review(&["s01/c01/g01"], NOW.plus(-40 * Millis::DAY));
        assert!(matches!(
            check(&p, None, &old, &doc),
            Err(Refusal::ReviewDate { .. })
        ));
        let (ahead, doc) = review(&["s01/c01/g01"], NOW.plus(Millis::DAY));
        assert!(matches!(
            check(&p, None, &ahead, &doc),
            Err(Refusal::ReviewDate { .. })
        ));
        // A review recorded in time stays editable after its grace: only a new date is checked.
        let (kept, doc) = review(&["s01/c01/g01"], NOW.plus(-40 * Millis::DAY));
        assert_eq!(check(&p, Some(&kept), &kept, &doc), Ok(()));
    }
}
