//! Who may read and write what: the access policy the engine consults, passed in by the driver.

use serde::{Deserialize, Serialize};

use crate::ids::{GridId, Scope, UserId};
use crate::model::{Record, RecordMeta, SchemaError};
use crate::time::Millis;

pub use crate::model::Role;

/// An authenticated user on a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The account.
    pub user: UserId,
    /// Its role.
    pub role: Role,
    /// What it may see.
    pub scope: Scope,
}

impl Principal {
    /// Whether this user may see a record: its grid lies in their scope. The one scope check of
    /// the sync engine and the HTTP API.
    pub fn can_read(&self, meta: &RecordMeta) -> bool {
        self.scope.contains(&meta.grid)
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The change leaves the record invalid.
    #[error("invalid record: {0}")]
    Schema(#[from] SchemaError),
    /// The record is (or would be) outside the writer's scope.
    #[error("record in grid {grid} is outside the scope {scope} of {user}")]
    OutOfScope {
        /// The grid of the record.
        grid: GridId,
        /// The writer's scope.
        scope: String,
        /// The writer.
        user: String,
    },
    /// The change moves a record from one grid to another, or changes its kind.
    #[error("a record may not change its {0}")]
    Immutable(&'static str),
    /// The change rewrites or removes an issue event: the event list is append-only.
    #[error("issue events are append-only: event {0:?} was changed or removed")]
    EventRewritten(String),
    /// A new issue event names someone else as its actor.
    #[error("event {event:?} claims actor {claimed:?} but was written by {user}")]
    ForgedActor {
        /// The event.
        event: String,
        /// The actor it names.
        claimed: String,
        /// Who wrote it.
        user: String,
    },
    /// The connection is not authenticated.
    #[error("not signed in")]
    Anonymous,
    /// A change to a document the writer may not see (answered as if it did not exist).
    #[error("not permitted")]
    NotPermitted,
}

/// The rules a hub applies to the peers it serves (its inbound connections). What arrives
/// from a hub's own server is applied as is. Implementations must be pure functions of their
/// arguments.
pub trait AccessPolicy: Send + Sync {
    /// Whether `who` may see a record.
    fn can_read(&self, who: Option<&Principal>, meta: &RecordMeta) -> bool;

    /// Whether `who` may turn a record from `before` (absent for a new record) into `after`
    /// at `now` (the server's clock).
    fn check_write(
        &self,
        now: Millis,
        who: Option<&Principal>,
        before: Option<&Record>,
        after: &Record,
    ) -> Result<(), Refusal>;
}

/// A client's policy: it serves no one, and trusts its server.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrustServer;

impl AccessPolicy for TrustServer {
    fn can_read(&self, _: Option<&Principal>, _: &RecordMeta) -> bool {
        true
    }
    fn check_write(
        &self,
        _: Millis,
        _: Option<&Principal>,
        _: Option<&Record>,
        _: &Record,
    ) -> Result<(), Refusal> {
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

    fn check_write(
        &self,
        _now: Millis,
        who: Option<&Principal>,
        before: Option<&Record>,
        after: &Record,
    ) -> Result<(), Refusal> {
        let who = who.ok_or(Refusal::Anonymous)?;
        let meta = after.meta();
        if let (Some(Record::Issue(old)), Record::Issue(new)) = (before, after) {
            check_events(who, &old.events, &new.events)?;
        } else if let (None, Record::Issue(new)) = (before, after) {
            check_events(who, &[], &new.events)?;
        }
        if let Some(before) = before.map(Record::meta) {
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
        Ok(())
    }
}

/// Every earlier event is kept unchanged; every new event names its writer as actor.
fn check_events(
    who: &Principal,
    old: &[crate::model::IssueEvent],
    new: &[crate::model::IssueEvent],
) -> Result<(), Refusal> {
    for e in old {
        if !new.contains(e) {
            return Err(Refusal::EventRewritten(e.id.clone()));
        }
    }
    for e in new.iter().filter(|e| !old.iter().any(|o| o.id == e.id)) {
        if e.actor != who.user.as_str() && who.role != Role::Admin {
            return Err(Refusal::ForgedActor {
                event: e.id.clone(),
                claimed: e.actor.clone(),
                user: who.user.to_string(),
            });
        }
    }
    Ok(())
}
