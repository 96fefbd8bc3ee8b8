//! The limits of the running server over real HTTP and WebSockets: the login throttle, tokens
//! at rest and ended sessions, connection and stream caps, the cookie Origin check, safe
//! defaults off loopback, the quarantine cap and its review, and paged listings.

use std::time::Duration;

use futures_util::StreamExt;
use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{ADMIN_PASSWORD, TestServer, demo_login, get_json, login};
use serde_json::{Value, json};
use shared::ids::DocumentId;
use shared::model::HouseholdDraft;
use shared::sync::Event;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const W1: &str = "w-s01-c01-g01";
const T: Duration = Duration::from_secs(20);

async fn post_login(http: &str, user: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{http}/api/login"))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("login request")
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds")
}

/// Opens `/sync` with a token; the HTTP status of the upgrade (101 when accepted).
async fn upgrade_status(srv: &TestServer, token: &str) -> (u16, Option<u64>) {
    match tokio_tungstenite::connect_async(srv.ws(token)).await {
        Ok((ws, resp)) => {
            // Kept open for the rest of the test.
            std::mem::forget(ws);
            (resp.status().as_u16(), None)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse().ok());
            (resp.status().as_u16(), retry)
        }
        Err(e) => panic!("upgrade failed: {e}"),
    }
}

