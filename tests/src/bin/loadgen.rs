//! `loadgen`: simulated field workers against gridvisit, the automerge-repo JS sync server and
//! samod, on the same work in the same run. Each scenario starts each server as a child process
//! on 127.0.0.1, runs, audits (no change lost, every replica converged) and prints one row per
//! server, then the ratios. Exits non-zero when any server lost a change or diverged.
//!
//! ```text
//! loadgen steady     [--workers 2000] [--seconds 60] [--burst 1000]   visits, bursts, patchy links
//!                    [--kills 20] [--abuse]      SIGKILLs of the server; silent sockets + a flood
//! loadgen throughput [--workers 2000] [--seconds 20]                 as fast as acknowledged
//! loadgen storm      [--workers 10000] [--offline-pct 10]             all reconnect after an outage
//! loadgen idle       [--workers 10000]                                memory per open socket
//! loadgen large      [--records 1000000]                              memory at rest
//! loadgen smoke                                                       short steady run (CI)
//!   [--against gridvisit,js,samod]
//! ```

#[global_allocator]
static ALLOCATOR: server::Allocator = server::Allocator;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use gridvisit_tests::harness::TempDir;
use gridvisit_tests::load::{
    self, Audit, Kind, Patchy, Phone, Server, SharedProbes, caught_up, cursors, quantile,
};

/// What one server did in one scenario.
#[derive(Default)]
struct Row {
    changes: usize,
    dropped: usize,
    unacknowledged: usize,
    durable_per_s: f64,
    latency: Vec<f64>,
    reconnects: Vec<u64>,
    rss_peak: u64,
    /// Server CPU time (user + system) per durable change over the steady phase, in µs.
    cpu_per_change: Option<f64>,
    per_conn: Option<f64>,
    storm: Option<f64>,
    audit: Option<Audit>,
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// Samples the server's memory every half second (a meter, not a wait), keeping the peak.
fn meter(server: &Server) -> (Arc<Mutex<u64>>, tokio::task::JoinHandle<()>) {
    let peak = Arc::new(Mutex::new(server.rss()));
    let pid_rss = {
        let data = server.rss_reader();
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                let now = data();
                let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                *p = (*p).max(now);
            }
        })
    };
    (peak, pid_rss)
}

struct Plan {
    seconds: f64,
    base: f64,
    burst: (f64, f64, f64),
    online: Duration,
    offline: (Duration, Duration),
}

/// One phone's run: visits at the plan's rate (Poisson, thinned to the burst), alternating
/// online and offline spells. Returns the phone and the bytes of each reconnect's catch-up.
async fn drive(
    mut p: Phone,
    url: String,
    native: bool,
    plan: Arc<Plan>,
    start: Instant,
    probes: SharedProbes,
    seed: u64,
) -> anyhow::Result<(Phone, Vec<u64>, usize, usize)> {
    let mut sched = Patchy::new(seed, plan.online, plan.offline);
    let mut coin = shared::sim::Rng::new(seed ^ 0x5eed);
    let deadline = start + Duration::from_secs_f64(plan.seconds);
    let (b_from, b_to, b_rate) = plan.burst;
    let max_rate = plan.base.max(b_rate);
    let mut switch_at = start + sched.next_online();
    let mut next = start + sched.next_action(max_rate);
    let mut catch_ups = Vec::new();
    let mut online = true;
    let mut dropped = 0;
    loop {
        let t = next.min(switch_at);
        if t >= deadline {
            break;
        }
        tokio::time::sleep_until(t.into()).await;
        if t == switch_at {
            if online && p.c.is_connected() {
                p.c.disconnect();
                online = false;
                switch_at = t + sched.next_offline();
            } else {
                if online {
                    // The server closed the socket: reconnect as the app does.
                    dropped += 1;
                }
                let before = cursors(&p.c);
                if p.c.connect(&url).await.is_ok() {
                    online = true;
                    switch_at = Instant::now() + sched.next_online();
                    let c = p.c.clone();
                    catch_ups.push(tokio::spawn(
                        async move { caught_up(&c, native, before).await },
                    ));
                } else {
                    switch_at = Instant::now() + Duration::from_secs(1);
                }
            }
            continue;
        }
        if online && !p.c.is_connected() {
            // Dropped by the server: the app retries after a second.
            switch_at = switch_at.min(t + Duration::from_secs(1));
        }
        let since = t.duration_since(start).as_secs_f64();
        let rate = if since >= b_from && since < b_to {
            b_rate
        } else {
            plan.base
        };
        if coin.chance(rate / max_rate) {
            let linked = p.c.is_connected();
            let (h, at) = p.record_visit()?;
            if linked {
                load::probe(&probes, p.household, h, at);
            }
        }
        next = t + sched.next_action(max_rate);
    }
    let mut bytes = Vec::new();
    let mut unanswered = 0;
    for c in catch_ups {
        match c.await? {
            Ok(Some(b)) => bytes.push(b),
            Ok(None) => dropped += 1,
            // The server never answered a change sent on reconnect (plain automerge-repo
            // servers may stay silent when their view of the peer says nothing changed).
            Err(_) => unanswered += 1,
        }
    }
    Ok((p, bytes, dropped, unanswered))
}

