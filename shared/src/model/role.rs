//! Who does what: the roles of accounts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SchemaError;

/// What a user does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A full-time grid worker: records visits and acts on issues in their grids.
    Worker,
    /// A volunteer (a party member) attached to grids: records visits, reports, comments and
    /// handles issues, but does not close them.
    Volunteer,
    /// A community secretary.
    CommunitySupervisor,
    /// A street office supervisor.
    StreetSupervisor,
    /// A city office supervisor.
    CitySupervisor,
    /// City IT.
    Admin,
    /// A city department (住建局, 城管局…) that handles issues dispatched to it: its account's
    /// name is the department's code (`d-housing`), the assignee a dispatch names.
    Department,
}

/// A role code that names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role.
    pub const ALL: [Self; 7] = [
        Self::Worker,
        Self::Volunteer,
        Self::CommunitySupervisor,
        Self::StreetSupervisor,
        Self::CitySupervisor,
        Self::Admin,
        Self::Department,
    ];

    /// The code in accounts and the API (`community_supervisor`).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Volunteer => "volunteer",
            Self::CommunitySupervisor => "community_supervisor",
            Self::StreetSupervisor => "street_supervisor",
            Self::CitySupervisor => "city_supervisor",
            Self::Admin => "admin",
            Self::Department => "department",
        }
    }

    /// Whether this role supervises (sees the dashboard, acts on the issue queue).
    pub fn is_supervisor(self) -> bool {
        !matches!(self, Self::Worker | Self::Volunteer | Self::Department)
    }

    /// The level a supervisor answers for: a community secretary's queue holds
    /// community-level issues. `None` for workers and volunteers.
    pub fn level(self) -> Option<Level> {
        match self {
            Self::Worker | Self::Volunteer | Self::Department => None,
            Self::CommunitySupervisor => Some(Level::Community),
            Self::StreetSupervisor => Some(Level::Street),
            Self::CitySupervisor | Self::Admin => Some(Level::City),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| UnknownRole(s.chars().take(40).collect()))
    }
}

/// The level that handles an issue, lowest first: small matters stay in the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The grid (网格).
    Grid,
    /// The community (社区).
    Community,
    /// The street office (街道).
    Street,
    /// A city department (市直部门).
    City,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Self; 4] = [Self::Grid, Self::Community, Self::Street, Self::City];

    /// Its place in [`Level::ALL`]: the index of per-level counts, lowest first.
    pub const fn index(self) -> usize {
        match self {
            Self::Grid => 0,
            Self::Community => 1,
            Self::Street => 2,
            Self::City => 3,
        }
    }

    /// The code stored in records.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Grid => "grid",
            Self::Community => "community",
            Self::Street => "street",
            Self::City => "city",
        }
    }
}

impl FromStr for Level {
    type Err = SchemaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|l| l.code() == s)
            .ok_or_else(|| SchemaError::invalid("level", format!("unknown level {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.code().parse::<Role>(), Ok(r));
            assert_eq!(
                serde_json::to_value(r).expect("json"),
                serde_json::json!(r.code())
            );
        }
        assert!("mayor".parse::<Role>().is_err());
        assert!(!Role::Volunteer.is_supervisor());
    }
}
