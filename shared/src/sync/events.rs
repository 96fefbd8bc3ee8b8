//! The write-time checks of issue events, the rules no merge can break: events are
//! append-only with unique IDs; each new event names its writer as actor, with the writer's
//! role; its time is not before any event its writer had seen nor after the server's clock
//! plus [`FUTURE_SLACK`]; and the rules table allows it on the issue as its writer saw it (its
//! change's causal past). Linear in the events, plus one replay of the document per change
//! that adds events.

use std::collections::HashMap;

use automerge::{Automerge, ChangeHash};

use super::principal::Principal;
use super::refusal::Refusal;
use crate::model::issue::{Added, added_events};
use crate::model::lifecycle::IssueState;
use crate::model::{EventKind, Issue, IssueEvent};
use crate::time::Millis;

/// How far ahead of the server's clock an event may be dated (device clocks drift).
pub const FUTURE_SLACK: i64 = 10 * 60 * 1000;

/// Checks the events a change adds to an issue (`old`: its events before).
pub(super) fn check(
    now: Millis,
    who: &Principal,
    old: &[IssueEvent],
    new: &Issue,
    doc: &Automerge,
    before_heads: &[ChangeHash],
) -> Result<(), Refusal> {
    let mut by_id: HashMap<&str, Vec<&IssueEvent>> = HashMap::with_capacity(new.events.len());
    for e in &new.events {
        by_id.entry(e.id.as_str()).or_default().push(e);
    }
    for e in old {
        if !by_id.get(e.id.as_str()).is_some_and(|v| v.contains(&e)) {
            return Err(Refusal::EventRewritten(e.id.clone()));
        }
    }
    let added = added_events(doc, before_heads)?;
    for a in &added {
        if by_id.get(a.event.id.as_str()).is_some_and(|v| v.len() > 1) {
            return Err(Refusal::DuplicateEvent(a.event.id.clone()));
        }
    }
    let latest = now.0.saturating_add(FUTURE_SLACK);
    let mut start = 0;
    while start < added.len() {
        let change = added[start].change;
        let end = added[start..]
            .iter()
            .position(|a| a.change != change)
            .map_or(added.len(), |n| start + n);
        check_change(who, &added[start..end], latest)?;
        start = end;
    }
    Ok(())
}

/// One change's events, in fold order, against the issue its writer saw.
fn check_change(who: &Principal, added: &[Added], latest: i64) -> Result<(), Refusal> {
    let seen = added[0].seen.as_ref();
    let mut events: Vec<&IssueEvent> = added.iter().map(|a| &a.event).collect();
    crate::model::lifecycle::sort_events_by_ref(&mut events);
    let mut earliest = seen
        .and_then(|i| i.events.iter().map(|e| e.at).max())
        .unwrap_or(Millis(i64::MIN));
    let mut state: Option<IssueState> = seen.map(|i| i.state.clone());
    for e in events {
        if e.actor != who.user.as_str() {
            return Err(Refusal::ForgedActor {
                event: e.id.clone(),
                claimed: e.actor.clone(),
                user: who.user.to_string(),
            });
        }
        if e.role != Some(who.role) {
            return Err(Refusal::WrongRole {
                event: e.id.clone(),
                claimed: e.role,
                user: who.user.to_string(),
                role: who.role,
            });
        }
        if e.at.0 > latest {
            return Err(Refusal::FromTheFuture {
                event: e.id.clone(),
                at: e.at.0,
                latest,
            });
        }
        if e.at < earliest {
            return Err(Refusal::Backdated {
                event: e.id.clone(),
                at: e.at.0,
                earliest: earliest.0,
            });
        }
        earliest = e.at;
        let forbidden = |level: &'static str| Refusal::Forbidden {
            event: e.id.clone(),
            kind: e.kind.code(),
            role: who.role,
            level,
        };
        match (&mut state, e.kind) {
            (None, EventKind::Report) => state = Some(IssueState::reported(e)),
            // An issue has one report, and it comes first.
            (None, _) => return Err(forbidden("no")),
            (Some(s), EventKind::Report) => return Err(forbidden(s.level.code())),
            (Some(s), _) => {
                if !s.permits(who.role, e) {
                    return Err(forbidden(s.level.code()));
                }
                s.step(e);
            }
        }
    }
    Ok(())
}
