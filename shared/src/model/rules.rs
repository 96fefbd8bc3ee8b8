//! Who may take which issue action, where: the one table of roles, levels and actions
//! (逐级化解: issues move up level by level). The app's buttons, the server's write-time check
//! and the lifecycle fold all read [`allows`], so two concurrent events cannot add up to what
//! neither writer may do: the fold ignores an event that is not allowed where it lands.
//!
//! - Anyone whose scope holds an issue reports and comments.
//! - A grid worker acts at grid level: accepts, handles, closes, escalates to the community.
//! - A volunteer handles at grid level, but does not accept, close or escalate.
//! - A supervisor (community, street, city) acts on issues at their own level: accepts,
//!   dispatches, handles, verifies, closes, escalates one level up, reopens; and may reopen a
//!   closure made one level below within [`REOPEN_WINDOW`].
//!
//! Scope ("in their own grids", "in their community") is the policy's part: the table knows
//! roles and levels only.

use super::event::{EventKind, IssueEvent, Level, Status};
use super::role::Role;
use crate::time::Millis;

/// How long after a closure one level below a supervisor may still reopen it.
pub const REOPEN_WINDOW: i64 = 7 * Millis::DAY;

/// Where an issue stands, as far as the table cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// The level responsible now.
    pub level: Level,
    /// The status now.
    pub status: Status,
    /// Where and when it was closed, if it is closed.
    pub closed: Option<(Level, Millis)>,
    /// Closing waits for a satisfied follow-up (回访).
    pub follow_up_due: bool,
}

