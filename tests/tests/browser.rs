//! The field app (issue 4) and the supervisor's screens (issue 5) in Debian's headless Chromium
//! against the real server: each test starts a
//! server (in-process, or as a process when the scenario kills it) serving the built app
//! (`cargo xtask app`), then runs one scenario of `tests/js/browser.mjs` (playwright-core).

use std::path::PathBuf;
use std::time::Duration;

use gridvisit_tests::harness::{ProcessServer, TempDir, TestServer};
use gridvisit_tests::{js_dir, repo_root};
use server::Settings;

/// The built app, checked to be there.
fn app_dir() -> PathBuf {
    let dir = repo_root().join("target/app");
    assert!(
        dir.join("index.html").exists() && dir.join("gridvisit_bg.wasm").exists(),
        "the field app is not built: run `cargo xtask app` first (scripts/test.sh does)"
    );
    dir
}

fn chromium() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&path).exists(),
        "Chromium is missing at {path}: `apt-get install -y chromium` (.ci/run does), or set CHROMIUM"
    );
    path
}

/// Runs one scenario; fails with its output if it fails or takes more than three minutes.
async fn scenario(name: &str, base: &str, pid: Option<u32>) {
    scenario_with(name, base, pid, &[]).await;
}

/// [`scenario`] with environment variables for the script.
async fn scenario_with(name: &str, base: &str, pid: Option<u32>, env: &[(&str, String)]) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.arg("browser.mjs")
        .arg(name)
        .arg(base)
        .current_dir(js_dir())
        .env("CHROMIUM", chromium())
        .kill_on_drop(true);
    if let Some(pid) = pid {
        cmd.arg(pid.to_string());
    }
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("scenario {name} took over 3 minutes"))
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Shown with `--nocapture`: what the scenario measured.
    println!("{text}");
    assert!(
        out.status.success(),
        "browser scenario {name} failed:\n{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with('{')),
        "scenario {name} reported nothing:\n{text}"
    );
}

