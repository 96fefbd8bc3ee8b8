//! The real server on 127.0.0.1:0 over real WebSockets: offline edits merge, a SIGKILL loses
//! nothing acknowledged, bad input is refused without harm, the JS automerge-repo client
//! interoperates, and the HTTP aggregates equal the fold over every stored record.

use std::time::Duration;

use automerge::Automerge;
use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{ProcessServer, TempDir, TestServer, demo_login, get_json, login};
use serde_json::Value;
use shared::aggregate::Dashboard;
use shared::ids::{DocumentId, GridId, Scope};
use shared::model::household::edit;
use shared::model::{Household, HouseholdDraft, Record};
use shared::sync::Event;
use shared::time::Calendar;
use shared::wire::{DEFAULT_MAX_FRAME, Message};

const T: Duration = Duration::from_secs(20);
const G1: &str = "s01/c01/g01";
const W1: &str = "w-s01-c01-g01";

fn id(n: u8) -> DocumentId {
    let mut b = [n; 16];
    b[0] = n.wrapping_mul(37);
    b[15] = std::process::id() as u8;
    DocumentId::from_bytes(b)
}

fn draft(grid: &str, room: &str) -> HouseholdDraft {
    HouseholdDraft {
        grid: grid.parse::<GridId>().expect("grid"),
        building: "7".into(),
        unit: "1".into(),
        room: room.into(),
        head: "赵德明".into(),
        contact: "13912345678".into(),
        members: 2,
        tags: vec![],
        notes: "".into(),
    }
}

fn household(c: &WsClient, d: &DocumentId) -> Option<Household> {
    c.state
        .lock()
        .ok()?
        .hub
        .doc(d)
        .and_then(|doc| Household::read(doc).ok())
}

