//! The issue lifecycle: a deterministic fold of the event list into status, level, assignee and
//! step deadline.
//!
//! Events are sorted by `(at, id)` before folding, so the result depends only on the *set* of
//! events, never on the order replicas merged them. An event that does not fit the state it
//! meets (closing an issue that is already closed, escalating to a lower level) stays in the
//! timeline but changes nothing; [`IssueState::ignored`] lists those.

use serde::{Deserialize, Serialize};

use super::SchemaError;
pub use super::event::Status;
use super::event::{EventKind, IssueEvent, Level};
use super::role::Role;
use super::rules::{self, Standing};
use crate::time::Millis;

/// The state derived from an issue's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueState {
    /// Current status.
    pub status: Status,
    /// The level currently responsible.
    pub level: Level,
    /// Who currently holds it, if anyone.
    pub assignee: Option<String>,
    /// When the current step began.
    pub step_started: Millis,
    /// When the current step is due; `None` once closed.
    pub deadline: Option<Millis>,
    /// When it was first reported.
    pub reported_at: Millis,
    /// When it was last closed (if closed now).
    pub closed_at: Option<Millis>,
    /// The level at which it was closed (if closed now).
    pub closed_level: Option<Level>,
    /// IDs of events that did not apply to the state they met (forbidden ones included).
    pub ignored: Vec<String>,
    /// IDs of events their actor's role may not take where they landed ([`rules::allows`]).
    pub forbidden: Vec<String>,
    /// Past steps that ran over their deadline: (deadline, when the step ended).
    pub overdue_spans: Vec<(Millis, Millis)>,
    /// The time limit the event that started the current step carried (the rule in force
    /// when it was written), if it carried one.
    pub step_rule: Option<i64>,
    /// Whether closing waits for a satisfied follow-up (回访): issues residents and visits
    /// raised (the record's `followUp`).
    #[serde(default)]
    pub needs_follow_up: bool,
    /// The answer of the last follow-up since the issue was last handled.
    #[serde(default)]
    pub satisfied: Option<bool>,
    /// The resident's latest rating (1–5).
    #[serde(default)]
    pub rating: Option<u8>,
    /// Where handling resumes if a follow-up is not satisfied (the status before `handle`).
    #[serde(default)]
    pub resume: Option<Status>,
}

impl IssueState {
    /// Whether the current step is past its deadline at `now` (超时).
    pub fn overdue(&self, now: Millis) -> bool {
        self.deadline.is_some_and(|d| now > d)
    }

    /// Whether closing still waits for a satisfied follow-up.
    pub fn follow_up_due(&self) -> bool {
        self.needs_follow_up && self.satisfied != Some(true) && self.status != Status::Closed
    }

    /// Whether the issue is open.
    pub fn is_open(&self) -> bool {
        self.status != Status::Closed
    }

    /// Where it stands, for the rules table.
    pub fn standing(&self) -> Standing {
        Standing {
            level: self.level,
            status: self.status,
            closed: self.closed_level.zip(self.closed_at),
            follow_up_due: self.follow_up_due(),
        }
    }

    /// The state right after its `report` event.
    pub fn reported(report: &IssueEvent) -> Self {
        Self {
            status: Status::Reported,
            // A report the server wrote (no role: a resident's) may go straight to another
            // level (one with no grid: the city's dispatch queue); people report in the grid.
            level: match report.role {
                None => report.level.unwrap_or(Level::Grid),
                Some(_) => Level::Grid,
            },
            assignee: None,
            step_started: report.at,
            deadline: report
                .limit
                .or(step_limit(Status::Reported, Level::Grid))
                .map(|l| report.at.plus(l)),
            reported_at: report.at,
            closed_at: None,
            closed_level: None,
            ignored: Vec::new(),
            forbidden: Vec::new(),
            overdue_spans: Vec::new(),
            step_rule: report.limit,
            needs_follow_up: false,
            satisfied: None,
            rating: None,
            resume: None,
        }
    }

    /// Whether someone of `role` may take `e` where the issue stands: the rules table
    /// ([`rules::allows`]), and for a department, handling what is dispatched to it (its
    /// account is named by its code, the assignee) while it is.
    pub fn permits(&self, role: Role, e: &IssueEvent) -> bool {
        match role {
            Role::Department => match e.kind {
                EventKind::Report | EventKind::Comment => true,
                EventKind::Handle => {
                    self.status == Status::Dispatched
                        && self.assignee.as_deref() == Some(e.actor.as_str())
                }
                _ => false,
            },
            _ => rules::allows(role, e, &self.standing()),
        }
    }

