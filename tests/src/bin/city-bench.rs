//! A whole city (issue 13), against a data folder `gridvisit generate` wrote:
//! `cargo run --release -p gridvisit-tests --bin city-bench -- --data DIR [--phones 100]`.
//!
//! Starts the server binary on the folder as its own process and prints: its start time and
//! resident memory at rest; `--phones` grid workers' phones (distinct grids) connecting and
//! completing their first sync (time, records held, bytes), the server's memory with them all
//! connected; one phone's reconnect with nothing changed (bytes); and the `city` supervisor's
//! first sync and pushed overview (time, bytes, records held).

use std::time::{Duration, Instant};

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{ProcessServer, demo_login};
use gridvisit_tests::load::servers::rss_of;

/// A whole city's memory, phones and supervisor overview.
#[derive(clap::Parser)]
#[command(name = "city-bench")]
struct Args {
    /// A data folder written by `gridvisit generate`.
    #[arg(long)]
    data: std::path::PathBuf,
    /// Phones of distinct grids to connect.
    #[arg(long, default_value_t = 100)]
    phones: usize,
    /// Then time the `city` supervisor's overview in headless Chromium (`cargo xtask app`
    /// first): sign-in to a complete overview, its bytes, drilling in, an edit to the figures.
    #[arg(long)]
    browser: bool,
}

fn mib(b: u64) -> f64 {
    b as f64 / 1024.0 / 1024.0
}

fn held(c: &WsClient) -> usize {
    c.state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .hub
        .documents()
        .count()
}

fn bytes(c: &WsClient) -> (u64, u64) {
    c.state.lock().unwrap_or_else(|e| e.into_inner()).bytes
}

async fn synced(c: &WsClient, what: &str) -> anyhow::Result<()> {
    c.wait_for(what, Duration::from_secs(300), |s| {
        s.hub.cursor().is_some() && WsClient::idle(s)
    })
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Args = clap::Parser::parse();
    let bin = std::env::current_exe()?
        .parent()
        .map(|d| d.join("gv-test-server"))
        .ok_or_else(|| anyhow::anyhow!("no binary folder"))?;
    anyhow::ensure!(
        bin.exists(),
        "build gv-test-server first (cargo build --release -p gridvisit-tests)"
    );
    let t = Instant::now();
    let app = gridvisit_tests::repo_root().join("target/app");
    let flags: Vec<&std::ffi::OsStr> = if args.browser {
        vec!["--app".as_ref(), app.as_os_str()]
    } else {
        Vec::new()
    };
    let srv = ProcessServer::spawn_with(&bin, &args.data, &flags).await;
    let pid = srv.child.id().unwrap_or(0);
    println!(
        "start: {:.1} s; RSS at rest {:.1} MiB",
        t.elapsed().as_secs_f64(),
        mib(rss_of(pid))
    );
    let http = srv.http();
    let grids = server::demo::layout(server::demo::Size::Full);
    let mut phones = Vec::new();
    let t = Instant::now();
    let mut first_sync = Vec::new();
    for (i, g) in grids.iter().cycle().take(args.phones).enumerate() {
        let user = format!("w-{}", g.as_str().replace('/', "-"));
        let token = demo_login(&http, &user).await;
        let c = WsClient::new(&format!("phone-{i}"), &user, true, i as u8);
        {
            let mut st = c.state.lock().unwrap_or_else(|e| e.into_inner());
            st.keep_frames = false;
            st.hub.set_keeps(
                Some(shared::sync::Keeps::Field),
                shared::sync::DEFAULT_WINDOW_DAYS,
            );
        }
        let one = Instant::now();
        c.connect(&srv.ws(&token)).await?;
        synced(&c, "a phone's first sync").await?;
        first_sync.push(one.elapsed().as_secs_f64());
        phones.push(c);
    }
    let records: Vec<usize> = phones.iter().map(held).collect();
    let down: u64 = phones.iter().map(|c| bytes(c).1).sum();
    first_sync.sort_by(f64::total_cmp);
    println!(
        "{} phones synced in {:.1} s: first sync median {:.2} s, max {:.2} s; records held per phone {}..{} (mean {:.0}); {:.1} KB down per phone",
        phones.len(),
        t.elapsed().as_secs_f64(),
        first_sync[first_sync.len() / 2],
        first_sync.last().copied().unwrap_or(0.0),
        records.iter().min().unwrap_or(&0),
        records.iter().max().unwrap_or(&0),
        records.iter().sum::<usize>() as f64 / records.len().max(1) as f64,
        down as f64 / 1000.0 / phones.len().max(1) as f64,
    );
    println!(
        "RSS with {} phones connected after their first sync: {:.1} MiB",
        phones.len(),
        mib(rss_of(pid))
    );
    // One phone reconnects with nothing changed.
    let p = &phones[0];
    let user = p
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .hub
        .peer_id()
        .to_string();
    p.disconnect();
    p.wait_for("closed", Duration::from_secs(10), |s| {
        !WsClient::connected(s)
    })
    .await?;
    let token = demo_login(&http, &format!("w-{}", grids[0].as_str().replace('/', "-"))).await;
    let before = p
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .events
        .len();
    p.connect(&srv.ws(&token)).await?;
    p.wait_for("in sync again", Duration::from_secs(60), move |s| {
        WsClient::idle(s)
            && s.events[before.min(s.events.len())..]
                .iter()
                .any(|e| matches!(e, shared::sync::Event::CursorSaved { .. }))
    })
    .await?;
    let (up, down) = bytes(p);
    println!("reconnect with nothing changed ({user}): {up} B up, {down} B down");
    // The city supervisor: its queue, then its overview pushed.
    let token = demo_login(&http, "city").await;
    let city = WsClient::new("city", "city", true, 250);
    city.state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keep_frames = false;
    let t = Instant::now();
    city.connect(&srv.ws(&token)).await?;
    synced(&city, "the city's queue").await?;
    let queue = t.elapsed().as_secs_f64();
    city.watch_area("");
    city.wait_for("the city's figures", Duration::from_secs(30), |s| {
        WsClient::last_figures(s).is_some()
    })
    .await?;
    let (up, down) = bytes(&city);
    let total = {
        let st = city.state.lock().unwrap_or_else(|e| e.into_inner());
        WsClient::last_figures(&st).map(|f| (f.total.households, f.streets.len()))
    };
    println!(
        "city supervisor: queue synced in {queue:.2} s ({} records), figures pushed at {:.2} s; {up} B up, {down} B down over the socket; households {:?}",
        held(&city),
        t.elapsed().as_secs_f64(),
        total
    );
    println!("RSS at the end: {:.1} MiB", mib(rss_of(pid)));
    city.disconnect();
    drop(phones);
    if args.browser {
        let out = tokio::process::Command::new("node")
            .args(["browser.mjs", "city-overview", &http])
            .current_dir(gridvisit_tests::js_dir())
            .env(
                "CHROMIUM",
                std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            )
            .output()
            .await?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        anyhow::ensure!(out.status.success(), "the city-overview scenario failed");
    }
    Ok(())
}
