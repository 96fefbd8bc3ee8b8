//! The monthly review (民情研判) against the real server over real WebSockets: a community
//! secretary records a review of two of its grids, the month view counts them as reviewed and
//! lists it; a worker may not record one for a grid outside their scope, and nobody may date
//! one into a month already closed.

use std::time::Duration;

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{TestServer, demo_login, get_json};
use shared::ids::DocumentId;
use shared::model::ReviewDraft;
use shared::sync::Event;
use shared::time::Millis;

const T: Duration = Duration::from_secs(20);

fn id(n: u8) -> DocumentId {
    let mut b = [n; 16];
    b[0] = n.wrapping_mul(37);
    b[15] = std::process::id() as u8;
    DocumentId::from_bytes(b)
}

fn review(grid: &str, also: &[&str], held_at: Millis) -> ReviewDraft {
    ReviewDraft {
        grid: grid.parse().expect("grid"),
        also: also.iter().map(|g| g.parse().expect("grid")).collect(),
        held_at,
        attendees: vec!["王书记".into(), "李网格员".into()],
        topics: vec!["3号楼楼道灯".into(), "独居老人探访".into()],
        issues: Vec::new(),
        conclusions: "物业三日内修复；每周探访".into(),
    }
}

async fn connected(srv: &TestServer, name: &str, user: &str, seed: u8) -> WsClient {
    let token = demo_login(&srv.http(), user).await;
    let c = WsClient::new(name, user, true, seed);
    c.connect(&srv.ws(&token)).await.expect("connects");
    c.wait_ready(T).await.expect("ready");
    c
}

async fn refused(c: &WsClient, doc: DocumentId, what: &str) -> String {
    let message = |s: &gridvisit_tests::client::State| {
        s.events.iter().find_map(|e| match e {
            Event::RemoteError {
                doc: Some(d),
                message,
                ..
            } if *d == doc => Some(message.clone()),
            _ => None,
        })
    };
    c.wait_for(what, T, |s| message(s).is_some())
        .await
        .expect("refused");
    message(&c.state.lock().unwrap_or_else(|e| e.into_inner())).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_counts_its_grids_as_reviewed_and_cannot_be_gamed() {
    let srv = TestServer::start().await;
    let now = server::engine::now();
    let sec = connected(&srv, "desk", "sec-s01-c01", 1).await;
    let token = demo_login(&srv.http(), "sec-s01-c01").await;
    let month = |area: &str| format!("/api/month?area={}", area.replace('/', "%2F"));

    // Before: no grid of the community has held one this month.
    let (status, before) = get_json(&srv.http(), &month("s01/c01"), &token).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["view"]["total"]["reviewed"], 0, "{before}");
    let grids = before["view"]["total"]["grids"].as_i64().expect("grids");
    assert!(grids >= 2, "{before}");

    // 1. The secretary records a review of g01 and g02, held an hour ago.
    let r = id(1);
    let draft = review("s01/c01/g01", &["s01/c01/g02"], now.plus(-Millis::HOUR));
    sec.create(r, |tx| draft.write(tx)).expect("review");
    sec.wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("acked");
    let (_, after) = get_json(&srv.http(), &month("s01/c01"), &token).await;
    assert_eq!(after["view"]["total"]["reviewed"], 2, "{after}");
    assert_eq!(
        after["view"]["grids"]["s01/c01/g02"]["reviewed"], 1,
        "{after}"
    );
    assert_eq!(
        after["view"]["grids"]["s01/c01/g03"]["reviewed"], 0,
        "{after}"
    );
    let listed = after["reviews"].as_array().expect("reviews");
    assert_eq!(listed.len(), 1, "{after}");
    assert_eq!(listed[0]["id"], r.to_string());
    assert_eq!(listed[0]["summary"]["kind"], "review");
    assert_eq!(listed[0]["summary"]["attendees"][0], "王书记");
    // The grid it covers lists it too; the record opens with its fields.
    let (_, g2) = get_json(&srv.http(), &month("s01/c01/g02"), &token).await;
    assert_eq!(g2["view"]["total"]["reviewed"], 1, "{g2}");
    let (_, one) = get_json(&srv.http(), &format!("/api/records/{r}"), &token).await;
    assert_eq!(one["kind"], "review", "{one}");
    assert_eq!(one["record"]["topics"][1], "独居老人探访", "{one}");

    // 2. A worker of g01 may not record one that covers a neighbour's grid.
    let worker = connected(&srv, "phone", "w-s01-c01-g01", 2).await;
    let wide = id(2);
    let draft = review("s01/c01/g01", &["s01/c01/g03"], now);
    worker.create(wide, |tx| draft.write(tx)).expect("local");
    let why = refused(&worker, wide, "out-of-scope refusal").await;
    assert!(why.contains("s01/c01/g03"), "{why}");

    // 3. Nobody may date a review into a month past its grace, to lift that month's figure.
    let old = id(3);
    let draft = review("s01/c01/g03", &[], now.plus(-60 * Millis::DAY));
    sec.create(old, |tx| draft.write(tx)).expect("local");
    let why = refused(&sec, old, "backdated refusal").await;
    assert!(why.contains("review dated"), "{why}");
    let (_, end) = get_json(&srv.http(), &month("s01/c01"), &token).await;
    assert_eq!(end["view"]["total"]["reviewed"], 2, "{end}");
    assert_eq!(end["reviews"].as_array().map(Vec::len), Some(1), "{end}");
    srv.stop().await;
}
