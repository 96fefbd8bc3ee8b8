//! Server benchmarks that print their figures.
//!
//! - `server-bench throughput [--clients 200] [--seconds 10] [--shared-grids]`: durable changes per second with
//!   N concurrent WebSocket clients, each editing and waiting for the server's acknowledgement
//!   before its next edit (closed loop), against an in-process server on 127.0.0.1:0.
//! - `server-bench first-sync [--households 3000]`: a new phone's first sync of a grid of N
//!   households from the real server binary over a real socket, in bulk and one document at a
//!   time: bytes, frames and time, against the documents' saved size.
//! - `server-bench replay [--phones 500] [--households 10] [--rounds 30] [--runs 3]`: one
//!   recorded stream of phones registering and editing households, fed in-process to the
//!   engine over the real database at 1 and at 2 engine threads: durable changes per second,
//!   CPU per change, and a check that nothing was lost or diverged.
//! - `server-bench memory [--records 100000]`: resident memory of the server process (the
//!   real binary) at rest with 1,000 and with N stored records, and after 20 clients synced.

#[global_allocator]
static ALLOCATOR: server::Allocator = server::Allocator;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gridvisit_tests::client::WsClient;
use gridvisit_tests::harness::{ProcessServer, TempDir, TestServer, demo_login};
use shared::ids::{DocumentId, GridId};
use shared::model::household::edit;

use gridvisit_tests::load::household_draft as draft;

