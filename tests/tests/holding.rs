//! What each device holds (DESIGN decision 10), against the real server over real WebSockets:
//! a phone holds its grid's households, open issues and the last 8 weeks, and fetches an older
//! visit by ID; a supervisor holds only its queue and is pushed its area's figures live.

use std::time::Duration;

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{TestServer, demo_login, get_json};
use shared::ids::{DocumentId, GridId};
use shared::model::{HouseholdDraft, Level, Outcome, Record, Status, VisitDraft};
use shared::time::Millis;

const T: Duration = Duration::from_secs(20);
const G1: &str = "s01/c01/g01";
const W1: &str = "w-s01-c01-g01";

fn id(n: u8) -> DocumentId {
    let mut b = [n; 16];
    b[0] = n.wrapping_mul(41);
    b[15] = std::process::id() as u8;
    DocumentId::from_bytes(b)
}

fn grid() -> GridId {
    G1.parse().expect("grid")
}

fn visit(household: DocumentId, at: Millis) -> VisitDraft {
    VisitDraft {
        grid: grid(),
        household,
        visitors: vec![W1.into()],
        started_at: at,
        ended_at: Some(at.plus(10 * 60_000)),
        location: None,
        outcome: Outcome::Met,
        items: vec![],
        notes: String::new(),
        household_tags: Vec::new(),
    }
}

/// Connects a client and waits for its first complete sync.
async fn synced(srv: &TestServer, name: &str, user: &str, seed: u8) -> WsClient {
    let token = demo_login(&srv.http(), user).await;
    let c = WsClient::new(name, user, true, seed);
    c.connect(&srv.ws(&token)).await.expect("connects");
    c.wait_for("the first complete sync", T, |s| {
        s.hub.cursor().is_some() && WsClient::idle(s)
    })
    .await
    .expect("synced");
    c
}

fn held(c: &WsClient) -> Vec<(DocumentId, Record)> {
    let st = c.state.lock().unwrap_or_else(|e| e.into_inner());
    st.hub
        .documents()
        .filter_map(|(id, d)| Some((*id, Record::read(d).ok()?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_holds_its_window_and_fetches_an_older_visit_by_id() {
    // 1. A worker's phone records a household, a visit today and one 100 days ago.
    let srv = TestServer::start().await;
    let a = synced(&srv, "phone-a", W1, 1).await;
    let now = server::engine::now();
    let (h, recent, old) = (id(1), id(2), id(3));
    let draft = HouseholdDraft {
        grid: grid(),
        building: "9".into(),
        unit: "2".into(),
        room: "301".into(),
        head: "钱桂英".into(),
        contact: "13912340000".into(),
        members: 1,
        tags: vec![],
        notes: String::new(),
    };
    a.create(h, |tx| draft.write(tx)).expect("household");
    a.create(recent, |tx| visit(h, now).write(tx))
        .expect("recent");
    a.create(old, |tx| visit(h, now.plus(-100 * Millis::DAY)).write(tx))
        .expect("old");
    a.wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("acked");

    // 2. A fresh phone of the same grid gets the household and today's visit, not the old one,
    //    and nothing outside the window.
    let b = synced(&srv, "phone-b", W1, 2).await;
    let records = held(&b);
    let ids: Vec<DocumentId> = records.iter().map(|(i, _)| *i).collect();
    assert!(ids.contains(&h) && ids.contains(&recent), "{ids:?}");
    assert!(!ids.contains(&old), "the old visit stays on the server");
    let since = now.plus(-56 * Millis::DAY);
    for (i, r) in &records {
        match r {
            Record::Visit(v) => assert!(v.started_at >= since.plus(-Millis::DAY), "{i}"),
            Record::Issue(x) if x.state.status == Status::Closed => {
                assert!(x.state.closed_at.is_some_and(|t| t >= since), "{i}");
            }
            _ => {}
        }
    }

    // 3. Asked for by ID (a household's history), the old visit comes, as for any
    //    automerge-repo client.
    b.sync_now(old);
    b.wait_for("the old visit", T, |s| s.hub.doc(&old).is_some())
        .await
        .expect("fetched on demand");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_holds_its_queue_and_is_pushed_its_areas_figures_live() {
    // 1. The community secretary's first sync brings its queue and nothing else.
    let srv = TestServer::start().await;
    let sup = synced(&srv, "desk", "sec-s01-c01", 3).await;
    let queue = held(&sup);
    for (i, r) in &queue {
        let Record::Issue(x) = r else {
            panic!("{i} is not an issue: supervisors hold no household or visit");
        };
        assert!(
            x.state.is_open() && x.state.level == Level::Community,
            "{i}"
        );
        assert_eq!(x.grid.community(), "s01/c01");
    }

    // 2. Watching its whole scope, it is pushed the server's figures: the same as the API's.
    sup.watch_area("");
    sup.wait_for("figures", T, |s| WsClient::last_figures(s).is_some())
        .await
        .expect("pushed");
    let token = demo_login(&srv.http(), "sec-s01-c01").await;
    let (status, api) = get_json(&srv.http(), "/api/aggregates", &token).await;
    assert_eq!(status, 200);
    let pushed = {
        let st = sup.state.lock().unwrap_or_else(|e| e.into_inner());
        WsClient::last_figures(&st).expect("figures")
    };
    assert_eq!(
        serde_json::to_value(&pushed.total).expect("json"),
        api["figures"]["total"]
    );
    assert_eq!(
        pushed.total.open_by_level[1] as usize,
        queue.len(),
        "the queue is the community's open community-level issues"
    );

    // 3. A worker's visit moves the pushed figures.
    let before = pushed.total.visits_today;
    let phone = synced(&srv, "phone", W1, 4).await;
    let now = server::engine::now();
    phone
        .create(id(9), |tx| {
            visit(DocumentId::from_bytes([7; 16]), now).write(tx)
        })
        .expect("visit");
    sup.wait_for("the visit in the figures", T, |s| {
        WsClient::last_figures(s).is_some_and(|f| f.total.visits_today == before + 1)
    })
    .await
    .expect("live");

    // 4. A grid of its scope: that grid's figures; an area outside its scope: refused.
    sup.watch_area(G1);
    sup.wait_for("the grid's figures", T, |s| {
        WsClient::last_figures(s).is_some_and(|f| f.grids.keys().eq([G1]))
    })
    .await
    .expect("grid");
    sup.watch_area("s02");
    sup.wait_for("the refusal", T, |s| !WsClient::connected(s))
        .await
        .expect("closed");
    srv.stop().await;
}
