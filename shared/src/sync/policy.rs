//! Who may read and write what: the access policy the engine consults, passed in by the driver.

use serde::{Deserialize, Serialize};

use crate::ids::{GridId, Scope, UserId};
use crate::model::{Record, RecordMeta, SchemaError};

/// What a user does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A grid worker or volunteer: records visits in their grids.
    Worker,
    /// A community secretary.
    CommunitySupervisor,
    /// A street office supervisor.
    StreetSupervisor,
    /// A city office supervisor.
    CitySupervisor,
    /// City IT.
    Admin,
}

impl Role {
    /// Whether this role supervises (sees the dashboard, acts on the issue queue).
    pub fn is_supervisor(self) -> bool {
        !matches!(self, Self::Worker)
    }
}

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
}

/// The rules the engine applies. Implementations must be pure functions of their arguments.
pub trait AccessPolicy: Send + Sync {
    /// Whether changes must be validated and checked at all (a server: yes; a client trusts
    /// its server and applies what it gets).
    fn authoritative(&self) -> bool;

    /// Whether `who` may see a record.
    fn can_read(&self, who: Option<&Principal>, meta: &RecordMeta) -> bool;

    /// Whether `who` may turn a record from `before` (absent for a new record) into `after`.
    fn check_write(
        &self,
        who: Option<&Principal>,
        before: Option<&Record>,
        after: &Record,
    ) -> Result<(), Refusal>;
}

/// A client's policy: the server decides, so everything it sends is applied.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrustServer;

impl AccessPolicy for TrustServer {
    fn authoritative(&self) -> bool {
        false
    }
    fn can_read(&self, _: Option<&Principal>, _: &RecordMeta) -> bool {
        true
    }
    fn check_write(
        &self,
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
    fn authoritative(&self) -> bool {
        true
    }

    fn can_read(&self, who: Option<&Principal>, meta: &RecordMeta) -> bool {
        who.is_some_and(|p| p.scope.contains(&meta.grid))
    }

    fn check_write(
        &self,
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
        if !who.scope.contains(&meta.grid) {
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