/// A steady run: phones, their rate and links, and what is done to the server meanwhile.
#[derive(Clone, Copy)]
struct Steady {
    workers: u64,
    seconds: u64,
    /// Changes per second in all during the burst.
    burst: f64,
    /// How long a phone stays online, on average.
    online: Duration,
    /// SIGKILLs of the server during the run.
    kills: u64,
    /// Silent sockets and a flooding token beside the phones.
    abuse: bool,
}

async fn steady(kind: Kind, dir: &TempDir, run: Steady) -> anyhow::Result<Row> {
    let Steady {
        workers,
        seconds,
        burst,
        online,
        kills,
        abuse,
    } = run;
    let mut server = Server::start(kind, &dir.0.join(kind_dir(kind))).await?;
    let grids = server::demo::layout(server::demo::Size::Full);
    let tokens = load::tokens(&server, &grids).await?;
    let phones = load::fleet(&server, workers, true, &tokens).await?;
    let probes = SharedProbes::default();
    // Supervisors hold one connection for the run; with kills they are left out (the phones,
    // which reconnect as the app does, are what the audit checks).
    let sups = if kills == 0 {
        load::supervisors(&server, &phones, &probes).await?
    } else {
        Vec::new()
    };
    let (peak, sampler) = meter(&server);
    let plan = Arc::new(Plan {
        seconds: seconds as f64,
        base: 1.0 / 60.0,
        // A visit is two changes: bursts of `burst` changes per second in all.
        burst: (
            seconds as f64 / 3.0,
            seconds as f64 / 3.0 + 5.0,
            burst / 2.0 / workers as f64,
        ),
        online,
        offline: (Duration::from_secs(3), Duration::from_secs(20)),
    });
    let start = Instant::now();
    let cpu_start = server.pid().map_or(0.0, load::abuse::cpu_seconds);
    let abusers = if abuse {
        let flood = tokens.iter().flatten().next().cloned().unwrap_or_default();
        let until = start + Duration::from_secs(seconds);
        Some(load::abuse::start(&server, &tokens, &flood, 200, 1_000, until).await)
    } else {
        None
    };
    let before: usize = phones.iter().map(|p| p.made.len()).sum();
    let mut tasks = Vec::new();
    for (i, p) in phones.into_iter().enumerate() {
        let url = p.url(&server);
        tasks.push(tokio::spawn(drive(
            p,
            url,
            kind.native(),
            Arc::clone(&plan),
            start,
            Arc::clone(&probes),
            i as u64 + 1,
        )));
    }
    // SIGKILL at even spacing over the run, restarted on the same data and port each time.
    if kills > 0 {
        anyhow::ensure!(kind.native(), "--kills applies to gridvisit only");
        let every = Duration::from_secs_f64(seconds as f64 / (kills + 1) as f64);
        for k in 0..kills {
            tokio::time::sleep_until((start + every * (k as u32 + 1)).into()).await;
            server.restart_in_place().await?;
            load::phase(&format!(
                "killed with SIGKILL and restarted ({}/{kills})",
                k + 1
            ));
        }
    }
    let mut phones = Vec::new();
    let mut reconnects = Vec::new();
    let mut dropped = 0;
    let mut unanswered = 0;
    for t in tasks {
        let (p, bytes, d, u) = t.await??;
        phones.push(p);
        reconnects.extend(bytes);
        dropped += d;
        unanswered += u;
    }
    let cpu_run = server.pid().map_or(0.0, load::abuse::cpu_seconds) - cpu_start;
    if let Some(a) = abusers {
        load::phase(&format!(
            "abuse: {} silent sockets accepted, {} frames flooded",
            a.silent.load(std::sync::atomic::Ordering::Relaxed),
            a.flooded.load(std::sync::atomic::Ordering::Relaxed)
        ));
        a.stop();
    }
    if kills == 0 {
        load::phase(&format!(
            "server CPU over the run: {cpu_run:.1} s (user + system), {:.0}% of one core",
            cpu_run / seconds as f64 * 100.0
        ));
    }
    let settled = load::settle(&server, &phones, Duration::from_secs(60)).await?;
    dropped += settled.dropped;
    let changes: usize = phones.iter().map(|p| p.made.len()).sum::<usize>() - before;
    sampler.abort();
    let audit = load::audit(&server, &phones, &sups).await?;
    let mut latency = std::mem::take(&mut probes.lock().unwrap_or_else(|e| e.into_inner()).samples);
    latency.sort_by(f64::total_cmp);
    let rss_peak = *peak.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Row {
        changes,
        durable_per_s: changes as f64 / seconds as f64,
        latency,
        reconnects,
        rss_peak,
        dropped,
        unacknowledged: settled.unacknowledged + unanswered,
        audit: Some(audit),
        ..Row::default()
    })
}

