//! A real automerge-repo JS client (npm packages, run by node) and a Rust gridvisit client
//! share records through the gridvisit server, both ways.

use std::time::Duration;

use automerge::Automerge;
use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{TestServer, demo_login};
use gridvisit_tests::node;
use serde_json::{Value, json};
use shared::ids::DocumentId;
use shared::model::{Household, HouseholdDraft};

const T: Duration = Duration::from_secs(20);
const W1: &str = "w-s01-c01-g01";

fn run_node(args: &[&str]) -> Value {
    let (ok, out) = node("interop.mjs", args);
    assert!(ok, "node interop.mjs {args:?} failed:\n{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON in:\n{out}"));
    serde_json::from_str(line).expect("json line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_client_and_a_rust_client_share_records_both_ways() {
    let srv = TestServer::start().await;
    let token = demo_login(&srv.http(), W1).await;
    let url = srv.ws(&token);

    // 1. The JS client creates a household the way a JS app would.
    let record = json!({
        "type": "household", "schema": 1, "grid": "s01/c01/g01",
        "address": { "building": "5", "unit": "2", "room": "402" },
        "head": "孙桂兰", "contact": "13600001111", "members": 3, "tags": { "elderly-alone": true },
        "notes": "JS 客户端创建",
        "$scalar": ["type", "grid", "contact", "address.building", "address.unit", "address.room"],
        "$text": ["head", "notes"]
    });
    let u = url.clone();
    let created =
        tokio::task::spawn_blocking(move || run_node(&["create", &u, &record.to_string()]))
            .await
            .expect("node");
    let js_doc = DocumentId::parse_any(created["url"].as_str().expect("url")).expect("doc id");

    // 2. A Rust client fetches it and reads a valid household.
    let rust = WsClient::new("rust-phone", W1, true, 70);
    rust.connect(&url).await.expect("connect");
    rust.wait_ready(T).await.expect("ready");
    rust.sync_now(js_doc);
    rust.wait_for("the JS household", T, |s| {
        s.hub
            .doc(&js_doc)
            .and_then(|d| Household::read(d).ok())
            .is_some()
    })
    .await
    .expect("fetched");
    let h = Household::read(
        rust.state
            .lock()
            .expect("lock")
            .hub
            .doc(&js_doc)
            .expect("held"),
    )
    .expect("valid");
    assert_eq!(
        (
            h.head.value.as_str(),
            h.address.room.value.as_str(),
            h.members.value
        ),
        ("孙桂兰", "402", 3)
    );

    // 3. The Rust client creates a household; the JS client reads it.
    let mine = DocumentId::from_bytes([71; 16]);
    rust.create(mine, |tx| {
        HouseholdDraft {
            grid: "s01/c01/g01".parse().expect("grid"),
            building: "8".into(),
            unit: "1".into(),
            room: "101".into(),
            head: "钱国华".into(),
            contact: "13500002222".into(),
            members: 4,
            tags: vec![],
            notes: "Rust 客户端创建".into(),
        }
        .write(tx)
    })
    .expect("create");
    rust.wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("synced");
    let (u, m) = (url.clone(), mine.to_string());
    let read = tokio::task::spawn_blocking(move || {
        run_node(&[
            "read",
            &u,
            &m,
            "--expect",
            "head=钱国华",
            "--expect",
            "address.room=101",
        ])
    })
    .await
    .expect("node");
    assert_eq!(read["doc"]["members"], json!(4));

    // 4. The JS client edits the Rust record; the Rust client sees the edit live.
    let (u, m) = (url.clone(), mine.to_string());
    tokio::task::spawn_blocking(move || run_node(&["edit", &u, &m, "notes=JS 补充：腿脚不便"]))
        .await
        .expect("node");
    rust.wait_for("the JS edit", T, |s| {
        s.hub
            .doc(&mine)
            .and_then(|d| Household::read(d).ok())
            .is_some_and(|h| h.notes == "JS 补充：腿脚不便")
    })
    .await
    .expect("live edit");
    srv.stop().await;
}

/// The issues the next test reports, as a worker's app writes them.
fn report(id: u8, at: shared::time::Millis) -> (DocumentId, shared::model::IssueDraft) {
    use shared::model::{Area, EventKind, IssueDraft, IssueEvent, IssueSource, Role};
    (
        DocumentId::from_bytes([id; 16]),
        IssueDraft {
            grid: "s01/c01/g01".parse().expect("grid"),
            source: IssueSource::Visit,
            area: Area::Infrastructure,
            description: "路灯不亮".into(),
            household: None,
            location: String::new(),
            detail: Default::default(),
            report: IssueEvent {
                id: format!("r{id}"),
                kind: EventKind::Report,
                at,
                actor: W1.into(),
                role: Some(Role::Worker),
                note: String::new(),
                level: None,
                assignee: None,
                limit: None,
                satisfied: None,
                score: None,
            },
        },
    )
}

/// An event as a plain JS app would push it.
fn js_event(id: &str, kind: &str, at: i64, level: Option<&str>) -> String {
    let mut e =
        json!({ "id": id, "kind": kind, "at": at, "actor": W1, "role": "worker", "note": "" });
    if let Some(l) = level {
        e["level"] = json!(l);
    }
    e.to_string()
}