/// Waits until the socket is closed by the server.
async fn closed_within(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    within: Duration,
) {
    tokio::time::timeout(within, async {
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await
    .expect("the server closed the socket in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_per_user_and_per_address_with_retry_after() {
    let srv = TestServer::start_with(server::Settings {
        login_failures_per_user: 3,
        login_failures_per_ip: 6,
        ..server::Settings::default()
    })
    .await;
    let http = srv.http();
    for _ in 0..3 {
        assert_eq!(post_login(&http, W1, "wrong").await.status(), 401);
    }
    // Now even the right password waits: a guesser cannot tell.
    let resp = post_login(&http, W1, server::demo::DEMO_PASSWORD).await;
    assert_eq!(resp.status(), 429);
    assert!(retry_after(&resp) > 0);
    // Another user signs in; successful logins are not counted.
    for _ in 0..3 {
        demo_login(&http, "w-s01-c01-g02").await;
    }
    // Unknown users count like known ones, on the address too.
    for i in 0..3 {
        assert_eq!(
            post_login(&http, &format!("nobody-{i}"), "x")
                .await
                .status(),
            401
        );
    }
    let resp = post_login(&http, "w-s01-c01-g03", server::demo::DEMO_PASSWORD).await;
    assert_eq!(resp.status(), 429, "the address is throttled");
    assert!(
        srv.state
            .metrics
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_kept_hashed_and_ending_a_login_closes_its_sockets_within_a_second() {
    let srv = TestServer::start().await;
    let http = srv.http();
    let token = demo_login(&http, W1).await;
    assert!(srv.state.store.token(&token).expect("read").is_none());
    let key = server::auth::token_key(&token);
    assert!(srv.state.store.token(&key).expect("read").is_some());

    let (mut ws, _) = tokio_tungstenite::connect_async(srv.ws(&token))
        .await
        .expect("connect");
    let resp = reqwest::Client::new()
        .post(format!("{http}/api/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout");
    assert_eq!(resp.status(), 204);
    closed_within(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(upgrade_status(&srv, &token).await.0, 401);

    // An admin ends every session of a user.
    let t1 = demo_login(&http, W1).await;
    let t2 = demo_login(&http, W1).await;
    let (mut a, _) = tokio_tungstenite::connect_async(srv.ws(&t1))
        .await
        .expect("a");
    let (mut b, _) = tokio_tungstenite::connect_async(srv.ws(&t2))
        .await
        .expect("b");
    let admin = login(&http, "admin", ADMIN_PASSWORD).await;
    let worker_tries = reqwest::Client::new()
        .post(format!("{http}/api/admin/users/{W1}/end-sessions"))
        .bearer_auth(&t1)
        .send()
        .await
        .expect("post");
    assert_eq!(worker_tries.status(), 403);
    let resp: Value = reqwest::Client::new()
        .post(format!("{http}/api/admin/users/{W1}/end-sessions"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(resp["ended"], 2);
    closed_within(&mut a, Duration::from_secs(1)).await;
    closed_within(&mut b, Duration::from_secs(1)).await;
    assert_eq!(get_json(&http, "/api/me", &t2).await.0, 401);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_connections_and_live_streams_are_capped_per_user_and_in_all() {
    let srv = TestServer::start_with(server::Settings {
        max_conns_per_user: 2,
        max_conns: 3,
        max_live_per_user: 1,
        ..server::Settings::default()
    })
    .await;
    let http = srv.http();
    let w1 = demo_login(&http, W1).await;
    let w2 = demo_login(&http, "w-s01-c01-g02").await;
    assert_eq!(upgrade_status(&srv, &w1).await.0, 101);
    assert_eq!(upgrade_status(&srv, &w1).await.0, 101);
    let (status, retry) = upgrade_status(&srv, &w1).await;
    assert_eq!((status, retry.is_some()), (429, true), "per user");
    assert_eq!(upgrade_status(&srv, &w2).await.0, 101);
    let (status, retry) = upgrade_status(&srv, &w2).await;
    assert_eq!((status, retry.is_some()), (503, true), "in all");

    let sec = demo_login(&http, "sec-s01-c01").await;
    let live = || {
        reqwest::Client::new()
            .get(format!("{http}/api/live"))
            .bearer_auth(&sec)
            .send()
    };
    let first = live().await.expect("live");
    assert_eq!(first.status(), 200);
    let second = live().await.expect("live");
    assert_eq!(second.status(), 429);
    drop(first);
    // The slot comes back when the stream ends (the server notices at its next write).
    let back = tokio::time::timeout(T, async {
        loop {
            srv.state.changed.clone().mark_changed();
            let r = live().await.expect("live");
            if r.status() == 200 {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(back.is_ok(), "a closed stream gives its slot back");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_signed_in_by_cookie_must_come_from_this_site() {
    let srv = TestServer::start().await;
    let token = demo_login(&srv.http(), W1).await;
    let request = |origin: &str| {
        let mut r = format!("ws://{}/sync", srv.addr)
            .into_client_request()
            .expect("request");
        let h = r.headers_mut();
        h.insert(
            "cookie",
            HeaderValue::from_str(&format!("gridvisit_token={token}")).expect("header"),
        );
        h.insert("origin", HeaderValue::from_str(origin).expect("header"));
        r
    };
    match tokio_tungstenite::connect_async(request("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 403);
        }
        other => panic!(
            "a foreign page's cookie must be refused: {:?}",
            other.map(|r| r.1)
        ),
    }
    let (_, resp) = tokio_tungstenite::connect_async(request(&srv.http()))
        .await
        .expect("this site's page is let in");
    assert_eq!(resp.status().as_u16(), 101);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_the_demo_password_is_refused_and_cookies_are_secure() {
    let srv = TestServer::start_with(server::Settings {
        demo_password_allowed: false,
        secure_cookies: true,
        ..server::Settings::default()
    })
    .await;
    let resp = post_login(&srv.http(), W1, server::demo::DEMO_PASSWORD).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("loopback")),
        "{body}"
    );
    let resp = post_login(&srv.http(), "admin", ADMIN_PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    srv.stop().await;
}

fn draft(grid: &str, room: &str) -> HouseholdDraft {
    HouseholdDraft {
        grid: grid.parse().expect("grid"),
        building: "1".into(),
        unit: "1".into(),
        room: room.into(),
        head: "张三".into(),
        contact: "13800000000".into(),
        members: 3,
        tags: vec![],
        notes: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_cap_a_writer_s_refused_changes_are_counted_not_stored_and_an_admin_reviews_them()
{
    let srv = TestServer::start_with(server::Settings {
        quarantine_per_user: 1,
        ..server::Settings::default()
    })
    .await;
    let http = srv.http();
    let token = demo_login(&http, W1).await;
    let w = WsClient::new("writer", W1, true, 9);
    w.connect(&srv.ws(&token)).await.expect("connect");
    w.wait_ready(T).await.expect("ready");
    for n in 1..=2u8 {
        let doc = DocumentId::from_bytes([n; 16]);
        w.create(doc, |tx| draft("s02/c01/g01", &n.to_string()).write(tx))
            .expect("locally valid");
        w.wait_for("refusal", T, |s| {
            s.events
                .iter()
                .any(|e| matches!(e, Event::RemoteError { doc: Some(d), .. } if *d == doc))
        })
        .await
        .expect("refused with an error");
    }
    let admin = login(&http, "admin", ADMIN_PASSWORD).await;
    let (_, q) = get_json(&http, "/api/quarantine", &admin).await;
    let items = q["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{q}");
    assert_eq!(q["dropped"], 1);
    let item = &items[0];
    assert_eq!(item["user"], W1);
    assert!(
        item["reason"]
            .as_str()
            .is_some_and(|r| r.contains("outside the scope"))
    );
    let fields = item["changes"][0]["fields"].to_string();
    assert!(fields.contains("head"), "decoded fields: {item}");
    let id = item["id"].as_u64().expect("id");
    let delete = |token: String| {
        reqwest::Client::new()
            .delete(format!("{http}/api/quarantine/{id}"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(delete(token.clone()).await.expect("delete").status(), 403);
    assert_eq!(delete(admin.clone()).await.expect("delete").status(), 204);
    assert_eq!(delete(admin.clone()).await.expect("delete").status(), 404);
    let (_, q) = get_json(&http, "/api/quarantine", &admin).await;
    assert_eq!(q["items"].as_array().map(Vec::len), Some(0));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_come_in_pages_that_cover_the_scope_once() {
    let srv = TestServer::start().await;
    let http = srv.http();
    let token = demo_login(&http, W1).await;
    let mut seen = std::collections::HashSet::new();
    let mut before: Option<u64> = None;
    let mut pages = 0;
    loop {
        let path = match before {
            Some(b) => format!("/api/records?kind=household&limit=7&before={b}"),
            None => "/api/records?kind=household&limit=7".to_owned(),
        };
        let (status, page) = get_json(&http, &path, &token).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 7);
        for i in items {
            assert_eq!(i["record"]["grid"], "s01/c01/g01");
            assert!(
                seen.insert(i["id"].as_str().expect("id").to_owned()),
                "once"
            );
        }
        pages += 1;
        match page["next"].as_u64() {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    assert!(pages > 1);
    // The CSV export of the same scope holds the same households.
    let csv = reqwest::Client::new()
        .get(format!("{http}/api/export.csv?kind=household"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert_eq!(csv.lines().count() - 1, seen.len());
    srv.stop().await;
}