async fn throughput(kind: Kind, dir: &TempDir, workers: u64, seconds: u64) -> anyhow::Result<Row> {
    let server = Server::start(kind, &dir.0.join(kind_dir(kind))).await?;
    let grids = server::demo::layout(server::demo::Size::Full);
    let tokens = load::tokens(&server, &grids).await?;
    let phones = load::fleet(&server, workers, true, &tokens).await?;
    let probes = SharedProbes::default();
    let sups = load::supervisors(&server, &phones, &probes).await?;
    let (peak, sampler) = meter(&server);
    // The steady phase: after sign-in and setup, up to the deadline (the load generator's own
    // share of the cores is its own process and does not count).
    let cpu_start = server.cpu_micros();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let cpu_meter = {
        let pid = server.pid();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            pid.map_or(0, load::cpu_micros_of)
        })
    };
    let mut tasks = Vec::new();
    for mut p in phones {
        let probes = Arc::clone(&probes);
        tasks.push(tokio::spawn(async move {
            let mut acked = 0usize;
            while Instant::now() < deadline {
                let (h, at) = p.record_visit()?;
                load::probe(&probes, p.household, h, at);
                // A phone whose change the server leaves unanswered for a minute stops (and
                // counts as stalled).
                if p.c
                    .wait_for("acknowledgement", Duration::from_secs(60), WsClient::idle)
                    .await
                    .is_err()
                {
                    return anyhow::Ok((p, acked, 1));
                }
                if Instant::now() <= deadline {
                    acked += 2;
                }
            }
            anyhow::Ok((p, acked, 0))
        }));
    }
    let mut phones = Vec::new();
    let mut changes = 0;
    let mut stalled = 0;
    for t in tasks {
        let (p, acked, s) = t.await??;
        phones.push(p);
        changes += acked;
        stalled += s;
    }
    let cpu = cpu_meter.await?.saturating_sub(cpu_start);
    let settled = load::settle(&server, &phones, Duration::from_secs(60)).await?;
    sampler.abort();
    let audit = load::audit(&server, &phones, &sups).await?;
    let mut latency = std::mem::take(&mut probes.lock().unwrap_or_else(|e| e.into_inner()).samples);
    latency.sort_by(f64::total_cmp);
    let rss_peak = *peak.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Row {
        changes,
        durable_per_s: changes as f64 / seconds as f64,
        latency,
        rss_peak,
        cpu_per_change: (changes > 0).then(|| cpu as f64 / changes as f64),
        dropped: settled.dropped,
        unacknowledged: settled.unacknowledged.max(stalled),
        audit: Some(audit),
        ..Row::default()
    })
}

use gridvisit_tests::client::WsClient;