/// The level a role acts at (`None`: it takes no issue actions but reporting and comments).
pub fn acting_level(role: Role) -> Option<Level> {
    match role {
        Role::Worker | Role::Volunteer => Some(Level::Grid),
        Role::CommunitySupervisor => Some(Level::Community),
        Role::StreetSupervisor => Some(Level::Street),
        Role::CitySupervisor => Some(Level::City),
        Role::Admin | Role::Department => None,
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

fn below(level: Level) -> Option<Level> {
    match level {
        Level::Grid => None,
        Level::Community => Some(Level::Grid),
        Level::Street => Some(Level::Community),
        Level::City => Some(Level::Street),
    }
}

/// Whether `role` may take event `e` on an issue standing at `s`.
pub fn allows(role: Role, e: &IssueEvent, s: &Standing) -> bool {
    use EventKind::*;
    if matches!(e.kind, Report | Comment) {
        return true;
    }
    // Only a resident rates, through the server (events with no role).
    if e.kind == Rate {
        return false;
    }
    let Some(acting) = acting_level(role) else {
        return false;
    };
    if e.kind == Reopen {
        return role.is_supervisor()
            && match s.closed {
                Some((level, _)) if level == acting => true,
                Some((level, at)) => below(acting) == Some(level) && e.at.0 <= at.0 + REOPEN_WINDOW,
                // Sending handled work back at one's own level.
                None => s.level == acting,
            };
    }
    if s.level != acting {
        return false;
    }
    match (role, e.kind) {
        (Role::Volunteer, Handle) => true,
        (Role::Volunteer, _) => false,
        (Role::Worker, Dispatch | Verify) => false,
        (_, Escalate) => acting != Level::City && e.level == Some(escalation_target(acting)),
        _ => true,
    }
}

/// Whether an event of `kind` changes an issue in `status` (the fold keeps the others in the
/// timeline but ignores them).
pub fn fits(kind: EventKind, status: Status) -> bool {
    use EventKind::*;
    use Status::*;
    match kind {
        Comment => true,
        Report => false,
        Accept => status == Reported,
        Dispatch => matches!(status, Reported | Accepted | Dispatched),
        Escalate | Close => status != Closed,
        Handle => matches!(status, Accepted | Dispatched),
        Verify => status == Handled,
        Reopen => matches!(status, Closed | Handled | Verified),
        FollowUp => status != Closed,
        Rate => status == Closed,
    }
}

/// The actions `role` may take now on an issue standing at `s`, in the order the app shows
/// them.
pub fn actions(role: Role, s: &Standing, now: Millis) -> Vec<EventKind> {
    use EventKind::*;
    [
        Accept, Dispatch, Handle, Verify, FollowUp, Escalate, Close, Reopen, Comment,
    ]
    .into_iter()
    .filter(|kind| *kind != Close || !s.follow_up_due)
    .filter(|kind| *kind != FollowUp || matches!(s.status, Status::Handled | Status::Verified))
    .filter(|kind| {
        let probe = IssueEvent {
            id: String::new(),
            kind: *kind,
            at: now,
            actor: String::new(),
            role: Some(role),
            note: String::new(),
            level: (*kind == Escalate).then(|| escalation_target(s.level)),
            assignee: None,
            limit: None,
            satisfied: None,
            score: None,
        };
        fits(*kind, s.status) && allows(role, &probe, s)
    })
    .collect()
}

/// What a department may do to an issue: handle it while it is dispatched to it (its account
/// is named by its code, the assignee), and comment.
pub fn department_actions(
    status: Status,
    assignee: Option<&str>,
    department: &str,
) -> Vec<EventKind> {
    if status == Status::Dispatched && assignee == Some(department) {
        vec![EventKind::Handle, EventKind::Comment]
    } else {
        vec![EventKind::Comment]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(level: Level, status: Status) -> Standing {
        Standing {
            level,
            status,
            closed: (status == Status::Closed).then_some((level, Millis(0))),
            follow_up_due: false,
        }
    }

    #[test]
    fn workers_act_at_grid_level_and_volunteers_only_handle() {
        use EventKind::*;
        let now = Millis(1);
        assert_eq!(
            actions(Role::Worker, &at(Level::Grid, Status::Reported), now),
            vec![Accept, Escalate, Close, Comment]
        );
        assert_eq!(
            actions(Role::Worker, &at(Level::Grid, Status::Accepted), now),
            vec![Handle, Escalate, Close, Comment]
        );
        assert_eq!(
            actions(Role::Worker, &at(Level::Community, Status::Reported), now),
            vec![Comment]
        );
        assert_eq!(
            actions(Role::Volunteer, &at(Level::Grid, Status::Accepted), now),
            vec![Handle, Comment]
        );
        assert_eq!(
            actions(Role::Worker, &at(Level::Grid, Status::Closed), now),
            vec![Comment],
            "a worker does not reopen"
        );
    }

    #[test]
    fn supervisors_act_at_their_level_and_escalate_one_level_up() {
        use EventKind::*;
        let now = Millis(1);
        let sec = Role::CommunitySupervisor;
        assert_eq!(
            actions(sec, &at(Level::Community, Status::Handled), now),
            vec![Verify, FollowUp, Escalate, Close, Reopen, Comment]
        );
        assert_eq!(
            actions(sec, &at(Level::Grid, Status::Handled), now),
            vec![Comment],
            "a grid-level issue is the grid's"
        );
        let to = |level| IssueEvent {
            id: "e".into(),
            kind: Escalate,
            at: now,
            actor: "sec".into(),
            role: Some(sec),
            note: String::new(),
            level: Some(level),
            assignee: None,
            limit: None,
            satisfied: None,
            score: None,
        };
        let s = at(Level::Community, Status::Accepted);
        assert!(allows(sec, &to(Level::Street), &s));
        assert!(!allows(sec, &to(Level::City), &s), "one level at a time");
        assert!(
            actions(
                Role::CitySupervisor,
                &at(Level::City, Status::Accepted),
                now
            )
            .iter()
            .all(|k| *k != Escalate)
        );
        assert_eq!(actions(Role::Admin, &s, now), vec![Comment]);
    }

    #[test]
    fn a_follow_up_comes_before_closing_and_only_residents_rate() {
        use EventKind::*;
        let now = Millis(1);
        let mut s = at(Level::Grid, Status::Handled);
        s.follow_up_due = true;
        assert_eq!(
            actions(Role::Worker, &s, now),
            vec![FollowUp, Escalate, Comment]
        );
        s.follow_up_due = false;
        assert!(actions(Role::Worker, &s, now).contains(&Close));
        assert!(
            actions(Role::Volunteer, &s, now)
                .iter()
                .all(|k| *k != FollowUp)
        );
        let mut rate = IssueEvent::new("r".into(), Rate, now, "w".into(), Some(Role::Worker));
        rate.score = Some(5);
        assert!(!allows(
            Role::Worker,
            &rate,
            &at(Level::Grid, Status::Closed)
        ));
    }

    #[test]
    fn a_grid_closure_may_be_reopened_by_the_community_within_seven_days() {
        let closed = Standing {
            level: Level::Grid,
            status: Status::Closed,
            closed: Some((Level::Grid, Millis(0))),
            follow_up_due: false,
        };
        let reopen = |t| IssueEvent {
            id: "r".into(),
            kind: EventKind::Reopen,
            at: Millis(t),
            actor: "sec".into(),
            role: Some(Role::CommunitySupervisor),
            note: String::new(),
            level: None,
            assignee: None,
            limit: None,
            satisfied: None,
            score: None,
        };
        let sec = Role::CommunitySupervisor;
        assert!(allows(sec, &reopen(REOPEN_WINDOW), &closed));
        assert!(!allows(sec, &reopen(REOPEN_WINDOW + 1), &closed));
        assert!(
            !allows(Role::StreetSupervisor, &reopen(1), &closed),
            "two levels below"
        );
        assert!(!allows(Role::Worker, &reopen(1), &closed));
    }
}
