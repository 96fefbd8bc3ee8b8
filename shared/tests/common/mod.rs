//! Fixtures shared by the scenario and property tests: a tiny city and record drafts.
#![allow(dead_code, unreachable_pub)]

use shared::ids::{DocumentId, GridId, Scope, UserId};
use shared::model::{
    Area, EventKind, HouseholdDraft, IssueDraft, IssueEvent, IssueSource, Outcome, VisitDraft,
    VisitItem,
};
use shared::sim::{Network, Rng};
use shared::sync::{AccessPolicy, Principal, Role, ScopePolicy, TrustServer};
use shared::time::Millis;

pub fn grid(s: &str) -> GridId {
    s.parse().expect("grid path")
}

pub fn server_policy() -> Box<dyn AccessPolicy> {
    Box::new(ScopePolicy)
}

pub fn client_policy() -> Box<dyn AccessPolicy> {
    Box::new(TrustServer)
}

pub fn principal(user: &str, role: Role, scope: &str) -> Principal {
    Principal {
        user: UserId::new(user).expect("user"),
        role,
        scope: scope.parse::<Scope>().expect("scope"),
    }
}

pub fn worker(user: &str, g: &str) -> Principal {
    principal(user, Role::Worker, &format!("grids:{g}"))
}

/// The secretary of community `s01/c01`, signed in as `user`.
pub fn secretary(user: &str) -> Principal {
    principal(user, Role::CommunitySupervisor, "community:s01/c01")
}

pub fn new_id(rng: &mut Rng) -> DocumentId {
    DocumentId::from_bytes(rng.bytes16())
}

pub fn household(g: &str, room: &str) -> HouseholdDraft {
    HouseholdDraft {
        grid: grid(g),
        building: "3".into(),
        unit: "2".into(),
        room: room.into(),
        head: "张秀英".into(),
        contact: "13812345678".into(),
        members: 2,
        tags: vec!["elderly-alone".into()],
        notes: "独居老人".into(),
    }
}

pub fn visit(g: &str, household: DocumentId, at: Millis, outcome: Outcome) -> VisitDraft {
    VisitDraft {
        grid: grid(g),
        household,
        visitors: vec!["li-wei".into()],
        started_at: at,
        ended_at: Some(at.plus(15 * 60_000)),
        location: None,
        outcome,
        items: vec![VisitItem {
            area: Area::Livelihood,
            description: "楼道灯坏了".into(),
            solved: true,
            issue: None,
        }],
        notes: String::new(),
        household_tags: Vec::new(),
    }
}

/// An event by a grid worker.
pub fn event(id: &str, kind: EventKind, at: Millis, actor: &str) -> IssueEvent {
    event_as(id, kind, at, actor, Role::Worker)
}

/// An event by someone of `role`.
pub fn event_as(id: &str, kind: EventKind, at: Millis, actor: &str, role: Role) -> IssueEvent {
    IssueEvent {
        id: id.into(),
        kind,
        at,
        actor: actor.into(),
        role: Some(role),
        note: String::new(),
        level: None,
        assignee: None,
        limit: None,
        satisfied: None,
        score: None,
    }
}

pub fn issue(g: &str, household: Option<DocumentId>, at: Millis, actor: &str) -> IssueDraft {
    IssueDraft {
        grid: grid(g),
        source: IssueSource::Visit,
        area: Area::Infrastructure,
        description: "单元门禁损坏".into(),
        household,
        location: String::new(),
        detail: Default::default(),
        report: event(&format!("report-{}", at.0), EventKind::Report, at, actor),
    }
}

/// A server and `n` worker clients of grid `s01/c01/g01`, all connected and in sync.
pub fn city(seed: u64, n: usize) -> (Network, usize, Vec<usize>, Vec<usize>) {
    let mut net = Network::new(seed);
    let server = net.add_peer("server", "server", true, server_policy);
    let mut clients = Vec::new();
    let mut links = Vec::new();
    for i in 0..n {
        let user = format!("w{i}");
        let c = net.add_peer(&format!("tab-{i}"), &user, true, client_policy);
        links.push(net.connect(c, server, Some(worker(&user, "s01/c01/g01"))));
        clients.push(c);
    }
    net.run_until_quiescent(10_000).expect("handshakes settle");
    (net, server, clients, links)
}
