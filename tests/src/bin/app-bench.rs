//! The field app's cold start, in Debian's headless Chromium: `cargo xtask app`, then
//! `cargo run --release -p gridvisit-tests --bin app-bench [--households 1000] [--visits 2000]`.
//!
//! A worker's grid is filled with N households and M visits (3,000 records by default) through a
//! real WebSocket client; the app signs in and syncs them all into IndexedDB; then the browser
//! is closed and reopened on the same profile five times (service worker cache warm, process
//! cold), and each time the page reports how long after navigation the household list was on
//! screen and clickable, and when every document was loaded into the sync engine.

use std::time::{Duration, Instant};

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{TestServer, demo_login};
use gridvisit_tests::{js_dir, repo_root};
use shared::ids::{DocumentId, GridId};
use shared::model::{HouseholdDraft, Outcome, VisitDraft};
use shared::time::Millis;

/// The field app's cold start with a big grid.
#[derive(clap::Parser)]
#[command(name = "app-bench")]
struct Args {
    /// Households in the worker's grid.
    #[arg(long, default_value_t = 1000)]
    households: u64,
    /// Visits to them.
    #[arg(long, default_value_t = 2000)]
    visits: u64,
    /// Instead, a grid of `--households` written by `gridvisit generate` with this many weeks
    /// of weekly visits and their issues (52: a grid-year, 15,600 visits and about 800 issues);
    /// the phone holds only its window of it.
    #[arg(long)]
    generated_weeks: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Args {
        households,
        visits,
        generated_weeks,
    } = clap::Parser::parse();
    let app = repo_root().join("target/app");
    anyhow::ensure!(
        app.join("index.html").exists(),
        "build the app first: cargo xtask app"
    );
    if let Some(weeks) = generated_weeks {
        let t = Instant::now();
        let srv = TestServer::start_generated(
            server::Settings {
                app_dir: Some(app),
                ..server::Settings::default()
            },
            server::generate::Plan {
                grids: 1,
                households: usize::try_from(households)?,
                weeks,
                now: server::engine::now(),
                seed: 1,
            },
        )
        .await;
        eprintln!(
            "generated {} records in {:.1} s",
            srv.state.store.doc_count()?,
            t.elapsed().as_secs_f64()
        );
        return coldstart(srv, "w-s01-c01-g01").await;
    }
    let srv = TestServer::start_with(server::Settings {
        app_dir: Some(app),
        ..server::Settings::default()
    })
    .await;
    let user = "w-s01-c01-g02";
    let grid: GridId = "s01/c01/g02".parse()?;
    let token = demo_login(&srv.http(), user).await;
    let client = WsClient::new("bench-seeder", user, true, 91);
    client.connect(&srv.ws(&token)).await?;
    client.wait_ready(Duration::from_secs(20)).await?;
    let t = Instant::now();
    let now = server::engine::now();
    let mut ids = Vec::new();
    for n in 0..households {
        let id = DocumentId::from_bytes(rand16(n, 1));
        let draft = HouseholdDraft {
            grid: grid.clone(),
            building: format!("{}", n / 40 + 1),
            unit: format!("{}", n / 20 % 2 + 1),
            room: format!("{}0{}", n / 4 % 5 + 1, n % 4 + 1),
            head: format!("住户{n}"),
            contact: "13800000000".into(),
            members: (n % 5 + 1) as i64,
            tags: if n % 7 == 0 {
                vec!["elderly-alone".into()]
            } else {
                vec![]
            },
            notes: String::new(),
        };
        client.create(id, |tx| draft.write(tx))?;
        ids.push(id);
    }
    for n in 0..visits {
        let household = ids[(n % households.max(1)) as usize];
        let at = Millis(now.0 - (n as i64 % 60) * Millis::DAY - 3_600_000);
        let draft = VisitDraft {
            grid: grid.clone(),
            household,
            visitors: vec![user.into()],
            started_at: at,
            ended_at: Some(at.plus(600_000)),
            location: None,
            outcome: if n % 5 == 0 {
                Outcome::NotHome
            } else {
                Outcome::Met
            },
            items: vec![],
            notes: String::new(),
            household_tags: Vec::new(),
        };
        client.create(DocumentId::from_bytes(rand16(n, 2)), |tx| draft.write(tx))?;
    }
    client
        .wait_for(
            "the server to hold every record",
            Duration::from_secs(300),
            WsClient::idle,
        )
        .await?;
    eprintln!(
        "seeded {} records in {:.1} s",
        households + visits,
        t.elapsed().as_secs_f64()
    );
    client.disconnect();
    coldstart(srv, user).await
}

/// Runs the cold-start scenario as `user`.
async fn coldstart(srv: TestServer, user: &str) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("node")
        .args(["browser.mjs", "coldstart", &srv.http()])
        .env("GV_USER", user)
        .current_dir(js_dir())
        .output()
        .await?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    srv.stop().await;
    anyhow::ensure!(out.status.success(), "the cold-start scenario failed");
    Ok(())
}

/// Distinct IDs without a random source (the benchmark is repeatable).
fn rand16(n: u64, kind: u8) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = kind;
    b[1] = 0x9e;
    b[8..].copy_from_slice(&n.to_be_bytes());
    b
}
