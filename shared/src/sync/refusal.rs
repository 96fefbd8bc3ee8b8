//! Why a change was refused: each rule no merge can break, named with what broke it.

use crate::ids::GridId;
use crate::model::{Role, SchemaError};

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
    /// A new issue event does not carry its writer's role.
    #[error("event {event:?} claims role {claimed:?} but {user} is a {role}")]
    WrongRole {
        /// The event.
        event: String,
        /// The role it names.
        claimed: Option<Role>,
        /// Who wrote it.
        user: String,
        /// Their role.
        role: Role,
    },
    /// The writer's role may not take this action on the issue as they saw it.
    #[error("a {role} may not {kind} an issue at {level} level (event {event:?})")]
    Forbidden {
        /// The event.
        event: String,
        /// The action.
        kind: &'static str,
        /// The writer's role.
        role: Role,
        /// The level as the writer saw it.
        level: &'static str,
    },
    /// A new event claims a time earlier than an event its writer had already seen.
    #[error("event {event:?} is dated {at} ms, before an event it follows ({earliest} ms)")]
    Backdated {
        /// The event.
        event: String,
        /// Its time.
        at: i64,
        /// The latest event time in its causal past.
        earliest: i64,
    },
    /// A new event claims a time later than the server's clock allows.
    #[error(
        "event {event:?} is dated {at} ms, after the server's clock plus 10 minutes ({latest} ms)"
    )]
    FromTheFuture {
        /// The event.
        event: String,
        /// Its time.
        at: i64,
        /// The latest time accepted.
        latest: i64,
    },
    /// The writer's role does not write records of this kind.
    #[error("a {role} may not write {kind} records")]
    KindNotForRole {
        /// The record kind.
        kind: &'static str,
        /// The writer's role.
        role: Role,
    },
    /// A monthly review dated outside the weeks it may still be recorded in (it would move a
    /// month's figure that has been read).
    #[error(
        "review dated {at} ms: a review is recorded within 35 days of being held and not in the future ({earliest}..={latest} ms)"
    )]
    ReviewDate {
        /// Its date.
        at: i64,
        /// The earliest accepted.
        earliest: i64,
        /// The latest accepted.
        latest: i64,
    },
    /// Two events share an ID.
    #[error("event id {0:?} is used twice")]
    DuplicateEvent(String),
    /// One message adds more operations than a hub applies at once.
    #[error("one message adds {ops} operations; at most {max} are applied at once")]
    TooLarge {
        /// Operations it adds.
        ops: usize,
        /// The limit.
        max: usize,
    },
    /// One message's compressed changes inflate past what a hub inflates at once.
    #[error("one message's compressed changes inflate to more than {max} bytes")]
    Inflates {
        /// The limit.
        max: usize,
    },
    /// A bundle chunk, which automerge's sync never sends.
    #[error("bundle chunks are not accepted from peers (automerge's sync never sends them)")]
    Bundle,
    /// The connection is not authenticated.
    #[error("not signed in")]
    Anonymous,
    /// A change to a document the writer may not see (answered as if it did not exist).
    #[error("not permitted")]
    NotPermitted,
}