async fn storm(kind: Kind, dir: &TempDir, workers: u64, offline_pct: u64) -> anyhow::Result<Row> {
    let mut server = Server::start(kind, &dir.0.join(kind_dir(kind))).await?;
    let grids = server::demo::layout(server::demo::Size::Full);
    let tokens = load::tokens(&server, &grids).await?;
    let mut phones = load::fleet(&server, workers, true, &tokens).await?;
    let native = kind.native();
    // Everyone caught up before the outage.
    for p in &phones {
        p.c.wait_for(
            "caught up before the outage",
            Duration::from_secs(180),
            |st| WsClient::idle(st) && (!native || st.hub.cursor().is_some()),
        )
        .await?;
    }
    server.kill().await;
    for p in &phones {
        p.c.wait_for("the outage noticed", Duration::from_secs(60), |st| {
            !WsClient::connected(st)
        })
        .await?;
    }
    // Work goes on offline in a share of the phones.
    let mut rng = shared::sim::Rng::new(7);
    for p in &mut phones {
        if rng.below(100) < offline_pct as usize {
            p.record_visit()?;
        }
    }
    let changes: usize = phones.iter().map(|p| p.made.len()).sum();
    server.restart().await?;
    let (peak, sampler) = meter(&server);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, p) in phones.iter().enumerate() {
        let c = p.c.clone();
        let url = p.url(&server);
        tasks.push(tokio::spawn(async move {
            let before = cursors(&c);
            let mut jitter = shared::sim::Rng::new(i as u64);
            // Every phone tries at once; a refused connection is tried again shortly (a
            // phone's backoff starts at one second with jitter; this is harsher).
            while c.connect(&url).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50 + jitter.below(200) as u64)).await;
            }
            let bytes = caught_up(&c, native, before)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the server closed a reconnected socket"))?;
            anyhow::Ok((bytes, start.elapsed().as_secs_f64()))
        }));
    }
    let mut reconnects = Vec::new();
    let mut done = 0.0f64;
    for t in tasks {
        let (bytes, at) = t.await??;
        reconnects.push(bytes);
        done = done.max(at);
    }
    sampler.abort();
    let audit = load::audit(&server, &phones, &[]).await?;
    let rss_peak = *peak.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Row {
        changes,
        storm: Some(done),
        reconnects,
        rss_peak,
        audit: Some(audit),
        ..Row::default()
    })
}

async fn idle(kind: Kind, dir: &TempDir, workers: u64) -> anyhow::Result<Row> {
    let server = Server::start(kind, &dir.0.join(kind_dir(kind))).await?;
    let grids = server::demo::layout(server::demo::Size::Full);
    let tokens = load::tokens(&server, &grids).await?;
    // A handful of connections first, so one-off allocations (thread stacks, buffers, pools)
    // do not count against every connection.
    let warm = load::fleet(&server, 20, false, &tokens).await?;
    for p in &warm {
        caught_up(&p.c, kind.native(), 0).await?;
    }
    drop(warm);
    let rest = server.rss();
    let phones = load::fleet(&server, workers, false, &tokens).await?;
    for p in &phones {
        caught_up(&p.c, kind.native(), 0).await?;
    }
    let open = server.rss();
    let connected = phones.iter().filter(|p| p.c.is_connected()).count();
    anyhow::ensure!(
        connected as u64 == workers,
        "only {connected} of {workers} sockets stayed open"
    );
    Ok(Row {
        rss_peak: open,
        per_conn: Some(open.saturating_sub(rest) as f64 / workers as f64),
        ..Row::default()
    })
}

async fn large(kind: Kind, dir: &TempDir, records: u64) -> anyhow::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    let mut sizes = vec![0u64];
    let mut n = 10_000;
    while n <= records {
        sizes.push(n);
        n *= 10;
    }
    for n in sizes {
        let data = dir.0.join(format!("{}-{n}", kind_dir(kind)));
        match kind {
            Kind::Gridvisit => load::fill_gridvisit(&data, n)?,
            Kind::Js | Kind::Samod => load::fill_files(&data, n).await?,
        }
        let server = Server::start(kind, &data).await?;
        out.push((n, server.rss()));
        drop(server);
        let _ = std::fs::remove_dir_all(&data);
    }
    Ok(out)
}

fn kind_dir(kind: Kind) -> &'static str {
    match kind {
        Kind::Gridvisit => "gridvisit",
        Kind::Js => "js",
        Kind::Samod => "samod",
    }
}

const HEADER: &str = "| server | changes | durable changes/s | edit-to-dashboard p50 / p99 | reconnects | bytes per reconnect (mean) | storm done | server memory (peak) | server CPU per durable change | per idle connection | sockets closed by the server | unacknowledged (reconnects, phones at the end) | lost | diverged |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