async fn synced(c: &WsClient) {
    c.wait_for("everything acknowledged", T, WsClient::idle)
        .await
        .expect("synced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_edit_the_same_household_offline_and_a_third_fetches_the_merge() {
    // 1. Two workers of grid g01 sign in and sync a new household.
    let srv = TestServer::start().await;
    let token = demo_login(&srv.http(), W1).await;
    let (a, b) = (
        WsClient::new("phone-a", W1, true, 1),
        WsClient::new("phone-b", W1, true, 2),
    );
    a.connect(&srv.ws(&token)).await.expect("a connects");
    b.connect(&srv.ws(&token)).await.expect("b connects");
    let h = id(1);
    a.create(h, |tx| draft(G1, "301").write(tx))
        .expect("create");
    b.wait_for("b receives the household live", T, |s| {
        s.hub.doc(&h).is_some()
    })
    .await
    .expect("live");

    // 2. Both go offline and edit different fields.
    a.disconnect();
    b.disconnect();
    a.wait_for("a offline", T, |s| s.hub.unsynced().is_empty())
        .await
        .expect("a had synced");
    a.edit(h, |tx| edit::set_contact(tx, "13700000000"))
        .expect("a edits");
    b.edit(h, |tx| edit::set_members(tx, 5)).expect("b edits");

    // 3. Both reconnect; each sees both edits.
    a.connect(&srv.ws(&token)).await.expect("a reconnects");
    b.connect(&srv.ws(&token)).await.expect("b reconnects");
    for c in [&a, &b] {
        c.wait_for("both edits", T, |s| {
            s.hub
                .doc(&h)
                .and_then(|d| Household::read(d).ok())
                .is_some_and(|x| x.contact.value == "13700000000" && x.members.value == 5)
        })
        .await
        .expect("merged");
    }

    // 4. The server holds the merge, and a third client (the community secretary) fetches it.
    synced(&a).await;
    synced(&b).await;
    let stored =
        Automerge::load(&srv.state.store.load(&h).expect("load").expect("stored")).expect("valid");
    assert_eq!(Some(stored.get_heads()), a.heads(&h));
    let sec = demo_login(&srv.http(), "sec-s01-c01").await;
    let c = WsClient::new("desk-c", "sec-s01-c01", false, 3);
    c.connect(&srv.ws(&sec)).await.expect("c connects");
    c.wait_ready(T).await.expect("ready");
    c.sync_now(h);
    c.wait_for("the merged record", T, |s| {
        s.hub.doc(&h).map(Automerge::get_heads) == Some(stored.get_heads())
    })
    .await
    .expect("fetched");
    let merged = household(&c, &h).expect("valid");
    assert_eq!(
        (merged.contact.value.as_str(), merged.members.value),
        ("13700000000", 5)
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_the_server_acknowledged() {
    // 1. The server runs as its own process; three phones stream changes to it.
    let data = TempDir::new("kill9");
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_gv-test-server"));
    let mut srv = ProcessServer::spawn(&bin, &data.0).await;
    let token = demo_login(&srv.http(), W1).await;
    let phones: Vec<WsClient> = (0..3)
        .map(|i| WsClient::new(&format!("phone-{i}"), W1, true, 10 + i))
        .collect();
    for p in &phones {
        p.connect(&srv.ws(&token)).await.expect("connect");
    }
    let mut created = Vec::new();
    for round in 0..40u8 {
        for (i, p) in phones.iter().enumerate() {
            let d = id(100 + round.wrapping_mul(3) + i as u8);
            p.create(d, |tx| draft(G1, &format!("{round}-{i}")).write(tx))
                .expect("create");
            created.push((i, d));
        }
        if round == 20 {
            // Let some acknowledgements arrive, then kill mid-stream.
            phones[0]
                .wait_for("some acks", T, |s| {
                    s.events.iter().any(|e| matches!(e, Event::Acked { .. }))
                })
                .await
                .expect("acks");
        }
    }
    srv.kill9().await;

    // 2. What each phone saw acknowledged before the kill.
    let acked: Vec<(DocumentId, Vec<automerge::ChangeHash>)> = phones
        .iter()
        .flat_map(|p| {
            p.state
                .lock()
                .expect("lock")
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::Acked { doc, heads } => Some((*doc, heads.clone())),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        !acked.is_empty(),
        "the server acknowledged changes before the kill"
    );

    // 3. Restart on the same data: every acknowledged change is there.
    let srv = ProcessServer::spawn(&bin, &data.0).await;
    let admin = login(
        &srv.http(),
        "admin",
        gridvisit_tests::harness::ADMIN_PASSWORD,
    )
    .await;
    for (doc, heads) in &acked {
        let (status, body) = get_json(&srv.http(), &format!("/api/records/{doc}"), &admin).await;
        assert_eq!(status, 200, "{doc} after restart: {body}");
        let stored: Vec<String> = serde_json::from_value(body["history"].clone())
            .map(|h: Vec<Value>| {
                h.iter()
                    .filter_map(|c| c["hash"].as_str().map(str::to_owned))
                    .collect()
            })
            .expect("history");
        for head in heads {
            assert!(
                stored.contains(&head.to_string()),
                "acknowledged change {head} of {doc} survived"
            );
        }
    }

    // 4. The phones reconnect and resync; the server ends with each record exactly once.
    let token = demo_login(&srv.http(), W1).await;
    for p in &phones {
        p.connect(&srv.ws(&token)).await.expect("reconnect");
    }
    for p in &phones {
        synced(p).await;
    }
    let (_, list) = get_json(
        &srv.http(),
        "/api/records?kind=household&grid=s01/c01/g01&limit=1000",
        &admin,
    )
    .await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    for (_, d) in &created {
        assert_eq!(
            ids.iter().filter(|x| **x == d.to_string()).count(),
            1,
            "{d} stored once"
        );
    }
}

fn frames_of(c: &WsClient) -> Vec<Message> {
    c.state
        .lock()
        .expect("lock")
        .frames_in
        .iter()
        .filter_map(|f| Message::decode(f, DEFAULT_MAX_FRAME).ok())
        .collect()
}

fn error_texts(c: &WsClient) -> Vec<String> {
    frames_of(c)
        .into_iter()
        .filter_map(|m| match m {
            Message::Error { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

async fn ready(srv: &TestServer, token: &str, name: &str, seed: u8) -> WsClient {
    let c = WsClient::new(name, W1, true, seed);
    c.connect(&srv.ws(token)).await.expect("connect");
    c.wait_ready(T).await.expect("ready");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_error_and_harms_nobody() {
    let srv = TestServer::start_with(server::Settings {
        max_frame: 64 * 1024,
        ..server::Settings::default()
    })
    .await;
    let token = demo_login(&srv.http(), W1).await;
    // A bystander with a record, which must survive everything below.
    let bystander = ready(&srv, &token, "bystander", 20).await;
    let keep = id(200);
    bystander
        .create(keep, |tx| draft(G1, "101").write(tx))
        .expect("create");
    synced(&bystander).await;

    // Malformed CBOR, a truncated frame, an oversize frame, bogus automerge bytes: each gets an
    // `error` and the connection is closed.
    let h = id(201);
    let sync = Message::Sync {
        target_id: shared::ids::PeerId::new("x").expect("id"),
        document_id: h,
        data: vec![0x42, 0xff, 0x00],
        sender_id: shared::ids::PeerId::new("y").expect("id"),
    };
    let truncated = {
        let mut b = sync.encode();
        b.truncate(b.len() - 3);
        b
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"\xff\xfe not cbor".to_vec(), "cbor"),
        ("truncated", truncated, "truncated"),
        ("oversize", vec![0u8; 100 * 1024], "exceeds the limit"),
        (
            "bogus automerge",
            sync.encode(),
            "invalid automerge sync message",
        ),
    ];
    for (i, (name, bytes, expect)) in cases.into_iter().enumerate() {
        let c = ready(&srv, &token, &format!("bad-{i}"), 30 + i as u8).await;
        c.send_raw(bytes);
        c.wait_for(name, T, |s| {
            !s.frames_in.is_empty()
                && s.frames_in.iter().any(|f| {
                    matches!(
                        Message::decode(f, DEFAULT_MAX_FRAME),
                        Ok(Message::Error { .. })
                    )
                })
        })
        .await
        .expect(name);
        let errors = error_texts(&c);
        assert!(
            errors.iter().any(|e| e.contains(expect)),
            "{name}: {errors:?}"
        );
        c.wait_for("closed", T, |s| !WsClient::connected(s))
            .await
            .expect("closed");
    }

    // An invalid record and a write outside the scope: `error`, quarantined, connection kept.
    let w = ready(&srv, &token, "writer", 40).await;
    let foreign = id(202);
    w.create(foreign, |tx| draft("s02/c01/g01", "9").write(tx))
        .expect("locally valid");
    w.wait_for("refusal", T, |s| {
        s.events
            .iter()
            .any(|e| matches!(e, Event::RemoteError { doc: Some(d), .. } if *d == foreign))
    })
    .await
    .expect("refused");
    assert!(w.is_connected());
    let mut raw = Automerge::new();
    raw.transact::<_, _, automerge::AutomergeError>(|tx| {
        automerge::transaction::Transactable::put(tx, automerge::ROOT, "type", "household")?;
        automerge::transaction::Transactable::put(tx, automerge::ROOT, "grid", G1)
    })
    .expect("raw");
    let invalid = id(203);
    w.state
        .lock()
        .expect("lock")
        .hub
        .insert_saved(invalid, &raw.save())
        .expect("insert");
    w.sync_now(invalid);
    w.wait_for("schema refusal", T, |s| s.events.iter().any(|e| matches!(e, Event::RemoteError { doc: Some(d), message, .. } if *d == invalid && message.contains("schema")))).await.expect("refused");
    let admin = login(
        &srv.http(),
        "admin",
        gridvisit_tests::harness::ADMIN_PASSWORD,
    )
    .await;
    let (_, q) = get_json(&srv.http(), "/api/quarantine", &admin).await;
    let reasons: Vec<&str> = q["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("outside the scope"))
            && reasons.iter().any(|r| r.contains("schema")),
        "{reasons:?}"
    );
    let (status, _) = get_json(&srv.http(), "/api/quarantine", &token).await;
    assert_eq!(status, 403, "a worker may not list the quarantine");

    // An out-of-scope read looks exactly like a missing document.
    let other_token = demo_login(&srv.http(), "w-s01-c01-g02").await;
    let other = WsClient::new("other", "w-s01-c01-g02", false, 50);
    other.connect(&srv.ws(&other_token)).await.expect("connect");
    other.wait_ready(T).await.expect("ready");
    other.sync_now(keep);
    other.sync_now(id(250));
    other
        .wait_for("two unavailable", T, |s| {
            s.events
                .iter()
                .filter(|e| matches!(e, Event::Unavailable { .. }))
                .count()
                == 2
        })
        .await
        .expect("unavailable");
    assert!(other.heads(&keep).is_none());
    let (status, _) = get_json(&srv.http(), &format!("/api/records/{keep}"), &other_token).await;
    assert_eq!(status, 404);

    // Missing and expired tokens: 401 at the upgrade and on the API.
    let no_token = format!("ws://{}/sync", srv.addr);
    match tokio_tungstenite::connect_async(&no_token).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401)
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    let (status, body) = get_json(&srv.http(), "/api/me", "not-a-token").await;
    assert_eq!((status, body["status"].as_u64()), (401, Some(401)));

    // The bystander was never disturbed and its record is intact on the server.
    assert!(bystander.is_connected());
    let stored = Automerge::load(&srv.state.store.load(&keep).expect("load").expect("stored"))
        .expect("valid");
    assert_eq!(Some(stored.get_heads()), bystander.heads(&keep));
    srv.stop().await;

    let short = TestServer::start_with(server::Settings {
        token_ttl_ms: 0,
        ..server::Settings::default()
    })
    .await;
    let expired = demo_login(&short.http(), W1).await;
    match tokio_tungstenite::connect_async(short.ws(&expired)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401);
            let body =
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("expired"), "{body}");
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    short.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_over_http_equal_the_fold_over_every_stored_record() {
    let srv = TestServer::start().await;
    let token = demo_login(&srv.http(), W1).await;
    let c = ready(&srv, &token, "agg", 60).await;
    c.create(id(61), |tx| draft(G1, "999").write(tx))
        .expect("create");
    synced(&c).await;
    let city = demo_login(&srv.http(), "city").await;
    let (status, body) = get_json(&srv.http(), "/api/aggregates", &city).await;
    assert_eq!(status, 200);
    let mut fold = Dashboard::new(Calendar::CHINA);
    for (doc, _) in srv.state.store.rows(&Scope::City, None).expect("rows") {
        let saved = Automerge::load(&srv.state.store.load(&doc).expect("load").expect("stored"))
            .expect("valid");
        fold.apply(doc, Record::read(&saved).ok().as_ref());
    }
    let at = shared::time::Millis(body["at"].as_i64().expect("at"));
    let expected = serde_json::to_value(fold.figures(at, &Scope::City)).expect("json");
    assert_eq!(body["figures"], expected);
    assert!(expected["total"]["households"].as_u64() > Some(200));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_get_figures_pushed_live_when_a_worker_syncs() {
    // 1. The community secretary opens the live figures stream.
    let srv = TestServer::start().await;
    let sec = demo_login(&srv.http(), "sec-s01-c01").await;
    let mut live = reqwest::Client::new()
        .get(format!("{}/api/live", srv.http()))
        .bearer_auth(&sec)
        .send()
        .await
        .expect("live stream");
    assert_eq!(live.status().as_u16(), 200);
    let households = |text: &str| -> Option<u64> {
        let data = text.lines().rev().find_map(|l| l.strip_prefix("data: "))?;
        serde_json::from_str::<Value>(data).ok()?["figures"]["total"]["households"].as_u64()
    };
    let first = tokio::time::timeout(T, live.chunk())
        .await
        .expect("first event")
        .expect("chunk")
        .expect("bytes");
    let before = households(&String::from_utf8_lossy(&first)).expect("figures");

    // 2. A worker of one of the community's grids registers a household.
    let token = demo_login(&srv.http(), W1).await;
    let c = ready(&srv, &token, "live-w", 80).await;
    c.create(id(81), |tx| draft(G1, "808").write(tx))
        .expect("create");

    // 3. The stream pushes the new count without any request.
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let chunk = tokio::time::timeout_at(deadline, live.chunk())
            .await
            .expect("pushed in time")
            .expect("chunk")
            .expect("bytes");
        if households(&String::from_utf8_lossy(&chunk)) == Some(before + 1) {
            break;
        }
    }
    srv.stop().await;
}
