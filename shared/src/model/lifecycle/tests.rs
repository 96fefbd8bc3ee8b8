//! The fold: steps and their rules, deadlines, follow-ups, order independence.
use super::*;

#[test]
fn a_step_keeps_the_rule_written_into_the_event_that_started_it() {
    let day = Millis::DAY;
    let report = ev("a", EventKind::Report, 0);
    let mut accept = ev("b", EventKind::Accept, 10);
    let short = StepLimits {
        respond_ms: 2 * 3_600_000,
        ..StepLimits::default()
    };
    accept = stamped(std::slice::from_ref(&report), accept, &short);
    assert_eq!(accept.limit, Some(2 * 3_600_000));
    let s = fold(&[report.clone(), accept.clone()]).expect("fold");
    assert_eq!(s.deadline, Some(Millis(10 + 2 * 3_600_000)));
    // The rule changes later: the step keeps its own; the next step takes the new one.
    let mut dispatch = ev("c", EventKind::Dispatch, 20);
    dispatch.assignee = Some("w1".into());
    let long = StepLimits {
        dispatched_ms: [9 * day, 9 * day, 9 * day, 9 * day],
        ..StepLimits::default()
    };
    let s = fold(&[report.clone(), accept.clone()]).expect("fold");
    assert_eq!(s.deadline, Some(Millis(10 + 2 * 3_600_000)));
    let dispatch = stamped(&[report.clone(), accept.clone()], dispatch, &long);
    let s = fold(&[report.clone(), accept, dispatch]).expect("fold");
    assert_eq!(s.deadline, Some(Millis(20 + 9 * day)));
    // An event written before the rule was a setting: the built-in limit.
    let s = fold(&[report]).expect("fold");
    assert_eq!(s.deadline, Some(Millis(day)));
    // A comment starts no step and carries no rule.
    let c = stamped(
        &[ev("a", EventKind::Report, 0)],
        ev("d", EventKind::Comment, 5),
        &long,
    );
    assert_eq!(c.limit, None);
    assert!(StepLimits::default().is_valid());
    assert!(
        !StepLimits {
            handled_ms: 0,
            ..StepLimits::default()
        }
        .is_valid()
    );
}

fn follow(id: &str, at: i64, satisfied: bool) -> IssueEvent {
    let mut e = ev(id, EventKind::FollowUp, at);
    e.satisfied = Some(satisfied);
    e
}

#[test]
fn closing_waits_for_a_satisfied_follow_up_and_not_satisfied_sends_it_back() {
    let mut dispatch = ev("d", EventKind::Dispatch, 2);
    dispatch.assignee = Some("d-housing".into());
    let base = vec![
        ev("a", EventKind::Report, 0),
        ev("b", EventKind::Accept, 1),
        dispatch,
        ev("c", EventKind::Handle, 3),
    ];
    let with = |more: Vec<IssueEvent>| {
        let mut all = base.clone();
        all.extend(more);
        fold_with(&all, true).expect("fold")
    };
    let s = with(vec![ev("x", EventKind::Close, 4)]);
    assert_eq!(
        s.status,
        Status::Handled,
        "no follow-up yet: the close waits"
    );
    assert!(s.follow_up_due() && s.ignored.contains(&"x".to_owned()));
    let s = with(vec![follow("f", 4, false)]);
    assert_eq!(
        (s.status, s.assignee.as_deref()),
        (Status::Dispatched, Some("d-housing")),
        "not satisfied: back to whoever was handling it"
    );
    let s = with(vec![
        follow("f", 4, false),
        ev("h2", EventKind::Handle, 5),
        follow("g", 6, true),
        ev("x", EventKind::Close, 7),
    ]);
    assert_eq!((s.status, s.satisfied), (Status::Closed, Some(true)));
    let mut rate = ev("r", EventKind::Rate, 8);
    rate.score = Some(4);
    let mut all = base.clone();
    all.extend([follow("g", 6, true), ev("x", EventKind::Close, 7), rate]);
    assert_eq!(fold_with(&all, true).expect("fold").rating, Some(4));
    assert_eq!(
        fold(&with_close(&base)).expect("fold").status,
        Status::Closed,
        "an issue written before the rule closes as it did"
    );
}

