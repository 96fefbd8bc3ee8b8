//! Who is on a connection: the authenticated user, their role and scope.

use serde::{Deserialize, Serialize};

use crate::ids::{Scope, UserId};
use crate::model::{RecordMeta, Role};

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
