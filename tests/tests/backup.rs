//! Backup and restore against the real server binary: a backup taken while the server runs
//! and a phone writes, more writes after it, the server stopped and the backup restored (a new
//! epoch), and the phone reconnecting with the login it had: the restored server ends up with
//! everything the phone held, what it wrote after the backup included.

use std::path::Path;
use std::time::Duration;

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{
    ADMIN_PASSWORD, ProcessServer, TempDir, demo_login, get_json, login,
};
use shared::ids::{DocumentId, GridId};
use shared::model::HouseholdDraft;

const T: Duration = Duration::from_secs(30);
const W1: &str = "w-s01-c01-g01";

fn id(n: u8) -> DocumentId {
    let mut b = [n; 16];
    b[0] = n.wrapping_mul(53);
    b[15] = std::process::id() as u8;
    DocumentId::from_bytes(b)
}

fn draft(room: &str) -> HouseholdDraft {
    HouseholdDraft {
        grid: "s01/c01/g01".parse::<GridId>().expect("grid"),
        building: "12".into(),
        unit: "3".into(),
        room: room.into(),
        head: "孙春生".into(),
        contact: "13700001111".into(),
        members: 3,
        tags: vec![],
        notes: String::new(),
    }
}

/// Runs the binary with `args`, expecting success; returns its standard output.
async fn run(bin: &Path, args: &[&std::ffi::OsStr]) -> String {
    let out = tokio::process::Command::new(bin)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

async fn members(srv: &ProcessServer, token: &str, doc: DocumentId) -> Option<i64> {
    let (status, body) = get_json(&srv.http(), &format!("/api/records/{doc}"), token).await;
    (status == 200).then(|| body["record"]["members"]["value"].as_i64().unwrap_or(-1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_server_gets_back_everything_its_reconnecting_clients_hold() {
    let data = TempDir::new("backup");
    let file = data.0.join("city.backup");
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_gv-test-server"));
    let mut srv = ProcessServer::spawn(&bin, &data.0).await;
    let token = demo_login(&srv.http(), W1).await;
    let phone = WsClient::new("phone", W1, true, 5);
    phone.connect(&srv.ws(&token)).await.expect("connects");
    phone.wait_ready(T).await.expect("ready");

    // 1. Before the backup: a household. The backup is taken while the server runs.
    let (before, after) = (id(1), id(2));
    phone
        .create(before, |tx| draft("101").write(tx))
        .expect("create");
    phone
        .wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("acked");
    // A resident's report with a photo: its tracking code and photo are in the backup too.
    let photo = vec![0xff, 0xd8, 0xff, 0xe0, b'b', b'k'];
    let form = reqwest::multipart::Form::new()
        .text("service_code", "livelihood")
        .text("description", "电梯停运 the lift is stopped")
        .text("attribute[grid]", "s01/c01/g01")
        .part(
            "media",
            reqwest::multipart::Part::bytes(photo.clone()).file_name("p.jpg"),
        );
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/open311/v2/requests.json", srv.http()))
        .multipart(form)
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("json");
    let code = answer[0]["service_request_id"]
        .as_str()
        .expect("code")
        .to_owned();
    let (d, f) = (data.0.as_os_str(), file.as_os_str());
    let said = run(
        &bin,
        &["--data".as_ref(), d, "backup".as_ref(), "--out".as_ref(), f],
    )
    .await;
    assert!(
        said.contains("backed up") && said.contains("1 photos"),
        "{said}"
    );

    // 2. After it: a new household, and an edit of the first.
    phone
        .create(after, |tx| draft("102").write(tx))
        .expect("create");
    phone
        .edit(before, |tx| {
            shared::model::household::edit::set_members(tx, 5)
        })
        .expect("edit");
    phone
        .wait_for("acknowledged", T, WsClient::idle)
        .await
        .expect("acked");
    let old_epoch = phone
        .state
        .lock()
        .expect("lock")
        .hub
        .cursor()
        .map(|c| c.epoch.clone());

    // 3. The server stops, and the backup is restored into its folder.
    srv.kill9().await;
    let said = run(
        &bin,
        &[
            "--data".as_ref(),
            d,
            "restore".as_ref(),
            "--from".as_ref(),
            f,
        ],
    )
    .await;
    assert!(said.contains("restored"), "{said}");
    let srv = ProcessServer::spawn(&bin, &data.0).await;
    let admin = login(&srv.http(), "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        members(&srv, &admin, before).await,
        Some(3),
        "as of the backup"
    );
    assert_eq!(
        members(&srv, &admin, after).await,
        None,
        "written after the backup"
    );
    let status = reqwest::get(format!("{}/open311/v2/requests/{code}.json", srv.http()))
        .await
        .expect("status");
    assert_eq!(
        status.status(),
        200,
        "the tracking code still finds its report"
    );
    let body: serde_json::Value = status.json().await.expect("json");
    let hash = body[0]["gridvisit"]["photos"][0]
        .as_str()
        .expect("photo")
        .to_owned();
    let got = reqwest::get(format!("{}/report/status/{code}/photo/{hash}", srv.http()))
        .await
        .expect("photo");
    assert_eq!(
        got.bytes().await.expect("bytes").to_vec(),
        photo,
        "the photo is back"
    );

    // 4. The phone reconnects with the login it had: the new epoch makes it compare digests,
    //    and it sends what the restored server lacks.
    phone
        .connect(&srv.ws(&token))
        .await
        .expect("the login was restored");
    phone
        .wait_for("a sync with the restored server", T, |s| {
            WsClient::idle(s) && s.hub.cursor().map(|c| c.epoch.clone()) != old_epoch
        })
        .await
        .expect("synced");
    assert_eq!(
        members(&srv, &admin, before).await,
        Some(5),
        "the edit is back"
    );
    assert_eq!(
        members(&srv, &admin, after).await,
        Some(3),
        "the new household is back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_foreign_backup_is_refused_before_anything_is_replaced() {
    let data = TempDir::new("backup-bad");
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_gv-test-server"));
    let d = data.0.join("city");
    let good = data.0.join("good.backup");
    let args = |cmd: &'static str, flag: &'static str, path: &Path| -> Vec<std::ffi::OsString> {
        vec![
            "--data".into(),
            d.clone().into(),
            cmd.into(),
            flag.into(),
            path.into(),
        ]
    };
    let mut srv = ProcessServer::spawn(&bin, &d).await;
    let a = args("backup", "--out", &good);
    run(&bin, &a.iter().map(|s| s.as_os_str()).collect::<Vec<_>>()).await;
    // A restore while the server runs is refused.
    let r = args("restore", "--from", &good);
    let out = tokio::process::Command::new(&bin)
        .args(&r)
        .output()
        .await
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stop the server"),
        "{out:?}"
    );
    srv.kill9().await;
    // A truncated file and a file that is no backup change nothing.
    let bytes = std::fs::read(&good).expect("backup");
    let torn = data.0.join("torn.backup");
    std::fs::write(&torn, &bytes[..bytes.len() - 10]).expect("write");
    let flipped = data.0.join("flipped.backup");
    let mut f = bytes.clone();
    let mid = f.len() / 2;
    f[mid] ^= 0xff;
    std::fs::write(&flipped, &f).expect("write");
    let foreign = data.0.join("foreign.backup");
    std::fs::write(&foreign, b"PK\x03\x04 not a backup").expect("write");
    for (path, says) in [
        (&torn, "incomplete"),
        (&flipped, "damaged"),
        (&foreign, "not a gridvisit backup"),
    ] {
        let out = tokio::process::Command::new(&bin)
            .args(args("restore", "--from", path))
            .output()
            .await
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{path:?}: {err}"
        );
    }
    let kept: Vec<_> = std::fs::read_dir(&d)
        .expect("folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("replaced"))
        .collect();
    assert!(kept.is_empty(), "nothing was replaced: {kept:?}");
}