/// The reasons of the server's quarantine, newest first.
async fn quarantine(srv: &TestServer, admin: &str) -> Vec<String> {
    let (_, q) = gridvisit_tests::harness::get_json(&srv.http(), "/api/quarantine", admin).await;
    q["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["reason"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Pushes an event the server must refuse: the JS client keeps running (its change never
/// reaches the server) until the refusal is in the quarantine, with `expect` in its reason.
async fn refused(
    srv: &TestServer,
    admin: &str,
    url: &str,
    doc: DocumentId,
    event: &str,
    expect: &str,
) {
    let before = quarantine(srv, admin).await.len();
    let _js = tokio::process::Command::new("node")
        .args(["interop.mjs", "append", url, &doc.to_string(), event])
        .current_dir(gridvisit_tests::js_dir())
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node runs");
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let reasons = quarantine(srv, admin).await;
        if reasons.len() > before {
            assert!(
                reasons[0].contains(expect),
                "refused for {expect:?}: {reasons:?}"
            );
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never refused {event}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_client_signed_in_as_a_worker_cannot_game_the_headline_figure() {
    use shared::model::{EventKind, Issue, IssueEvent, Level, Role, issue::append_event};
    let srv = TestServer::start().await;
    let token = demo_login(&srv.http(), W1).await;
    let admin = gridvisit_tests::harness::login(
        &srv.http(),
        "admin",
        gridvisit_tests::harness::ADMIN_PASSWORD,
    )
    .await;
    let url = srv.ws(&token);
    let now = server::engine::now();
    let rust = WsClient::new("worker-phone", W1, true, 80);
    rust.connect(&url).await.expect("connect");
    rust.wait_ready(T).await.expect("ready");
    let issues: Vec<DocumentId> = (81..85)
        .map(|n| {
            let (id, draft) = report(n, now);
            rust.create(id, |tx| draft.write(tx)).expect("report");
            id
        })
        .collect();
    // The first issue goes to the community, as the worker's app escalates it.
    rust.edit(issues[0], |tx| {
        append_event(
            tx,
            &IssueEvent {
                id: "esc".into(),
                kind: EventKind::Escalate,
                at: now.plus(1_000),
                actor: W1.into(),
                role: Some(Role::Worker),
                note: String::new(),
                level: Some(Level::Community),
                assignee: None,
                limit: None,
                satisfied: None,
                score: None,
            },
        )
    })
    .expect("escalate");
    rust.wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("synced");

    // 1. Closing an issue that was escalated to the community: refused.
    let close = js_event("js-close", "close", now.0 + 2_000, None);
    refused(
        &srv,
        &admin,
        &url,
        issues[0],
        &close,
        "may not close an issue at community level",
    )
    .await;

    // 2. Escalating, then a close dated 1970 (which would count as closed at grid level).
    let (u, d) = (url.clone(), issues[1].to_string());
    let esc = js_event("js-esc", "escalate", now.0 + 2_000, Some("community"));
    tokio::task::spawn_blocking(move || run_node(&["append", &u, &d, &esc]))
        .await
        .expect("node");
    let backdated = js_event("js-1970", "close", 0, None);
    refused(
        &srv,
        &admin,
        &url,
        issues[1],
        &backdated,
        "before an event it follows",
    )
    .await;

    // 3. A close dated in the year 2100.
    let future = js_event("js-2100", "close", 4_102_444_800_000, None);
    refused(
        &srv,
        &admin,
        &url,
        issues[2],
        &future,
        "clock plus 10 minutes",
    )
    .await;

    // 4. Two concurrent events: the worker's phone closes offline while the JS client
    //    escalates. Each was allowed where its writer stood; the close lands on a
    //    community-level issue and changes nothing.
    rust.sync_now(issues[3]);
    rust.disconnect();
    rust.edit(issues[3], |tx| {
        append_event(
            tx,
            &IssueEvent {
                id: "offline-close".into(),
                kind: EventKind::Close,
                at: now.plus(5_000),
                actor: W1.into(),
                role: Some(Role::Worker),
                note: String::new(),
                level: None,
                assignee: None,
                limit: None,
                satisfied: None,
                score: None,
            },
        )
    })
    .expect("close offline");
    let (u, d) = (url.clone(), issues[3].to_string());
    let esc = js_event("js-esc-4", "escalate", now.0 + 3_000, Some("community"));
    tokio::task::spawn_blocking(move || run_node(&["append", &u, &d, &esc]))
        .await
        .expect("node");
    rust.connect(&url).await.expect("reconnect");
    rust.wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("synced");
    let stored = Automerge::load(
        &srv.state
            .store
            .load(&issues[3])
            .expect("load")
            .expect("stored"),
    )
    .expect("valid");
    let issue = Issue::read(&stored).expect("issue");
    assert_eq!(issue.events.len(), 3, "both events are kept");
    assert_eq!(issue.state.level, Level::Community);
    assert!(issue.state.is_open(), "{:?}", issue.state);
    assert_eq!(issue.state.forbidden, vec!["offline-close".to_string()]);

    // 5. The headline figure counts no closure at grid level.
    let city = demo_login(&srv.http(), "city").await;
    let (_, figures) =
        gridvisit_tests::harness::get_json(&srv.http(), "/api/aggregates", &city).await;
    let grid = &figures["figures"]["grids"]["s01/c01/g01"];
    assert_eq!(grid["closed_by_level"][0], json!(0), "{grid}");
    srv.stop().await;
}
