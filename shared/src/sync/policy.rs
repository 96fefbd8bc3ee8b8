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
