//! Running a city from empty through `/api/admin/`: the organisation, people, a household
//! import (with its report, idempotent, updates as edits), the audit log, the dispatch
//! picker, one-time codes that sign a phone in, and a database of the previous release
//! opened by this one with nothing lost.

use std::time::Duration;

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{
    ADMIN_PASSWORD, TempDir, TestServer, demo_login, get_json, login, send_json,
};
use reqwest::Method;
use serde_json::{Value, json};
use server::Settings;

const T: Duration = Duration::from_secs(30);

async fn post(srv: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    send_json(Method::POST, &srv.http(), path, token, &body).await
}

/// A households sheet of `n` rows of grid `s09/c01/g01`, every tenth tagged elderly-alone.
fn sheet(n: usize, members: usize) -> shared::export::Table {
    gridvisit_tests::household_sheet(n, "s09/c01/g01", members, |i| {
        if i % 10 == 0 {
            "elderly-alone".into()
        } else {
            String::new()
        }
    })
}

async fn import(srv: &TestServer, token: &str, bytes: Vec<u8>) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/admin/import?wait=true", srv.http()))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .expect("import");
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.expect("json");
    v["report"].clone()
}

async fn set_up_org(srv: &TestServer, admin: &str) {
    for (kind, code, name) in [
        ("street", "s09", "花洲街道"),
        ("community", "s09/c01", "东关社区"),
        ("grid", "s09/c01/g01", "第一网格"),
        ("department", "d-housing", "住建局"),
    ] {
        let (status, body) = post(
            srv,
            "/api/admin/org",
            admin,
            json!({ "kind": kind, "code": code, "name": name }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
}

async fn households_of(srv: &TestServer, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/api/records?kind=household&limit=500&before={b}"),
            None => "/api/records?kind=household&limit=500".into(),
        };
        let (status, body) = get_json(&srv.http(), &path, token).await;
        assert_eq!(status, 200, "{body}");
        out.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next"].as_u64() {
            Some(n) => before = Some(n),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_city_is_set_up_by_its_admin_and_every_step_is_audited() {
    let srv = TestServer::start_empty(Settings::default()).await;
    let admin = login(&srv.http(), "admin", ADMIN_PASSWORD).await;

    // The organisation, with names; a unit below a missing one is refused, a code keeps
    // its identity when renamed.
    let (status, body) = post(
        &srv,
        "/api/admin/org",
        &admin,
        json!({ "kind": "grid", "code": "s09/c01/g01", "name": "第一网格" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().expect("present").contains("s09/c01"),
        "{body}"
    );
    set_up_org(&srv, &admin).await;
    let (_, org) = get_json(&srv.http(), "/api/org", &admin).await;
    assert_eq!(org["units"].as_array().expect("present").len(), 4);

    // A worker and a community secretary.
    let (status, worker) = post(
        &srv,
        "/api/admin/people",
        &admin,
        json!({ "user": "wang", "name": "王秀英", "role": "worker", "scope": "grids:s09/c01/g01" }),
    )
    .await;
    assert_eq!(status, 200, "{worker}");
    let worker_pw = worker["password"]
        .as_str()
        .expect("generated password")
        .to_owned();
    let (status, _) = post(
        &srv,
        "/api/admin/people",
        &admin,
        json!({ "user": "sec", "name": "李书记", "role": "community_supervisor",
                "scope": "community:s09/c01", "password": "secretary-pw-1" }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &srv,
        "/api/admin/people",
        &admin,
        json!({ "user": "bad", "name": "x", "role": "worker", "scope": "community:s09/c01" }),
    )
    .await;
    assert_eq!(status, 400, "a worker's scope is grids: {body}");

    // 1,000 rows, 3 of them bad: the report names exactly those.
    let mut table = sheet(1000, 3);
    table.rows[10][4] = String::new();
    table.rows[500][6] = "many".into();
    table.rows[999][0] = "s09/c01/g77".into();
    let xlsx = shared::export::xlsx(&table, "住户");
    let report = import(&srv, &admin, xlsx.clone()).await;
    assert_eq!(report["imported"], 997, "{report}");
    let bad: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .expect("present")
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().expect("present"),
                e["field"].as_str().expect("present"),
            )
        })
        .collect();
    assert_eq!(bad, vec![(12, "户主"), (502, "人数"), (1001, "网格")]);

    // The same file again changes nothing.
    let again = import(&srv, &admin, xlsx).await;
    assert_eq!(
        (
            again["imported"].clone(),
            again["updated"].clone(),
            again["unchanged"].clone()
        ),
        (json!(0), json!(0), json!(997)),
        "{again}"
    );

    // A changed row updates its household as an edit, which its history reads in words.
    let mut changed = sheet(1, 4);
    changed.rows[0][5] = "13700000000".into();
    let csv = shared::export::csv(&changed);
    let upd = import(&srv, &admin, csv.into_bytes()).await;
    assert_eq!(
        (upd["imported"].clone(), upd["updated"].clone()),
        (json!(0), json!(1)),
        "{upd}"
    );

    // The worker signs in and holds the 997 households of the grid.
    let token = login(&srv.http(), "wang", &worker_pw).await;
    let households = households_of(&srv, &token).await;
    assert_eq!(households.len(), 997);
    let first = households
        .iter()
        .find(|h| h["record"]["address"]["room"]["value"] == "1001")
        .expect("room 1001");
    assert_eq!(first["record"]["members"]["value"], 4);
    let (_, rec) = get_json(
        &srv.http(),
        &format!("/api/records/{}", first["id"].as_str().expect("present")),
        &token,
    )
    .await;
    let words = rec["history"].to_string();
    assert!(
        words.contains("\"old\":\"3\"") && words.contains("\"new\":\"4\""),
        "{words}"
    );
    assert!(
        !words.contains("13700000000"),
        "the phone is masked: {words}"
    );

    // The phone syncs them too.
    let phone = WsClient::new("phone", "wang", true, 7);
    phone.connect(&srv.ws(&token)).await.expect("connects");
    phone
        .wait_for("997 households", T, |st| {
            st.hub
                .documents()
                .filter(|(_, d)| {
                    matches!(
                        shared::model::Record::read(*d),
                        Ok(shared::model::Record::Household(_))
                    )
                })
                .count()
                == 997
        })
        .await
        .expect("households synced");

    // The secretary picks the worker (and the department) to dispatch to.
    let sec = login(&srv.http(), "sec", "secretary-pw-1").await;
    let (status, picked) = get_json(&srv.http(), "/api/people?q=王", &sec).await;
    assert_eq!(status, 200);
    assert_eq!(picked["people"][0]["user"], "wang", "{picked}");
    let (_, all) = get_json(&srv.http(), "/api/people", &sec).await;
    assert_eq!(all["departments"][0]["name"], "住建局", "{all}");
    let (status, _) = get_json(&srv.http(), "/api/people", &token).await;
    assert_eq!(status, 403, "a worker dispatches nothing");

    // Exports name the grid beside its code.
    let csv = reqwest::Client::new()
        .get(format!("{}/api/export.csv?kind=household", srv.http()))
        .bearer_auth(&sec)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("text");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .expect("header")
            .contains("grid,grid_name,building")
    );
    assert!(
        lines
            .next()
            .expect("a row")
            .contains(",s09/c01/g01,东关社区 · 第一网格,"),
        "{csv:.300}"
    );

    // Disabling ends the worker's sessions; re-enabling and a new password sign in again.
    let (status, _) = send_json(
        Method::PATCH,
        &srv.http(),
        "/api/admin/people/wang",
        &admin,
        &json!({ "disabled": true }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = get_json(&srv.http(), "/api/me", &token).await;
    assert_eq!(status, 401, "a disabled account's token stops working");
    let resp = reqwest::Client::new()
        .post(format!("{}/api/login", srv.http()))
        .json(&json!({ "username": "wang", "password": worker_pw }))
        .send()
        .await
        .expect("present");
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.text().await.expect("present").contains("停用"));
    send_json(
        Method::PATCH,
        &srv.http(),
        "/api/admin/people/wang",
        &admin,
        &json!({ "disabled": false }),
    )
    .await;
    let (status, reset) = post(&srv, "/api/admin/people/wang/password", &admin, json!({})).await;
    assert_eq!(status, 200);
    login(
        &srv.http(),
        "wang",
        reset["password"].as_str().expect("present"),
    )
    .await;

    // Only an admin administers.
    let (status, _) = post(
        &srv,
        "/api/admin/org",
        &sec,
        json!({ "kind": "street", "code": "s10", "name": "x" }),
    )
    .await;
    assert_eq!(status, 403);

    // The audit log has each step, with who.
    let (_, log) = get_json(&srv.http(), "/api/admin/audit", &admin).await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .expect("present")
        .iter()
        .rev()
        .map(|e| e["action"].as_str().expect("present"))
        .collect();
    assert_eq!(
        actions,
        vec![
            "org.create",
            "org.create",
            "org.create",
            "org.create",
            "person.create",
            "person.create",
            "households.import",
            "households.import",
            "households.import",
            "person.edit",
            "person.edit",
            "person.password",
        ]
    );
    assert!(
        log["items"]
            .as_array()
            .expect("present")
            .iter()
            .all(|e| e["by"] == "admin")
    );

    // The step deadlines are a setting every device reads with the organisation.
    let day = 86_400_000_i64;
    let limits = json!({ "respond_ms": 4 * 3_600_000, "dispatched_ms": [2 * day, 4 * day, 6 * day, 10 * day], "handled_ms": day });
    let (status, _) = send_json(
        Method::PUT,
        &srv.http(),
        "/api/admin/settings",
        &admin,
        &json!({ "limits": limits }),
    )
    .await;
    assert_eq!(status, 200);
    let (_, org) = get_json(&srv.http(), "/api/org", &sec).await;
    assert_eq!(org["limits"], limits);
    let (status, _) = send_json(
        Method::PUT,
        &srv.http(),
        "/api/admin/settings",
        &admin,
        &json!({ "limits": { "respond_ms": 0, "dispatched_ms": [1, 1, 1, 1], "handled_ms": 1 } }),
    )
    .await;
    assert_eq!(status, 400, "limits under an hour are refused");
    let (status, _) = send_json(
        Method::PUT,
        &srv.http(),
        "/api/admin/settings",
        &sec,
        &json!({ "limits": limits }),
    )
    .await;
    assert_eq!(status, 403);
    let (_, log) = get_json(&srv.http(), "/api/admin/audit?limit=1", &admin).await;
    assert_eq!(log["items"][0]["action"], "settings.step_limits");
    phone.disconnect();
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_code_signs_a_phone_in_once_and_never_after_it_expires() {
    let srv = TestServer::start_with(Settings {
        provision_ttl_ms: 1_500,
        ..Settings::default()
    })
    .await;
    let sec = demo_login(&srv.http(), "sec-s01-c01").await;
    let (status, code) = post(
        &srv,
        "/api/provision",
        &sec,
        json!({ "user": "w-s01-c01-g01" }),
    )
    .await;
    assert_eq!(status, 200, "{code}");
    assert!(code["svg"].as_str().expect("present").starts_with("<?xml"));
    assert!(
        code["url"]
            .as_str()
            .expect("present")
            .contains("#/provision/")
    );
    let redeem = |c: String| {
        let http = srv.http();
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{http}/api/provision/redeem"))
                .json(&json!({ "code": c }))
                .send()
                .await
                .expect("present");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let c = code["code"].as_str().expect("present").to_owned();
    let (status, signed) = redeem(c.clone()).await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["user"]["user"], "w-s01-c01-g01");
    let (status, me) = get_json(
        &srv.http(),
        "/api/me",
        signed["token"].as_str().expect("present"),
    )
    .await;
    assert_eq!((status, me["user"].clone()), (200, json!("w-s01-c01-g01")));
    let (status, again) = redeem(c).await;
    assert_eq!(status, 401);
    assert!(
        again["error"].as_str().expect("present").contains("已使用"),
        "{again}"
    );

    // A second code, left until it expires.
    let (_, late) = post(
        &srv,
        "/api/provision",
        &sec,
        json!({ "user": "w-s01-c01-g01" }),
    )
    .await;
    let expires = late["expires_at"].as_i64().expect("present");
    let waited = tokio::time::timeout(T, async {
        while server::engine::now().0 <= expires {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok());
    let (status, body) = redeem(late["code"].as_str().expect("present").to_owned()).await;
    assert_eq!(status, 401);
    assert!(
        body["error"].as_str().expect("present").contains("过期"),
        "{body}"
    );

    // Nobody provisions outside their scope, and workers provision nobody.
    let (status, _) = post(
        &srv,
        "/api/provision",
        &sec,
        json!({ "user": "w-s02-c01-g01" }),
    )
    .await;
    assert_eq!(status, 403);
    let worker = demo_login(&srv.http(), "w-s01-c01-g01").await;
    let (status, _) = post(
        &srv,
        "/api/provision",
        &worker,
        json!({ "user": "w-s01-c01-g01" }),
    )
    .await;
    assert_eq!(status, 403);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_written_by_the_previous_release_opens_with_nothing_lost() {
    // `gridvisit generate --grids 3 --households 6 --weeks 3 --seed 2`, by commit f78576a.
    let packed = std::fs::read(
        gridvisit_tests::repo_root().join("tests/fixtures/release-f78576a.redb.zlib"),
    )
    .expect("fixture");
    let bytes = miniz_oxide::inflate::decompress_to_vec_zlib(&packed).expect("inflates");
    let dir = TempDir::new("upgrade");
    std::fs::write(dir.0.join("gridvisit.redb"), bytes).expect("write");
    let srv = TestServer::start_on(dir, Settings::default()).await;
    let state = &srv.state;
    let mut kinds = std::collections::BTreeMap::new();
    state
        .store
        .for_each_row(&mut |_, row| *kinds.entry(row.kind.unwrap_or_default()).or_insert(0) += 1)
        .expect("present");
    let kinds: Vec<(String, i32)> = kinds.into_iter().collect();
    assert_eq!(
        kinds,
        [
            ("household", 18),
            ("issue", 1),
            ("review", 5),
            ("visit", 49)
        ]
        .map(|(k, n)| (k.to_owned(), n))
        .to_vec(),
        "what `generate` printed, and its reviews"
    );
    // The organisation was derived from what it names.
    let org = state.store.org().expect("present");
    for code in [
        "s01",
        "s01/c01",
        "s01/c01/g01",
        "s01/c01/g02",
        "s01/c01/g03",
    ] {
        assert!(org.get(code).is_some(), "{code} in {org:?}");
    }
    let accounts = state.store.accounts().expect("present");
    assert!(accounts.len() > 1000, "{} accounts", accounts.len());
    assert!(accounts.iter().all(|a| !a.disabled));
    // Its people still sign in and read their records.
    let token = demo_login(&srv.http(), "w-s01-c01-g01").await;
    let (_, page) = get_json(&srv.http(), "/api/records?kind=household", &token).await;
    assert_eq!(page["items"].as_array().expect("present").len(), 6);
    let admin = login(&srv.http(), "admin", "prev-admin-pw").await;
    let (_, org) = get_json(&srv.http(), "/api/org", &admin).await;
    // Every street, community and grid its accounts and records name: 6 + 46 + 514.
    assert_eq!(org["units"].as_array().expect("present").len(), 566);
    assert_eq!(org["units"][0]["code"], "s01");
    srv.stop().await;
}
