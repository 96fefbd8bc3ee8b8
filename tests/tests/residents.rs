//! Residents report without an account (大家管、码上办), over Open311 GeoReport v2: the report
//! becomes an issue in the grid's queue live; its tracking code shows its progress and takes
//! a rating once closed; a worker closes it only after a follow-up (回访); photos are served
//! to the grid's people and not to another grid's; bursts from one address are limited;
//! repeats are linked; and what a resident writes stays text.

use std::time::Duration;

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{TestServer, demo_login, get_json};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use server::settings::Settings;
use shared::ids::DocumentId;
use shared::model::issue::append_event;
use shared::model::{EventKind, Issue, IssueEvent, IssueSource, Record, Role};

const T: Duration = Duration::from_secs(30);
const W1: &str = "w-s01-c01-g01";
const W2: &str = "w-s01-c01-g02";
const GRID: &str = "s01/c01/g01";

/// The smallest bytes that pass as a JPEG (its magic), with a tag to make them distinct.
fn jpeg(tag: &str) -> Vec<u8> {
    let mut b = vec![0xff, 0xd8, 0xff, 0xe0];
    b.extend_from_slice(tag.as_bytes());
    b
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    shared::hex::encode(&sha2::Sha256::digest(bytes))
}

async fn report(
    http: &str,
    grid: Option<&str>,
    text: &str,
    photo: Option<Vec<u8>>,
) -> reqwest::Response {
    let mut form = Form::new()
        .text("service_code", "infrastructure")
        .text("description", text.to_owned())
        .text("lat", "31.2304")
        .text("long", "121.4737")
        .text("phone", "13800000000");
    if let Some(g) = grid {
        form = form.text("attribute[grid]", g.to_owned());
    }
    if let Some(p) = photo {
        form = form.part(
            "media",
            Part::bytes(p)
                .file_name("p.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        );
    }
    reqwest::Client::new()
        .post(format!("{http}/open311/v2/requests.json"))
        .multipart(form)
        .send()
        .await
        .expect("post")
}

async fn code_of(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    body[0]["service_request_id"]
        .as_str()
        .expect("a tracking code")
        .to_owned()
}

async fn get_text(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("get");
    (r.status().as_u16(), r.text().await.expect("text"))
}

/// The resident issues a client holds, by document.
fn qr_issues(c: &WsClient) -> Vec<(DocumentId, Issue)> {
    let st = c.state.lock().expect("state");
    st.hub
        .documents()
        .filter_map(|(id, doc)| match Record::read(doc) {
            Ok(Record::Issue(i)) if i.source == IssueSource::Qr => Some((*id, i)),
            _ => None,
        })
        .collect()
}

/// An event by the grid's worker (IDs break ties between events of the same millisecond:
/// the tests name them in the order they happen).
fn worker_event(id: &str, kind: EventKind, satisfied: Option<bool>) -> IssueEvent {
    let mut e = IssueEvent::new(
        id.into(),
        kind,
        server::engine::now(),
        W1.into(),
        Some(Role::Worker),
    );
    e.satisfied = satisfied;
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_residents_report_reaches_the_grid_live_and_its_code_follows_it_to_a_rating() {
    let srv = TestServer::start().await;
    let http = srv.http();

    // Open311: the five areas, and what a report may carry.
    let (s, services) = get_json(&http, "/open311/v2/services.json", "").await;
    assert_eq!(s, 200);
    let services = services.as_array().expect("list");
    assert_eq!(services.len(), 5);
    assert!(services.iter().all(|s| s["metadata"] == true));
    let (s, def) = get_json(&http, "/open311/v2/services/infrastructure.json", "").await;
    assert_eq!(s, 200);
    assert!(
        def["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .any(|a| a["code"] == "grid")
    );

    // The grid's worker is online; a resident reports, with a photo and a position.
    let worker = WsClient::new("worker", W1, true, 41);
    let token = demo_login(&http, W1).await;
    worker.connect(&srv.ws(&token)).await.expect("connect");
    worker.wait_ready(T).await.expect("ready");
    let photo = jpeg("stairwell light");
    let text = "<script>alert('x')</script> 3号楼楼道灯不亮";
    let code = code_of(report(&http, Some(GRID), text, Some(photo.clone())).await).await;
    worker
        .wait_for("the report pushed live", T, |st| {
            st.hub.documents().any(|(_, d)| {
                matches!(Record::read(d), Ok(Record::Issue(i)) if i.source == IssueSource::Qr)
            })
        })
        .await
        .expect("pushed");
    let (doc, issue) = qr_issues(&worker).remove(0);
    assert_eq!(issue.description, text.trim());
    assert_eq!(issue.detail.photos, vec![sha(&photo)]);
    assert!(
        issue
            .detail
            .geo
            .is_some_and(|g| (g.lat - 31.2304).abs() < 1e-9)
    );
    assert!(issue.state.needs_follow_up);

    // The status, for the holder of the code, in Open311 and on the page; the text is inert.
    let (s, got) = get_json(&http, &format!("/open311/v2/requests/{code}.json"), "").await;
    assert_eq!(s, 200, "{got}");
    assert_eq!(got[0]["status"], "open");
    assert_eq!(got[0]["description"], text.trim());
    let (s, page) = get_text(&format!("{http}/report/status/{code}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert"), "{page}");
    let (s, _) = get_text(&format!("{http}/report/status/0000-0000-00000")).await;
    assert_eq!(s, 404, "a code no one was given finds nothing");

    // The photo: the grid's worker sees it, another grid's worker does not.
    let hash = sha(&photo);
    let fetch = |token: String| {
        let url = format!("{http}/api/photos/{hash}");
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("get");
            (
                r.status().as_u16(),
                r.bytes().await.expect("bytes").to_vec(),
            )
        }
    };
    assert_eq!(fetch(token.clone()).await, (200, photo.clone()));
    let other = demo_login(&http, W2).await;
    assert_eq!(fetch(other).await.0, 403);
    let (s, own) = {
        let r = reqwest::get(format!("{http}/report/status/{code}/photo/{hash}"))
            .await
            .expect("get");
        (
            r.status().as_u16(),
            r.bytes().await.expect("bytes").to_vec(),
        )
    };
    assert_eq!((s, own), (200, photo));

    // The worker accepts and handles it; closing waits for the follow-up.
    worker.sync_now(doc);
    let status = act(
        &worker,
        doc,
        &[
            ("e1-acc", EventKind::Accept, None),
            ("e2-han", EventKind::Handle, None),
            ("e3-early", EventKind::Close, None),
        ],
        &http,
        &code,
    )
    .await;
    assert_eq!(
        status["status"], "handled",
        "no close before the follow-up: {status}"
    );
    let (s, _) = post_rate(&http, &code, 5).await;
    assert_eq!(s, 400, "not closed yet: no rating");
    let status = act(
        &worker,
        doc,
        &[
            ("e4-fol", EventKind::FollowUp, Some(true)),
            ("e5-clo", EventKind::Close, None),
        ],
        &http,
        &code,
    )
    .await;
    assert_eq!(status["status"], "closed", "{status}");
    assert_eq!(status["satisfied"], true);
    assert_eq!(status["can_rate"], true);

    // The resident rates it, once; the rating reaches the figures.
    let (s, _) = post_rate(&http, &code, 4).await;
    assert_eq!(s, 303);
    let (s, _) = post_rate(&http, &code, 1).await;
    assert_eq!(s, 400, "rated already");
    let (_, status) = get_json(&http, &format!("/api/report/{code}"), "").await;
    assert_eq!(status["rating"], 4);
    let admin = demo_login(&http, "city").await;
    let (_, figures) = get_json(&http, "/api/aggregates", &admin).await;
    let total = &figures["figures"]["total"];
    assert!(total["ratings"].as_u64() >= Some(1), "{total}");
    assert!(total["rating_sum"].as_u64() >= Some(4), "{total}");
    assert!(total["satisfied"].as_u64() >= Some(1), "{total}");
}

/// The worker's events on the report's issue, synced; then the report's status as its
/// resident sees it.
async fn act(
    worker: &WsClient,
    doc: DocumentId,
    events: &[(&str, EventKind, Option<bool>)],
    http: &str,
    code: &str,
) -> Value {
    for (id, kind, satisfied) in events {
        worker
            .edit(doc, |tx| {
                append_event(tx, &worker_event(id, *kind, *satisfied))
            })
            .expect("event");
    }
    worker
        .wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("synced");
    get_json(http, &format!("/api/report/{code}"), "").await.1
}

async fn post_rate(http: &str, code: &str, score: u8) -> (u16, String) {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{http}/report/status/{code}/rate"))
        .form(&[("score", score.to_string())])
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_from_one_address_are_limited_repeats_are_linked_and_bad_reports_refused() {
    let srv = TestServer::start_with(Settings {
        reports_per_ip_grid: 3,
        ..Settings::default()
    })
    .await;
    let http = srv.http();
    let same = "小区门口井盖缺失 a missing manhole cover";
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(code_of(report(&http, Some(GRID), same, None).await).await);
    }
    let burst = report(&http, Some(GRID), same, None).await;
    assert_eq!(burst.status(), 429);
    assert!(burst.headers().contains_key("retry-after"));
    // The same address may still report in another grid (a carrier NAT hides many phones).
    code_of(report(&http, Some("s01/c01/g02"), "路灯 street light", None).await).await;

    // The repeats are linked to the first report; each resident sees only their own code.
    let worker = WsClient::new("worker", W1, true, 42);
    let token = demo_login(&http, W1).await;
    worker.connect(&srv.ws(&token)).await.expect("connect");
    worker.wait_ready(T).await.expect("ready");
    worker
        .wait_for("the three reports", T, |st| {
            st.hub
                .documents()
                .filter(|(_, d)| matches!(Record::read(*d), Ok(Record::Issue(i)) if i.source == IssueSource::Qr))
                .count()
                == 3
        })
        .await
        .expect("held");
    let issues = qr_issues(&worker);
    let firsts: Vec<_> = issues
        .iter()
        .filter(|(_, i)| i.duplicate_of.is_none())
        .collect();
    assert_eq!(firsts.len(), 1, "one first report");
    assert!(
        issues
            .iter()
            .filter(|(_, i)| i.duplicate_of.is_some())
            .all(|(_, i)| i.duplicate_of == Some(firsts[0].0))
    );
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );

    // A report with no grid goes to the city's dispatch queue, at city level.
    let code = code_of(report(&http, None, "噪音扰民 noise at night", None).await).await;
    let (_, status) = get_json(&http, &format!("/open311/v2/requests/{code}.json"), "").await;
    assert_eq!(status[0]["status"], "open");
    let city = demo_login(&http, "city").await;
    let (_, queue) = get_json(
        &http,
        "/api/records?kind=issue&grid=city/dispatch/queue",
        &city,
    )
    .await;
    assert!(
        queue.to_string().contains("噪音扰民"),
        "the city's queue holds it: {queue}"
    );

    // Bad reports get a clear error and leave nothing behind.
    let r = report(&http, Some("s09/c09/g09"), "x", None).await;
    assert_eq!(r.status(), 400);
    let r = report(&http, Some("s01/c01/g03"), "   ", None).await;
    assert_eq!(r.status(), 400);
    let r = report(
        &http,
        Some("s01/c01/g03"),
        "照片 photo",
        Some(b"not an image".to_vec()),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("JPEG")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_stored_once_by_hash_within_quota_and_unreferenced_ones_are_collected() {
    let srv = TestServer::start_with(Settings {
        photo_quota: (40, 1_000),
        ..Settings::default()
    })
    .await;
    let http = srv.http();
    let token = demo_login(&http, W1).await;
    let client = reqwest::Client::new();
    let put = |bytes: Vec<u8>, hash: String, grid: &str| {
        client
            .put(format!("{http}/api/photos/{hash}?grid={grid}"))
            .bearer_auth(&token)
            .body(bytes)
            .send()
    };
    let a = jpeg("photo a, twenty bytes");
    assert_eq!(
        put(a.clone(), sha(&a), GRID).await.expect("put").status(),
        201
    );
    assert_eq!(
        put(a.clone(), sha(&a), GRID).await.expect("put").status(),
        201,
        "the same bytes again are the same photo"
    );
    let head = client
        .head(format!("{http}/api/photos/{}", sha(&a)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    let cut = a[..10].to_vec();
    let r = put(cut, sha(&a), GRID).await.expect("put");
    assert_eq!(r.status(), 400, "the bytes must match their name");
    let b = jpeg("photo b, over the quota");
    assert_eq!(
        put(b.clone(), sha(&b), "s01/c01/g02")
            .await
            .expect("put")
            .status(),
        403,
        "not the worker's grid"
    );
    assert_eq!(
        put(b.clone(), sha(&b), GRID).await.expect("put").status(),
        413,
        "the worker's quota"
    );
    let c = b"GIF89a not a photo we take".to_vec();
    assert_eq!(
        put(c.clone(), sha(&c), GRID).await.expect("put").status(),
        400
    );

    // No record refers to it: once its grace period is over it is removed, and its bytes
    // count against the quota no more.
    let store = srv.state.store.clone();
    let later = server::engine::now().0 + 1;
    assert_eq!(store.collect_photos(later).expect("collect"), 1);
    assert_eq!(store.photo_usage(&format!("u:{W1}")).expect("usage"), 0);
    let head = client
        .head(format!("{http}/api/photos/{}", sha(&a)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 404);
    // A photo a report refers to stays.
    let p = jpeg("kept");
    code_of(report(&http, Some(GRID), "有照片 with a photo", Some(p.clone())).await).await;
    assert_eq!(
        store
            .collect_photos(server::engine::now().0 + 1)
            .expect("collect"),
        0
    );
    assert!(store.photo(&sha(&p)).expect("photo").is_some());
}
