//! Who may take which issue action: the one table of roles, levels and actions. The app's
//! buttons read it; the server's policy will enforce it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::event::{EventKind, Level};
use super::lifecycle::Status;

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

/// A role code that names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role.
    pub const ALL: [Self; 5] = [
        Self::Worker,
        Self::CommunitySupervisor,
        Self::StreetSupervisor,
        Self::CitySupervisor,
        Self::Admin,
    ];

    /// The code in accounts and the API (`community_supervisor`).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::CommunitySupervisor => "community_supervisor",
            Self::StreetSupervisor => "street_supervisor",
            Self::CitySupervisor => "city_supervisor",
            Self::Admin => "admin",
        }
    }

    /// Whether this role supervises (sees the dashboard, acts on the issue queue).
    pub fn is_supervisor(self) -> bool {
        !matches!(self, Self::Worker)
    }

    /// The level a supervisor answers for: a community secretary's queue holds
    /// community-level issues. `None` for a worker.
    pub fn level(self) -> Option<Level> {
        match self {
            Self::Worker => None,
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

/// The actions `role` may take on an issue in `status` at `level`, in the order the app shows
/// them. Small matters stay in the grid: a worker accepts, handles, escalates to the community
/// and closes at grid level, and comments above it; a supervisor acts on the issue as its
/// status allows (the fold ignores an action the status does not allow).
pub fn actions(role: Role, status: Status, level: Level) -> Vec<EventKind> {
    use EventKind::*;
    if !role.is_supervisor() {
        let mut actions = Vec::new();
        if level == Level::Grid {
            match status {
                Status::Reported => actions.extend([Accept, Escalate]),
                Status::Accepted | Status::Dispatched => actions.extend([Handle, Escalate]),
                Status::Handled | Status::Verified => actions.push(Close),
                Status::Closed => actions.push(Reopen),
            }
        }
        actions.push(Comment);
        return actions;
    }
    match status {
        Status::Reported => vec![Accept, Dispatch, Escalate, Close, Comment],
        Status::Accepted | Status::Dispatched => vec![Dispatch, Handle, Escalate, Close, Comment],
        Status::Handled => vec![Verify, Close, Reopen, Escalate, Comment],
        Status::Verified => vec![Close, Reopen, Comment],
        Status::Closed => vec![Reopen, Comment],
    }
}

/// The level an escalation from `level` goes to: one up (逐级化解), the city at the top.
pub fn escalation_target(level: Level) -> Level {
    match level {
        Level::Grid => Level::Community,
        Level::Community => Level::Street,
        Level::Street | Level::City => Level::City,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_act_only_at_grid_level() {
        assert_eq!(
            actions(Role::Worker, Status::Reported, Level::Grid),
            vec![EventKind::Accept, EventKind::Escalate, EventKind::Comment]
        );
        assert_eq!(
            actions(Role::Worker, Status::Reported, Level::Community),
            vec![EventKind::Comment]
        );
        assert!(actions(Role::Worker, Status::Closed, Level::Grid).contains(&EventKind::Reopen));
    }

    #[test]
    fn supervisors_answer_for_their_level() {
        assert_eq!(Role::CommunitySupervisor.level(), Some(Level::Community));
        assert_eq!(Role::Worker.level(), None);
        assert!(
            actions(Role::StreetSupervisor, Status::Handled, Level::Street)
                .contains(&EventKind::Verify)
        );
        assert_eq!(
            actions(Role::CitySupervisor, Status::Closed, Level::Grid),
            vec![EventKind::Reopen, EventKind::Comment]
        );
    }

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
    }
}