async fn throughput(clients: u64, seconds: u64, shared_grids: bool) -> anyhow::Result<()> {
    // One worker per grid (the full city has 514 grids), or every client in the 12 grids of the
    // small city, where each change also fans out live to the grid's other clients.
    let size = if shared_grids {
        server::demo::Size::Small
    } else {
        server::demo::Size::Full
    };
    let srv = TestServer::start_city(server::Settings::default(), size).await;
    let grids = server::demo::layout(size);
    let mut tokens = Vec::new();
    for g in &grids {
        tokens.push((
            g.clone(),
            demo_login(&srv.http(), &format!("w-{}", g.as_str().replace('/', "-"))).await,
        ));
    }
    let mut phones = Vec::new();
    for i in 0..clients {
        let (grid, token) = &tokens[i as usize % tokens.len()];
        let c = WsClient::new(
            &format!("bench-{i}"),
            &format!("w-{}", grid.as_str().replace('/', "-")),
            true,
            i as u8,
        );
        c.connect(&srv.ws(token)).await?;
        let d = DocumentId::from_bytes({
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&(i + 1).to_le_bytes());
            b[8] = 0xbe;
            b
        });
        c.create(d, |tx| draft(grid, i).write(tx))?;
        phones.push((c, d));
    }
    for (c, _) in &phones {
        c.wait_for("initial sync", Duration::from_secs(60), WsClient::idle)
            .await?;
    }
    let start_changes = srv.state.metrics.changes.load(Ordering::Relaxed);
    let start_commits = srv.state.metrics.commits.load(Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (c, d) in phones {
        tasks.push(tokio::spawn(async move {
            let mut n = 0i64;
            while Instant::now() < deadline {
                n += 1;
                if c.edit(d, |tx| edit::set_members(tx, n % 50)).is_err() {
                    break;
                }
                if c.wait_for("ack", Duration::from_secs(30), WsClient::idle)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let changes = srv.state.metrics.changes.load(Ordering::Relaxed) - start_changes;
    let commits = srv.state.metrics.commits.load(Ordering::Relaxed) - start_commits;
    let mode = if shared_grids {
        "sharing 12 grids"
    } else {
        "one grid each"
    };
    println!(
        "throughput: {clients} clients ({mode}), {elapsed:.1} s: {changes} durable changes = {:.0} changes/s in {commits} commits ({:.1} changes per fsync)",
        changes as f64 / elapsed,
        changes as f64 / commits.max(1) as f64
    );
    srv.stop().await;
    Ok(())
}

/// Edit-to-dashboard latency: `workers` phones, one in each grid of the full demo city's first
/// street, record visits at `rate` per second in all (open loop, paced); the street
/// supervisor's client, connected to the same server, is the dashboard: it watches its street's
/// figures, which the server pushes (`gv-figures`). Latency is from the moment a phone commits
/// a visit to the first push whose visits of today count it (visits taken in the order they
/// were made).
async fn latency(rate: u64, workers: u64, seconds: u64) -> anyhow::Result<()> {
    let srv = TestServer::start_city(server::Settings::default(), server::demo::Size::Full).await;
    let grids: Vec<GridId> = server::demo::layout(server::demo::Size::Full)
        .into_iter()
        .filter(|g| g.street() == "s01")
        .collect();
    anyhow::ensure!(
        grids.len() as u64 >= workers,
        "street s01 has {} grids: at most that many workers",
        grids.len()
    );
    let boss_token = demo_login(&srv.http(), "street-s01").await;
    let boss = WsClient::new("dashboard", "street-s01", true, 250);
    boss.connect(&srv.ws(&boss_token)).await?;
    boss.wait_for("the dashboard's first sync", Duration::from_secs(60), |s| {
        s.hub.cursor().is_some()
    })
    .await?;
    boss.watch_area("");
    boss.wait_for("the dashboard's figures", Duration::from_secs(60), |s| {
        !s.figures_seen.is_empty()
    })
    .await?;
    let base = {
        let st = boss.state.lock().unwrap_or_else(|e| e.into_inner());
        st.figures_seen.last().map_or(0, |f| f.1)
    };
    let mut phones = Vec::new();
    for i in 0..workers {
        let grid = grids[i as usize % grids.len()].clone();
        let user = format!("w-{}", grid.as_str().replace('/', "-"));
        let token = demo_login(&srv.http(), &user).await;
        let c = WsClient::new(&format!("lat-{i}"), &user, true, i as u8);
        c.connect(&srv.ws(&token)).await?;
        c.wait_ready(Duration::from_secs(30)).await?;
        phones.push((c, grid, user));
    }
    let per_worker = Duration::from_secs_f64(workers as f64 / rate as f64);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (i, (c, grid, user)) in phones.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            // Spread the phones' ticks over one period so the load is even.
            let offset = per_worker.mul_f64(i as f64 / workers as f64);
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + offset, per_worker);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut sent = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                tick.tick().await;
                n += 1;
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&(i as u64).to_le_bytes());
                b[8..].copy_from_slice(&n.to_le_bytes());
                let id = DocumentId::from_bytes(b);
                let now = server::engine::now();
                let draft = shared::model::VisitDraft {
                    grid: grid.clone(),
                    household: DocumentId::from_bytes([7; 16]),
                    visitors: vec![user.clone()],
                    started_at: now,
                    ended_at: Some(now),
                    location: None,
                    outcome: shared::model::Outcome::Met,
                    items: vec![],
                    notes: String::new(),
                    household_tags: Vec::new(),
                };
                let at = Instant::now();
                if c.create(id, |tx| draft.write(tx)).is_err() {
                    break;
                }
                sent.push((id, at));
            }
            sent
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await?);
    }
    let offered = sent.len() as f64 / started.elapsed().as_secs_f64();
    sent.sort_by_key(|(_, at)| *at);
    let want = base + sent.len() as u64;
    if let Err(e) = boss
        .wait_for(
            "every visit in the dashboard's figures",
            Duration::from_secs(60),
            move |s| s.figures_seen.last().is_some_and(|f| f.1 >= want),
        )
        .await
    {
        anyhow::bail!(
            "{e}: the server stored {}",
            srv.state.metrics.changes.load(Ordering::Relaxed)
        );
    }
    let mut ms: Vec<f64> = {
        let st = boss.state.lock().unwrap_or_else(|e| e.into_inner());
        sent.iter()
            .enumerate()
            .filter_map(|(i, (_, at))| {
                let seen = st.figures_seen.iter().find(|(_, n)| *n > base + i as u64)?;
                Some(seen.0.saturating_duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    println!(
        "latency: {} visits from {workers} phones at {offered:.0}/s offered ({rate}/s asked) for {seconds} s: edit-to-figures p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms.len(),
        q(0.50),
        q(0.99),
        q(1.0)
    );
    srv.stop().await;
    Ok(())
}

async fn memory_at(records: u64) -> anyhow::Result<(u64, u64)> {
    let data = TempDir::new("bench-mem");
    gridvisit_tests::load::fill_gridvisit(&data.0, records)?;
    let bin = std::env::current_exe()?.with_file_name("gv-test-server");
    let srv = ProcessServer::spawn(&bin, &data.0).await;
    let pid = srv.child.id().unwrap_or(0);
    let at_rest = gridvisit_tests::load::servers::rss_of(pid) / 1024;
    // Twenty workers of different grids sync their scope.
    let grids = server::demo::layout(server::demo::Size::Full);
    let mut phones = Vec::new();
    for (i, g) in grids.iter().take(20).enumerate() {
        let user = format!("w-{}", g.as_str().replace('/', "-"));
        let token = demo_login(&srv.http(), &user).await;
        let c = WsClient::new(&format!("mem-{i}"), &user, true, i as u8);
        c.connect(&srv.ws(&token)).await?;
        phones.push(c);
    }
    for c in &phones {
        c.wait_for("cursor", Duration::from_secs(120), |s| {
            s.hub.cursor().is_some()
        })
        .await?;
    }
    let synced = gridvisit_tests::load::servers::rss_of(pid) / 1024;
    Ok((at_rest, synced))
}

async fn first_sync(households: u64) -> anyhow::Result<()> {
    let data = TempDir::new("bench-first-sync");
    let grid: GridId = "s01/c01/g01".parse()?;
    gridvisit_tests::load::fill_grids(&data.0, households, std::slice::from_ref(&grid))?;
    let bin = std::env::current_exe()?.with_file_name("gv-test-server");
    let srv = ProcessServer::spawn(&bin, &data.0).await;
    let user = "w-s01-c01-g01";
    println!(
        "first sync of a new phone: {households} households of {grid}, real server and socket"
    );
    for (name, bulk) in [("bulk", true), ("per document", false)] {
        let token = demo_login(&srv.http(), user).await;
        let c = WsClient::with_config(&format!("first-{bulk}"), user, 1, |cfg| {
            cfg.bulk_first_sync = bulk;
        });
        c.state
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .keep_frames = false;
        let started = Instant::now();
        c.connect(&srv.ws(&token)).await?;
        c.wait_for("cursor", Duration::from_secs(300), |s| {
            s.hub.cursor().is_some()
        })
        .await?;
        let took = started.elapsed();
        let st = c.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let held = st.hub.documents().count();
        let saved: u64 = st.hub.documents().map(|(_, d)| d.save().len() as u64).sum();
        let (up, down) = st.bytes;
        println!(
            "{name:>12}: {held} records in {:.2} s; {} B ({:.2}x their saved size {saved} B; up {up} B, down {down} B); {} frames (up {}, down {})",
            took.as_secs_f64(),
            up + down,
            (up + down) as f64 / saved.max(1) as f64,
            st.frames.0 + st.frames.1,
            st.frames.0,
            st.frames.1
        );
    }
    Ok(())
}

async fn memory(records: u64) -> anyhow::Result<()> {
    for n in [1_000, records] {
        let (rest, synced) = memory_at(n).await?;
        println!(
            "memory: {n} records stored: {rest} KiB at rest, {synced} KiB after 20 workers synced their grids"
        );
    }
    Ok(())
}

/// The replay benchmark: one recorded stream of `phones` phones registering and editing
/// households, fed in-process to the engine at each thread count in turn (best of `runs`),
/// each over a fresh database and checked against the recording.
fn replay(phones: usize, households: usize, rounds: usize, runs: usize) -> anyhow::Result<()> {
    let recorded = Instant::now();
    let tape =
        shared::sim::record_tape(phones, households, rounds, 7).map_err(anyhow::Error::msg)?;
    println!(
        "replay: recorded {} inputs ({} documents, {} changes) in {:.1} s",
        tape.inputs.len(),
        tape.heads.len(),
        tape.changes,
        recorded.elapsed().as_secs_f64()
    );
    let mut best = Vec::new();
    for threads in [1, 2] {
        let mut fastest: Option<gridvisit_tests::load::replay::Replayed> = None;
        for _ in 0..runs.max(1) {
            let dir = TempDir::new("replay");
            let r = gridvisit_tests::load::replay::replay(&tape, threads, &dir.0)?;
            if fastest.is_none_or(|f| r.elapsed < f.elapsed) {
                fastest = Some(r);
            }
        }
        let r = fastest.unwrap_or_else(|| unreachable!("at least one run"));
        println!(
            "replay: {threads} engine thread(s): {} durable changes in {:.2} s = {:.0} changes/s, {:.0} µs CPU per change, {} commits; 0 lost, 0 diverged",
            r.changes,
            r.elapsed.as_secs_f64(),
            r.per_second(),
            r.cpu.as_micros() as f64 / r.changes.max(1) as f64,
            r.commits
        );
        best.push(r.per_second());
    }
    println!("replay: 2 threads / 1 thread = {:.2}x", best[1] / best[0]);
    Ok(())
}

/// Server benchmarks that print their figures.
#[derive(clap::Parser)]
#[command(name = "server-bench")]
enum Bench {
    /// Durable changes per second with N closed-loop clients.
    Throughput {
        #[arg(long, default_value_t = 200)]
        clients: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Every client in the 12 grids of the small city (each change fans out live).
        #[arg(long)]
        shared_grids: bool,
    },
    /// A new phone's first sync, in bulk and one document at a time.
    FirstSync {
        #[arg(long, default_value_t = 3_000)]
        households: u64,
    },
    /// Resident memory at rest and after 20 workers synced.
    Memory {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
    },
    /// One recorded stream of changes fed in-process at 1 and at 2 engine threads.
    Replay {
        #[arg(long, default_value_t = 500)]
        phones: usize,
        #[arg(long, default_value_t = 10)]
        households: usize,
        #[arg(long, default_value_t = 30)]
        rounds: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Edit-to-dashboard latency at a paced rate.
    Latency {
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 90)]
        workers: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match <Bench as clap::Parser>::parse() {
        Bench::Throughput {
            clients,
            seconds,
            shared_grids,
        } => throughput(clients, seconds, shared_grids).await,
        Bench::Memory { records } => memory(records).await,
        Bench::FirstSync { households } => first_sync(households).await,
        Bench::Replay {
            phones,
            households,
            rounds,
            runs,
        } => tokio::task::block_in_place(|| replay(phones, households, rounds, runs)),
        Bench::Latency {
            rate,
            workers,
            seconds,
        } => latency(rate, workers, seconds).await,
    }
}