    /// How long the current step may take: the rule its first event carried, else the
    /// built-in one; none once closed.
    pub fn step_limit(&self) -> Option<i64> {
        match self.status {
            Status::Closed => None,
            _ => self.step_rule.or(step_limit(self.status, self.level)),
        }
    }

    /// Every time it was overdue (超时): from a step's deadline to the step's end, the last
    /// one open (`None`) while the current step runs. Overdue at `t` means inside one.
    pub fn overdue_spans(&self) -> Vec<(Millis, Option<Millis>)> {
        let mut all: Vec<(Millis, Option<Millis>)> = self
            .overdue_spans
            .iter()
            .map(|(a, b)| (*a, Some(*b)))
            .collect();
        all.extend(self.deadline.map(|d| (d, None)));
        all
    }

    /// Closed, and never past a step's deadline on the way.
    pub fn closed_on_time(&self) -> bool {
        self.status == Status::Closed && self.overdue_spans.is_empty()
    }

    /// Applies one more event (after the report), as the fold does; then the deadline.
    pub fn step(&mut self, e: &IssueEvent) -> Step {
        let (started, status, deadline) = (self.step_started, self.status, self.deadline);
        let allowed = e.role.is_none_or(|role| self.permits(role, e));
        let outcome = if !allowed {
            self.forbidden.push(e.id.clone());
            self.ignored.push(e.id.clone());
            Step::Forbidden
        } else if apply(self, e) {
            Step::Applied
        } else {
            self.ignored.push(e.id.clone());
            Step::Ignored
        };
        self.deadline = self.step_limit().map(|limit| self.step_started.plus(limit));
        // A step that ended after its deadline was overdue until then.
        if (self.step_started, self.status) != (started, status)
            && let Some(d) = deadline
            && e.at > d
        {
            self.overdue_spans.push((d, e.at));
        }
        outcome
    }
}

/// What one event did in the fold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// It changed the state as meant (or was a comment).
    Applied,
    /// It did not fit the state it met (closing a closed issue): kept, changing nothing.
    Ignored,
    /// Its actor's role may not take it where it landed: kept, changing nothing.
    Forbidden,
}

/// How long each step may take before it is overdue (超时督办).
pub fn step_limit(status: Status, level: Level) -> Option<i64> {
    let day = Millis::DAY;
    match status {
        Status::Reported | Status::Accepted | Status::Verified => Some(day),
        Status::Dispatched => Some(match level {
            Level::Grid => 3 * day,
            Level::Community => 5 * day,
            Level::Street => 7 * day,
            Level::City => 15 * day,
        }),
        Status::Handled => Some(2 * day),
        Status::Closed => None,
    }
}

/// The city's step deadlines (a setting an admin changes): ms per step, a dispatched step's
/// by level. [`Default`] is the rule built in ([`step_limit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepLimits {
    /// Reported (上报) until accepted, and verified (核查) until closed.
    pub respond_ms: i64,
    /// Dispatched (派遣) until handled: grid, community, street, city.
    pub dispatched_ms: [i64; 4],
    /// Handled (处置) until verified.
    pub handled_ms: i64,
}

impl Default for StepLimits {
    fn default() -> Self {
        let day = Millis::DAY;
        Self {
            respond_ms: day,
            dispatched_ms: [3 * day, 5 * day, 7 * day, 15 * day],
            handled_ms: 2 * day,
        }
    }
}

impl StepLimits {
    /// Shortest and longest step an admin may set.
    pub const RANGE: std::ops::RangeInclusive<i64> = 3_600_000..=90 * Millis::DAY;

    /// The limit of a step of `status` at `level` (`None`: closed).
    pub fn limit(&self, status: Status, level: Level) -> Option<i64> {
        match status {
            Status::Reported | Status::Accepted | Status::Verified => Some(self.respond_ms),
            Status::Dispatched => Some(self.dispatched_ms[level.index()]),
            Status::Handled => Some(self.handled_ms),
            Status::Closed => None,
        }
    }

    /// Whether every limit lies in [`StepLimits::RANGE`].
    pub fn is_valid(&self) -> bool {
        std::iter::once(self.respond_ms)
            .chain(self.dispatched_ms)
            .chain([self.handled_ms])
            .all(|ms| Self::RANGE.contains(&ms))
    }
}

