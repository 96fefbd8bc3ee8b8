//! The vocabulary of an issue's events: what an event does (levels live with roles, in
//! `role.rs`), where an issue stands, and one event of the append-only list. The issue record
//! (`issue.rs`) and its lifecycle fold (`lifecycle.rs`) both speak it.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SchemaError;
pub use super::role::Level;
use super::role::Role;
use crate::time::Millis;

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
    /// The resident was asked whether the problem is solved (回访); `satisfied` says. Not
    /// satisfied sends handled work back to handling.
    FollowUp,
    /// The resident's own rating of a closed issue (1–5), written by the server from the
    /// status page.
    Rate,
}

impl EventKind {
    /// All kinds.
    pub const ALL: [Self; 11] = [
        Self::Report,
        Self::Accept,
        Self::Dispatch,
        Self::Escalate,
        Self::Handle,
        Self::Verify,
        Self::Close,
        Self::Reopen,
        Self::Comment,
        Self::FollowUp,
        Self::Rate,
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
            Self::FollowUp => "followup",
            Self::Rate => "rate",
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

/// Where an issue stands (上报 → 受理 → 派遣 → 处置 → 核查 → 结案).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Reported to a level, waiting to be accepted.
    Reported,
    /// Accepted by the level.
    Accepted,
    /// Assigned to someone to handle.
    Dispatched,
    /// Handled, waiting for verification.
    Handled,
    /// Verified, waiting to be closed.
    Verified,
    /// Closed.
    Closed,
}

impl Status {
    /// The code used in exports and APIs.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Accepted => "accepted",
            Self::Dispatched => "dispatched",
            Self::Handled => "handled",
            Self::Verified => "verified",
            Self::Closed => "closed",
        }
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
    /// Who (user ID): always the writer of the change that added the event.
    pub actor: String,
    /// The actor's role when they acted (events written before roles were recorded have
    /// none).
    pub role: Option<Role>,
    /// A remark.
    pub note: String,
    /// The target level of an `escalate`.
    pub level: Option<Level>,
    /// The person a `dispatch` assigns.
    pub assignee: Option<String>,
    /// The time limit of the step this event starts, in ms: the city's rule in force when it
    /// was written (stored as `limitMs`), so every replica computes the same deadline and a
    /// later change of the rule leaves old steps as they were. `None` (events written before
    /// the rule was a setting, or that start no step): [`super::lifecycle::step_limit`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// A follow-up's answer (回访): whether the resident is satisfied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfied: Option<bool>,
    /// A resident's rating, 1 to 5 (`rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
}

impl IssueEvent {
    /// An event of `kind` by `actor` acting as `role`, with nothing else set.
    pub fn new(id: String, kind: EventKind, at: Millis, actor: String, role: Option<Role>) -> Self {
        Self {
            id,
            kind,
            at,
            actor,
            role,
            note: String::new(),
            level: None,
            assignee: None,
            limit: None,
            satisfied: None,
            score: None,
        }
    }
}