async fn with_app() -> TestServer {
    TestServer::start_with(Settings {
        app_dir: Some(app_dir()),
        ..Settings::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_records_visits_offline_reloads_and_they_sync() {
    let srv = with_app().await;
    scenario("offline-visits", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_edit_one_household_offline_and_both_keep_both_edits() {
    let srv = with_app().await;
    scenario("concurrent-household", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_login_asks_to_sign_in_and_loses_no_change() {
    let srv = with_app().await;
    scenario("expired-login", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_opens_with_the_server_stopped() {
    let data = TempDir::new("shell");
    let app = app_dir();
    let srv = ProcessServer::spawn_with(
        std::path::Path::new(env!("CARGO_BIN_EXE_gv-test-server")),
        &data.0,
        &["--app".as_ref(), app.as_os_str()],
    )
    .await;
    let pid = srv.child.id().expect("server pid");
    scenario("shell-offline", &srv.http(), Some(pid)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_a_workers_visit_and_issue_without_reload() {
    let srv = with_app().await;
    scenario("supervisor-live", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_resolves_a_conflict_and_every_replica_keeps_the_choice() {
    let srv = with_app().await;
    scenario("conflict-resolve", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalate_and_offline_close_derive_one_status_everywhere() {
    let srv = with_app().await;
    scenario("escalate-vs-close", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_residents_qr_report_reaches_the_grid_live_is_closed_after_a_follow_up_and_rated() {
    let srv = with_app().await;
    scenario("resident-report", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_written_offline_is_sent_when_the_network_is_back() {
    let srv = with_app().await;
    scenario("resident-offline", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_taken_offline_survive_a_reload_and_upload_when_the_network_is_back() {
    let srv = with_app().await;
    scenario("photo-offline", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_edit_is_named_and_the_next_edit_to_that_record_still_reaches_the_server() {
    let srv = with_app().await;
    scenario("refused-edit", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_user_of_a_shared_phone_never_sees_the_previous_users_records() {
    let srv = with_app().await;
    scenario("shared-phone", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_and_onerror_payloads_render_as_text() {
    let srv = with_app().await;
    scenario("inert-text", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisors_overview_is_complete_and_live_without_replicating_the_area_and_opens_offline()
 {
    let srv = with_app().await;
    scenario("supervisor-holds-queue", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_visit_leaves_the_phone_and_comes_back_on_demand() {
    let srv = with_app().await;
    scenario("old-visit", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_month_view_equals_a_count_over_the_generated_records() {
    let srv = TestServer::start_generated(
        Settings {
            app_dir: Some(app_dir()),
            ..Settings::default()
        },
        server::generate::Plan {
            grids: 4,
            households: 20,
            weeks: 9,
            now: server::engine::now(),
            seed: 11,
        },
    )
    .await;
    scenario("month-view", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_exactly_the_rows_shown() {
    let srv = with_app().await;
    scenario("export", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_written_by_the_previous_release_opens_and_loses_nothing() {
    let srv = with_app().await;
    scenario("upgrade-v2", &srv.http(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sends_a_strict_content_security_policy_and_the_shell() {
    let srv = with_app().await;
    let resp = reqwest::get(format!("{}/", srv.http()))
        .await
        .expect("GET /");
    assert_eq!(resp.status(), 200);
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-cache")
    );
    assert!(resp.text().await.expect("body").contains("boot.js"));
    let wasm = reqwest::get(format!("{}/gridvisit_bg.wasm", srv.http()))
        .await
        .expect("GET wasm");
    assert_eq!(
        wasm.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/wasm")
    );
    // Each module is sent as `cargo xtask app` precompressed it (brotli at quality 11).
    for module in ["gridvisit", "gridvisit-desk"] {
        let file = format!("{module}_bg.wasm");
        let resp = reqwest::Client::new()
            .get(format!("{}/{file}", srv.http()))
            .header("accept-encoding", "br")
            .send()
            .await
            .expect("GET wasm, brotli");
        assert_eq!(
            resp.headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some("br"),
            "{file}"
        );
        let body = resp.bytes().await.expect("body");
        let stored = std::fs::read(app_dir().join(format!("{file}.br"))).expect("the .br file");
        assert_eq!(
            body.as_ref(),
            stored.as_slice(),
            "{file} is its precompressed copy"
        );
    }
    let sw = reqwest::get(format!("{}/sw.js", srv.http()))
        .await
        .expect("GET sw")
        .text()
        .await
        .expect("sw");
    assert!(!sw.contains("__VERSION__") && sw.contains("gridvisit-shell-"));
    assert!(
        sw.contains("const DESK = [\"./gridvisit-desk.js\", \"./gridvisit-desk_bg.wasm\"]"),
        "{sw}"
    );
}

/// A households sheet for the admin scenario: 1,000 rows of grid `s01/c01/g01`, 3 of them bad
/// (rows 12, 502 and 1001 of the sheet).
fn households_sheet(
    rows: usize,
    members: usize,
    contact_of_first: Option<&str>,
) -> shared::export::Table {
    let mut t = gridvisit_tests::household_sheet(rows, "s01/c01/g01", members, |_| String::new());
    if let Some(c) = contact_of_first {
        t.rows[0][5] = c.into();
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_an_empty_city_and_a_phone_signs_in_by_qr_code() {
    let srv = TestServer::start_empty(Settings {
        app_dir: Some(app_dir()),
        provision_ttl_ms: 20_000,
        ..Settings::default()
    })
    .await;
    let dir = gridvisit_tests::harness::TempDir::new("admin-setup");
    let mut sheet = households_sheet(1000, 3, None);
    sheet.rows[10][4] = String::new();
    sheet.rows[500][6] = "很多".into();
    sheet.rows[999][0] = "s01/c01/g99".into();
    let xlsx = dir.0.join("households.xlsx");
    std::fs::write(&xlsx, shared::export::xlsx(&sheet, "住户")).expect("write xlsx");
    let csv = dir.0.join("changed.csv");
    std::fs::write(
        &csv,
        shared::export::csv(&households_sheet(1, 4, Some("13712345678"))),
    )
    .expect("write csv");
    scenario_with(
        "admin-setup",
        &srv.http(),
        None,
        &[
            (
                "GV_ADMIN_PASSWORD",
                gridvisit_tests::harness::ADMIN_PASSWORD.to_owned(),
            ),
            ("GV_XLSX", xlsx.display().to_string()),
            ("GV_CSV", csv.display().to_string()),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_app_updates_itself_before_it_syncs_and_keeps_its_waiting_changes() {
    // A copy of the built app, which the scenario replaces with a "new release".
    let dir = TempDir::new("app-update");
    for entry in std::fs::read_dir(app_dir()).expect("the built app") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.0.join(entry.file_name())).expect("copy");
    }
    let srv = TestServer::start_with(Settings {
        app_dir: Some(dir.0.clone()),
        ..Settings::default()
    })
    .await;
    scenario_with(
        "app-update",
        &srv.http(),
        None,
        &[("GV_APP_DIR", dir.0.display().to_string())],
    )
    .await;
}