/// Prints one server's row; false when it lost a change or diverged (or, for gridvisit, left
/// a change unacknowledged).
fn print_row(kind: Kind, r: &Row) -> bool {
    let lat = if r.latency.is_empty() {
        "–".to_owned()
    } else {
        format!(
            "{:.0} / {:.0} ms ({} edits)",
            quantile(&r.latency, 0.5),
            quantile(&r.latency, 0.99),
            r.latency.len()
        )
    };
    let bytes = if r.reconnects.is_empty() {
        "–".to_owned()
    } else {
        format!("{:.0} B", mean(&r.reconnects))
    };
    let mut ok = true;
    let (lost, diverged) = r.audit.as_ref().map_or(("–".into(), "–".into()), |a| {
        ok = a.lost == 0 && a.diverged == 0 && (kind != Kind::Gridvisit || r.unacknowledged == 0);
        (a.lost.to_string(), a.diverged.to_string())
    });
    println!(
        "| {} | {} | {:.0} | {lat} | {} | {bytes} | {} | {} | {} | {} | {} | {} | {lost} | {diverged} |",
        kind.name(),
        r.changes,
        r.durable_per_s,
        r.reconnects.len(),
        r.storm.map_or("–".into(), |s| format!("{s:.1} s")),
        mb(r.rss_peak),
        r.cpu_per_change
            .map_or("–".into(), |us| format!("{us:.0} µs")),
        r.per_conn
            .map_or("–".into(), |b| format!("{:.1} KB", b / 1000.0)),
        r.dropped,
        r.unacknowledged,
    );
    ok
}

fn mean(v: &[u64]) -> f64 {
    v.iter().sum::<u64>() as f64 / v.len().max(1) as f64
}

/// Prints the ratios of gridvisit's figures to each other server's.
fn print_ratios(rows: &[(Kind, Row)]) {
    let Some((_, ours)) = rows.iter().find(|(k, _)| *k == Kind::Gridvisit) else {
        return;
    };
    for (kind, r) in rows.iter().filter(|(k, _)| *k != Kind::Gridvisit) {
        let mut parts = Vec::new();
        if ours.durable_per_s > 0.0 && r.durable_per_s > 0.0 {
            parts.push(format!(
                "durable changes/s ×{:.1}",
                ours.durable_per_s / r.durable_per_s
            ));
        }
        if !ours.latency.is_empty() && !r.latency.is_empty() {
            parts.push(format!(
                "p99 latency ×{:.2}",
                quantile(&ours.latency, 0.99) / quantile(&r.latency, 0.99)
            ));
        }
        if let (Some(a), Some(b)) = (ours.storm, r.storm) {
            parts.push(format!("storm time ×{:.2}", a / b));
        }
        if !ours.reconnects.is_empty() && !r.reconnects.is_empty() {
            parts.push(format!(
                "bytes per reconnect ×{:.2}",
                mean(&ours.reconnects) / mean(&r.reconnects)
            ));
        }
        if let (Some(a), Some(b)) = (ours.per_conn, r.per_conn) {
            parts.push(format!("memory per connection ×{:.2}", a / b));
        }
        println!("\ngridvisit against {}: {}", kind.name(), parts.join(", "));
    }
}

/// The load generator: one scenario against each server, side by side.
#[derive(Parser)]
#[command(name = "loadgen")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

/// The servers to run against, and how many phones.
#[derive(Args, Clone)]
struct Common {
    /// Servers, comma-separated: gridvisit, js, samod.
    #[arg(long, value_delimiter = ',', default_value = "gridvisit,js,samod", value_parser = parse_kind)]
    against: Vec<Kind>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Patchy phones at one visit a minute, with a burst.
    Steady {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 2_000)]
        workers: u64,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Changes per second during the 5 s burst.
        #[arg(long, default_value_t = 1_000)]
        burst: u64,
        /// Times the server is killed with SIGKILL (and restarted) during the run.
        #[arg(long, default_value_t = 0)]
        kills: u64,
        /// Beside the phones: 200 sockets that never read and one token flooding 1,000
        /// frames/s.
        #[arg(long)]
        abuse: bool,
    },
    /// The steady scenario, small and patchier (what CI runs).
    Smoke {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 60)]
        workers: u64,
        #[arg(long, default_value_t = 12)]
        seconds: u64,
        #[arg(long, default_value_t = 200)]
        burst: u64,
    },
    /// Every phone records visits as fast as they are acknowledged.
    Throughput {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 2_000)]
        workers: u64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// The server is killed; every phone reconnects at once when it is back.
    Storm {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 10_000)]
        workers: u64,
        /// Share of the phones that record a visit while the server is down.
        #[arg(long, default_value_t = 10)]
        offline_pct: u64,
    },
    /// Open sockets doing nothing: memory per connection.
    Idle {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 10_000)]
        workers: u64,
    },
    /// Memory at rest on a large store.
    Large {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
    },
    /// (internal) The gridvisit server, as loadgen starts it.
    #[command(hide = true)]
    ServeGridvisit {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// (internal) The minimal samod server, as loadgen starts it.
    #[command(hide = true)]
    ServeSamod { data: std::path::PathBuf },
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).map_err(|e| e.to_string())
}