fn with_close(base: &[IssueEvent]) -> Vec<IssueEvent> {
    let mut all = base.to_vec();
    all.push(ev("x", EventKind::Close, 4));
    all
}

fn ev(id: &str, kind: EventKind, at: i64) -> IssueEvent {
    IssueEvent {
        id: id.into(),
        kind,
        at: Millis(at),
        actor: "u".into(),
        role: None,
        note: String::new(),
        level: None,
        assignee: None,
        limit: None,
        satisfied: None,
        score: None,
    }
}

#[test]
fn a_full_lifecycle_closes_at_the_grid() {
    let mut events = vec![
        ev("a", EventKind::Report, 0),
        ev("b", EventKind::Accept, 10),
        IssueEvent {
            assignee: Some("w1".into()),
            ..ev("c", EventKind::Dispatch, 20)
        },
        ev("d", EventKind::Handle, 30),
        ev("e", EventKind::Verify, 40),
        ev("f", EventKind::Close, 50),
    ];
    sort_events(&mut events);
    let s = fold(&events).expect("fold");
    assert_eq!(s.status, Status::Closed);
    assert_eq!(s.closed_level, Some(Level::Grid));
    assert_eq!(s.assignee.as_deref(), Some("w1"));
    assert_eq!(s.deadline, None);
    assert!(s.ignored.is_empty());
}

#[test]
fn escalating_resets_the_step_and_its_deadline() {
    let events = vec![
        ev("a", EventKind::Report, 0),
        IssueEvent {
            level: Some(Level::Community),
            ..ev("b", EventKind::Escalate, 5)
        },
        IssueEvent {
            level: Some(Level::Grid),
            ..ev("c", EventKind::Escalate, 6)
        },
    ];
    let s = fold(&events).expect("fold");
    assert_eq!(s.level, Level::Community);
    assert_eq!(s.status, Status::Reported);
    assert_eq!(s.deadline, Some(Millis(5 + Millis::DAY)));
    assert!(s.overdue(Millis(6 + Millis::DAY)));
    assert_eq!(s.ignored, vec!["c".to_string()]);
}

#[test]
fn the_fold_ignores_merge_order() {
    let mut a = vec![
        ev("r", EventKind::Report, 0),
        ev("x", EventKind::Close, 7),
        IssueEvent {
            level: Some(Level::Street),
            ..ev("y", EventKind::Escalate, 7)
        },
    ];
    let mut b = a.clone();
    b.reverse();
    sort_events(&mut a);
    sort_events(&mut b);
    assert_eq!(fold(&a).expect("fold"), fold(&b).expect("fold"));
}

#[test]
fn late_steps_leave_overdue_spans_and_an_open_one_runs_on() {
    let day = Millis::DAY;
    let events = vec![
        ev("a", EventKind::Report, 0),
        ev("b", EventKind::Accept, 2 * day),
        ev("c", EventKind::Comment, 5 * day),
        ev("d", EventKind::Handle, 3 * day),
    ];
    let mut sorted = events.clone();
    sort_events(&mut sorted);
    let s = fold(&sorted).expect("fold");
    // Reported: due in a day, accepted after two; accepted: due a day later, handled on
    // day 3 (on time); handled: due by day 5, still open.
    assert_eq!(s.overdue_spans, vec![(Millis(day), Millis(2 * day))]);
    assert_eq!(
        s.overdue_spans(),
        vec![
            (Millis(day), Some(Millis(2 * day))),
            (Millis(5 * day), None)
        ]
    );
    assert!(!s.closed_on_time());
    let quick = fold(&[
        ev("a", EventKind::Report, 0),
        ev("b", EventKind::Accept, 10),
        ev("c", EventKind::Close, 20),
    ])
    .expect("fold");
    assert!(quick.closed_on_time());
    assert!(quick.overdue_spans().is_empty());
}

#[test]
fn an_issue_without_a_report_is_invalid() {
    assert_eq!(
        fold(&[ev("a", EventKind::Close, 1)]),
        Err(SchemaError::Missing("events.report"))
    );
}
