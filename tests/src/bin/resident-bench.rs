//! Residents' reports at a city's scale (issue 15):
//! `cargo run --release -p gridvisit-tests --bin resident-bench -- [--reports 100000]`.
//!
//! Starts a server in-process with the small demo city, stores `--reports` residents' reports
//! (issue documents and their tracking codes, written straight to the store), then prints:
//! - the report page: bytes of the page, its script and its style sheet;
//! - a report's way to the grid's queue: from `POST /open311/v2/requests.json` to the grid
//!   worker's connected client holding it (p50, p99 of `--posts` reports);
//! - the status page (`GET /report/status/{code}`) with that many reports stored: p50, p99
//!   and max of `--lookups` random codes.

use std::time::{Duration, Instant};

use automerge::AutoCommit;
use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{TestServer, demo_login};
use server::store::{ChunkWrite, ReportRow};
use shared::ids::DocumentId;
use shared::model::issue::{Detail, IssueSource};
use shared::model::{Area, EventKind, IssueDraft, IssueEvent, Record};

#[derive(clap::Parser)]
#[command(name = "resident-bench")]
struct Args {
    /// Reports stored before the status page is timed.
    #[arg(long, default_value_t = 100_000)]
    reports: usize,
    /// Reports posted over HTTP while the grid's worker is connected.
    #[arg(long, default_value_t = 100)]
    posts: usize,
    /// Status pages fetched.
    #[arg(long, default_value_t = 1_000)]
    lookups: usize,
}

const GRIDS: [&str; 4] = ["s01/c01/g01", "s01/c01/g02", "s01/c01/g03", "s01/c02/g01"];

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Stores `n` reports as the server would have written them, with their codes.
fn store_reports(srv: &TestServer, n: usize) -> anyhow::Result<Vec<String>> {
    let store = srv.state.store.clone();
    let dashboard = shared::aggregate::Dashboard::new(shared::time::Calendar::CHINA);
    let now = server::engine::now();
    let mut codes = Vec::with_capacity(n);
    let (mut chunks, mut rows) = (Vec::new(), Vec::new());
    for i in 0..n {
        let grid = GRIDS[i % GRIDS.len()];
        let at = now.plus(-((i % 5_000) as i64) * 60_000);
        let draft = IssueDraft {
            grid: grid.parse()?,
            source: IssueSource::Qr,
            area: Area::ALL[i % 5],
            description: format!("居民反映 {i}：楼道堆放杂物 clutter in the stairwell"),
            household: None,
            location: String::new(),
            detail: Detail {
                contact: "13800000000".into(),
                ..Detail::default()
            },
            report: IssueEvent::new(
                format!("res-{i}"),
                EventKind::Report,
                at,
                "resident".into(),
                None,
            ),
        };
        let mut doc = AutoCommit::new();
        draft.write(&mut doc)?;
        let bytes = doc.save();
        let record = Record::read(doc.document())?;
        let mut id = [0xbe; 16];
        id[8..].copy_from_slice(&(i as u64).to_be_bytes());
        let id = DocumentId::from_bytes(id);
        chunks.push(ChunkWrite::of(
            id,
            bytes,
            shared::sync::heads_digest(&doc.get_heads()),
            Some(record.meta()),
            Some(&record),
            &dashboard,
        ));
        let code = server::resident::new_code()?;
        rows.push((
            server::store::token_key(&code),
            ReportRow {
                doc: id,
                grid: grid.to_owned(),
                at: at.0,
            },
        ));
        codes.push(code);
        if chunks.len() == 2_000 {
            store.commit(&std::mem::take(&mut chunks), &[], now.0)?;
            store.put_reports(&std::mem::take(&mut rows))?;
        }
    }
    store.commit(&chunks, &[], now.0)?;
    store.put_reports(&rows)?;
    Ok(codes)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Args = clap::Parser::parse();
    let srv = TestServer::start_with(server::Settings {
        reports_per_ip_grid: u32::MAX,
        reports_per_ip: u32::MAX,
        reports_per_grid: u32::MAX,
        ..server::Settings::default()
    })
    .await;
    let http = srv.http();
    let client = reqwest::Client::new();

    // The report page.
    let mut page = 0;
    for path in [
        "/report/s01/c01/g01",
        "/report/assets/report.js",
        "/report/assets/report.css",
    ] {
        page += client
            .get(format!("{http}{path}"))
            .send()
            .await?
            .bytes()
            .await?
            .len();
    }
    println!(
        "report page: {page} bytes (page, script and style, uncompressed; goal at most 51200)"
    );

    // From the resident's post to the grid worker's client.
    let worker = WsClient::new("worker", "w-s01-c01-g01", true, 9);
    let token = demo_login(&http, "w-s01-c01-g01").await;
    worker.connect(&srv.ws(&token)).await?;
    worker.wait_ready(Duration::from_secs(30)).await?;
    let mut arrive = Vec::with_capacity(args.posts);
    for i in 0..args.posts {
        let before = worker
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("lock"))?
            .hub
            .documents()
            .count();
        let t = Instant::now();
        let form = reqwest::multipart::Form::new()
            .text("service_code", "infrastructure")
            .text("description", format!("路灯不亮 {i} a street light is out"))
            .text("attribute[grid]", "s01/c01/g01");
        let r = client
            .post(format!("{http}/open311/v2/requests.json"))
            .multipart(form)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "report: {}", r.status());
        worker
            .wait_for("the report in the queue", Duration::from_secs(30), |st| {
                st.hub.documents().count() > before
            })
            .await?;
        arrive.push(t.elapsed());
    }
    arrive.sort();
    println!(
        "report to the grid's queue: p50 {:.1} ms, p99 {:.1} ms over {} reports (goal at most 1000 ms)",
        pct(&arrive, 0.5),
        pct(&arrive, 0.99),
        args.posts
    );

    // The status page with many reports stored.
    let t = Instant::now();
    let codes = store_reports(&srv, args.reports)?;
    println!(
        "stored {} reports in {:.1} s",
        codes.len(),
        t.elapsed().as_secs_f64()
    );
    let mut times = Vec::with_capacity(args.lookups);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..args.lookups {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let code = &codes[(x % codes.len() as u64) as usize];
        let t = Instant::now();
        let r = client
            .get(format!("{http}/report/status/{code}"))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "status page: {}", r.status());
        let body = r.text().await?;
        times.push(t.elapsed());
        anyhow::ensure!(body.contains("楼道堆放杂物"), "the report's own text");
    }
    times.sort();
    println!(
        "status page with {} reports stored: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} lookups (goal at most 200 ms)",
        codes.len(),
        pct(&times, 0.5),
        pct(&times, 0.99),
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        args.lookups
    );
    srv.stop().await;
    Ok(())
}
