//! A city department (职能部门) handles what is dispatched to it, and nothing else: an admin
//! creates the department and its account (named by its code); a secretary dispatches an
//! escalated issue to it; the department's inbox lists it; its handling counts; its handling
//! of an issue not dispatched to it does not; and it may not create or edit records.

use std::time::Duration;

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{
    ADMIN_PASSWORD, TestServer, demo_login, get_json, login, send_json,
};
use reqwest::Method;
use serde_json::json;
use shared::ids::DocumentId;
use shared::model::issue::append_event;
use shared::model::{Area, EventKind, IssueDraft, IssueEvent, IssueSource, Level, Role};
use shared::sync::Event;
use shared::time::Millis;

const T: Duration = Duration::from_secs(30);
const W1: &str = "w-s01-c01-g01";
const SEC: &str = "sec-s01-c01";
const DEPT: &str = "d-housing";

fn event(id: &str, kind: EventKind, at: Millis, actor: &str, role: Role) -> IssueEvent {
    IssueEvent {
        id: id.into(),
        kind,
        at,
        actor: actor.into(),
        role: Some(role),
        note: String::new(),
        level: (kind == EventKind::Escalate).then_some(Level::Community),
        assignee: (kind == EventKind::Dispatch).then(|| DEPT.to_owned()),
        limit: None,
        satisfied: None,
        score: None,
    }
}

fn draft(n: u8, at: Millis) -> (DocumentId, IssueDraft) {
    (
        DocumentId::from_bytes([n; 16]),
        IssueDraft {
            grid: "s01/c01/g01".parse().expect("grid"),
            source: IssueSource::Visit,
            area: Area::Infrastructure,
            description: "楼道漏水 a leaking stairwell".into(),
            household: None,
            location: String::new(),
            detail: Default::default(),
            report: event(&format!("r{n}"), EventKind::Report, at, W1, Role::Worker),
        },
    )
}

async fn status(srv: &TestServer, token: &str, id: DocumentId) -> String {
    let (_, body) = get_json(&srv.http(), &format!("/api/records/{id}"), token).await;
    body["record"]["state"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_handles_what_is_dispatched_to_it_and_nothing_else() {
    let srv = TestServer::start().await;
    let admin = login(&srv.http(), "admin", ADMIN_PASSWORD).await;
    let (s, body) = send_json(
        Method::POST,
        &srv.http(),
        "/api/admin/people",
        &admin,
        &json!({ "user": DEPT, "name": "住建局", "role": "department", "scope": "city", "password": "housing-pw-1" }),
    )
    .await;
    assert_eq!(s, 400, "the department must exist first: {body}");
    send_json(
        Method::POST,
        &srv.http(),
        "/api/admin/org",
        &admin,
        &json!({ "kind": "department", "code": DEPT, "name": "住建局" }),
    )
    .await;
    let (s, body) = send_json(
        Method::POST,
        &srv.http(),
        "/api/admin/people",
        &admin,
        &json!({ "user": DEPT, "name": "住建局", "role": "department", "scope": "city", "password": "housing-pw-1" }),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Two issues, both escalated to the community; the secretary dispatches the first one.
    let now = server::engine::now();
    let worker = WsClient::new("worker", W1, true, 31);
    let w_token = demo_login(&srv.http(), W1).await;
    worker.connect(&srv.ws(&w_token)).await.expect("connect");
    worker.wait_ready(T).await.expect("ready");
    let (a, da) = draft(31, now);
    let (b, db) = draft(32, now);
    worker.create(a, |tx| da.write(tx)).expect("report a");
    worker.create(b, |tx| db.write(tx)).expect("report b");
    for (id, n) in [(a, "ea"), (b, "eb")] {
        worker
            .edit(id, |tx| {
                append_event(
                    tx,
                    &event(n, EventKind::Escalate, now.plus(1_000), W1, Role::Worker),
                )
            })
            .expect("escalate");
    }
    worker
        .wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("synced");
    let sec_token = demo_login(&srv.http(), SEC).await;
    let sec = WsClient::new("secretary", SEC, true, 32);
    sec.connect(&srv.ws(&sec_token)).await.expect("connect");
    sec.wait_ready(T).await.expect("ready");
    sec.sync_now(a);
    sec.wait_for("issue a", T, |st| st.hub.doc(&a).is_some())
        .await
        .expect("held");
    sec.edit(a, |tx| {
        append_event(
            tx,
            &event(
                "dispatch",
                EventKind::Dispatch,
                now.plus(2_000),
                SEC,
                Role::CommunitySupervisor,
            ),
        )
    })
    .expect("dispatch");
    sec.wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("synced");
    assert_eq!(status(&srv, &admin, a).await, "dispatched");

    // The department's inbox lists it (and not the other one).
    let d_token = login(&srv.http(), DEPT, "housing-pw-1").await;
    let (_, inbox) = get_json(&srv.http(), "/api/assigned", &d_token).await;
    let listed: Vec<&str> = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(listed, vec![a.to_string().as_str()]);

    // Its device holds nothing by default; it opens both issues and handles each.
    let dept = WsClient::new("department", DEPT, true, 33);
    dept.connect(&srv.ws(&d_token)).await.expect("connect");
    dept.wait_ready(T).await.expect("ready");
    assert_eq!(
        dept.state.lock().expect("state").hub.documents().count(),
        0,
        "holds nothing by default"
    );
    for id in [a, b] {
        dept.sync_now(id);
        dept.wait_for("issue", T, |st| st.hub.doc(&id).is_some())
            .await
            .expect("held");
        dept.edit(id, |tx| {
            append_event(
                tx,
                &event(
                    &format!("h{id}"),
                    EventKind::Handle,
                    now.plus(3_000),
                    DEPT,
                    Role::Department,
                ),
            )
        })
        .expect("handle");
    }
    dept.wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("synced");
    assert_eq!(
        status(&srv, &admin, a).await,
        "handled",
        "what was dispatched to it"
    );
    assert_eq!(
        status(&srv, &admin, b).await,
        "reported",
        "not dispatched to it: no effect"
    );

    // It creates no record and edits no field.
    let (h, hd) = (
        DocumentId::from_bytes([34; 16]),
        shared::model::HouseholdDraft {
            grid: "s01/c01/g01".parse().expect("grid"),
            building: "9".into(),
            unit: "1".into(),
            room: "101".into(),
            head: "赵".into(),
            contact: String::new(),
            members: 1,
            tags: vec![],
            notes: String::new(),
        },
    );
    dept.create(h, |tx| hd.write(tx)).expect("written locally");
    dept.wait_for("refused", T, |st| {
        st.events.iter().any(|e| matches!(e, Event::RemoteError { doc: Some(d), message, .. } if *d == h && message.contains("department")))
    })
    .await
    .expect("the server refuses it");
    let (s, _) = get_json(&srv.http(), &format!("/api/records/{h}"), &admin).await;
    assert_eq!(s, 404, "the household never reached the server");
    srv.stop().await;
}