/// `event` carrying the rule in force for the step it starts, if it starts one after
/// `events` (the issue's events so far): what a device writes, so every replica computes the
/// same deadline whatever the rule becomes later.
pub fn stamped(events: &[IssueEvent], mut event: IssueEvent, limits: &StepLimits) -> IssueEvent {
    let mut all: Vec<IssueEvent> = events.to_vec();
    all.push(event.clone());
    sort_events(&mut all);
    if let Ok(s) = fold(&all)
        && s.step_started == event.at
        && s.status != Status::Closed
        && s.step_rule.is_none()
    {
        event.limit = limits.limit(s.status, s.level);
    }
    event
}

/// Sorts events into fold order: by time, then by ID.
pub fn sort_events(events: &mut [IssueEvent]) {
    events.sort_by(|a, b| (a.at, &a.id, a.kind.code()).cmp(&(b.at, &b.id, b.kind.code())));
}

/// [`sort_events`] over references.
pub fn sort_events_by_ref(events: &mut [&IssueEvent]) {
    events.sort_by(|a, b| (a.at, &a.id, a.kind.code()).cmp(&(b.at, &b.id, b.kind.code())));
}

/// Folds sorted events into the issue's state. The first `report` event opens the issue;
/// there must be one. An event whose role may not take it where it lands is ignored
/// ([`rules::allows`]); events written before roles were recorded carry none and are taken.
pub fn fold(events: &[IssueEvent]) -> Result<IssueState, SchemaError> {
    fold_with(events, false)
}

/// [`fold`] for an issue whose closing waits for a satisfied follow-up (`needs_follow_up`).
pub fn fold_with(events: &[IssueEvent], needs_follow_up: bool) -> Result<IssueState, SchemaError> {
    let report = events
        .iter()
        .find(|e| e.kind == EventKind::Report)
        .ok_or(SchemaError::Missing("events.report"))?;
    let mut s = IssueState::reported(report);
    s.needs_follow_up = needs_follow_up;
    for e in events {
        if !std::ptr::eq(e, report) {
            s.step(e);
        }
    }
    s.deadline = s.step_limit().map(|limit| s.step_started.plus(limit));
    Ok(s)
}

/// Applies one event; returns whether it changed anything it was meant to.
fn apply(s: &mut IssueState, e: &IssueEvent) -> bool {
    use Status::*;
    let next = match (e.kind, s.status) {
        (EventKind::Comment, _) => return true,
        (EventKind::Report, _) => return false,
        (EventKind::Accept, Reported) => {
            s.assignee = Some(e.actor.clone());
            Accepted
        }
        (EventKind::Dispatch, Reported | Accepted | Dispatched) => match &e.assignee {
            Some(who) => {
                s.assignee = Some(who.clone());
                Dispatched
            }
            None => return false,
        },
        (EventKind::Escalate, Closed) => return false,
        (EventKind::Escalate, _) => match e.level {
            // Level by level: one up from where the issue is.
            Some(level) if level > s.level && level == rules::escalation_target(s.level) => {
                s.level = level;
                s.assignee = None;
                Reported
            }
            _ => return false,
        },
        (EventKind::Rate, Closed) => {
            s.rating = e.score;
            return e.score.is_some();
        }
        (EventKind::FollowUp, Closed) => return false,
        (EventKind::FollowUp, status) => match e.satisfied {
            None => return false,
            Some(true) => {
                s.satisfied = Some(true);
                return true;
            }
            // Not satisfied: handled work goes back to handling.
            Some(false) => {
                s.satisfied = Some(false);
                match (status, s.resume) {
                    (Handled | Verified, Some(back)) => back,
                    (Handled | Verified, None) => Accepted,
                    _ => return true,
                }
            }
        },
        (EventKind::Handle, Accepted | Dispatched) => {
            s.resume = Some(s.status);
            s.satisfied = None;
            Handled
        }
        (EventKind::Close, _) if s.follow_up_due() => return false,
        (EventKind::Verify, Handled) => Verified,
        (EventKind::Close, Closed) => return false,
        (EventKind::Close, _) => {
            s.closed_at = Some(e.at);
            s.closed_level = Some(s.level);
            Closed
        }
        (EventKind::Reopen, Closed | Handled | Verified) => {
            s.closed_at = None;
            s.closed_level = None;
            s.satisfied = None;
            Reported
        }
        _ => return false,
    };
    s.status = next;
    s.step_started = e.at;
    s.step_rule = e.limit;
    true
}

#[cfg(test)]
mod tests;
