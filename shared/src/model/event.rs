//! The vocabulary of an issue's events: the levels that handle issues, what an event does, and
//! one event of the append-only list. The issue record (`issue.rs`) and its lifecycle fold
//! (`lifecycle.rs`) both speak it.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SchemaError;
use crate::time::Millis;

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

/// What an event does to an issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The issue is reported (上报); always the first event.
    Report,
    /// The level accepts it (受理).
    Accept,
    /// It is assigned to someone (派遣).
    Dispatch,
    /// It goes up to a higher level (上报上级).
    Escalate,
    /// Someone dealt with it (处置).
    Handle,
    /// The handling is checked (核查).
    Verify,
    /// It is closed (结案).
    Close,
    /// It is opened again (重新打开).
    Reopen,
    /// A remark without a change of state (备注).
    Comment,
}

impl EventKind {
    /// All kinds.
    pub const ALL: [Self; 9] = [
        Self::Report,
        Self::Accept,
        Self::Dispatch,
        Self::Escalate,
        Self::Handle,
        Self::Verify,
        Self::Close,
        Self::Reopen,
        Self::Comment,
    ];

    /// The code stored in records.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Accept => "accept",
            Self::Dispatch => "dispatch",
            Self::Escalate => "escalate",
            Self::Handle => "handle",
            Self::Verify => "verify",
            Self::Close => "close",
            Self::Reopen => "reopen",
            Self::Comment => "comment",
        }
    }
}

impl FromStr for EventKind {
    type Err = SchemaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| SchemaError::invalid("events.kind", format!("unknown kind {s:?}")))
    }
}

/// One entry of an issue's append-only event list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueEvent {
    /// A device-generated unique ID; breaks ties between events with the same time.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// When (device time).
    pub at: Millis,
    /// Who (user ID).
    pub actor: String,
    /// A remark.
    pub note: String,
    /// The target level of an `escalate`.
    pub level: Option<Level>,
    /// The person a `dispatch` assigns.
    pub assignee: Option<String>,
}
