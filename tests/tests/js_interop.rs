//! A real automerge-repo JS client (npm packages, run by node) and a Rust gridvisit client
//! share records through the gridvisit server, both ways.

use std::time::Duration;

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