async fn run(scenario: Scenario) -> anyhow::Result<bool> {
    load::phase("start");
    let dir = TempDir::new("loadgen");
    let (title, kinds, job): (String, Vec<Kind>, Job) = match scenario {
        Scenario::Steady {
            common,
            workers,
            seconds,
            burst,
            kills,
            abuse,
        } => (
            format!(
                "steady: {workers} workers, {seconds} s, one visit (two changes) per worker per minute, a 5 s burst at {burst} changes/s, patchy links"
            ),
            common.against,
            Job::Steady(Steady {
                workers,
                seconds,
                burst: burst as f64,
                online: Duration::from_secs(60),
                kills,
                abuse,
            }),
        ),
        // The smoke run is patchier, so every phone goes offline and back at least once.
        Scenario::Smoke {
            common,
            workers,
            seconds,
            burst,
        } => (
            format!(
                "smoke: {workers} workers, {seconds} s, one visit (two changes) per worker per minute, a 5 s burst at {burst} changes/s, patchy links"
            ),
            common.against,
            Job::Steady(Steady {
                workers,
                seconds,
                burst: burst as f64,
                online: Duration::from_secs(4),
                kills: 0,
                abuse: false,
            }),
        ),
        Scenario::Throughput {
            common,
            workers,
            seconds,
        } => (
            format!(
                "throughput: {workers} workers recording visits (two changes each) as fast as acknowledged, {seconds} s"
            ),
            common.against,
            Job::Throughput(workers, seconds),
        ),
        Scenario::Storm {
            common,
            workers,
            offline_pct,
        } => (
            format!(
                "reconnect storm: {workers} workers reconnect at once after the server was killed and restarted; {offline_pct}% recorded a visit meanwhile"
            ),
            common.against,
            Job::Storm(workers, offline_pct),
        ),
        Scenario::Idle { common, workers } => (
            format!("idle connections: {workers} open sockets"),
            common.against,
            Job::Idle(workers),
        ),
        Scenario::Large { common, records } => {
            println!("\n## large store: server memory at rest after start\n");
            println!("| server | records | memory at rest |");
            println!("|---|---:|---:|");
            for kind in common.against {
                eprintln!("loadgen: large store against {}", kind.name());
                for (n, rss) in large(kind, &dir, records).await? {
                    println!("| {} | {n} | {} |", kind.name(), mb(rss));
                }
            }
            return Ok(true);
        }
        Scenario::ServeGridvisit { .. } | Scenario::ServeSamod { .. } => {
            anyhow::bail!("not a scenario")
        }
    };
    let scenario = title.split(':').next().unwrap_or_default().to_owned();
    println!("\n## {title}\n\n{HEADER}");
    let mut ok = true;
    let mut rows = Vec::new();
    for kind in kinds {
        eprintln!("loadgen: {scenario} against {}", kind.name());
        let row = match job {
            Job::Steady(run) => steady(kind, &dir, run).await,
            Job::Throughput(w, s) => throughput(kind, &dir, w, s).await,
            Job::Storm(w, p) => storm(kind, &dir, w, p).await,
            Job::Idle(w) => idle(kind, &dir, w).await,
        };
        match row {
            Ok(row) => {
                ok &= print_row(kind, &row);
                rows.push((kind, row));
            }
            Err(err) => {
                println!("| {} | did not finish: {err:#} |", kind.name());
                ok &= kind != Kind::Gridvisit;
            }
        }
    }
    print_ratios(&rows);
    Ok(ok)
}

#[derive(Clone, Copy)]
enum Job {
    Steady(Steady),
    Throughput(u64, u64),
    Storm(u64, u64),
    Idle(u64),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.scenario {
        // The servers, re-executed from this binary so one build holds all of them.
        Scenario::ServeGridvisit { args } => runtime.block_on(server::cli::main_from(
            std::iter::once(std::ffi::OsString::from("gridvisit")).chain(args),
        )),
        Scenario::ServeSamod { data } => runtime.block_on(load::servers::samod_main(&data)),
        scenario => {
            if runtime.block_on(run(scenario))? {
                Ok(())
            } else {
                eprintln!("loadgen: a server lost changes or diverged (see the table)");
                std::process::exit(1)
            }
        }
    }
}
