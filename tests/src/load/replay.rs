//! The replay benchmark's harness: a recorded stream of a server's inputs
//! ([`shared::sim::record_tape`]) fed in-process to the real engine over the real embedded
//! database, at a given number of engine threads, as fast as the engine takes it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use server::engine::{Cmd, Engine, Limits, Outbox};
use server::metrics::Metrics;
use server::store::Storage;
use server::store::redb_store::RedbStore;
use shared::aggregate::Dashboard;
use shared::ids::{PeerId, StorageId};
use shared::sim::Tape;
use shared::sync::{Hub, HubConfig, Input, ScopePolicy};
use shared::time::Calendar;

use super::servers::cpu_micros_of;

/// What one replay took.
#[derive(Clone, Copy, Debug)]
pub struct Replayed {
    /// From the first input handled to the last commit.
    pub elapsed: Duration,
    /// CPU time of this process over that span (the engine's threads: the feeding is done
    /// before the clock starts).
    pub cpu: Duration,
    /// Durable changes the engine committed.
    pub changes: u64,
    /// Commits it made.
    pub commits: u64,
}

impl Replayed {
    /// Durable changes per second.
    pub fn per_second(&self) -> f64 {
        self.changes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Feeds `tape` to a fresh engine with `threads` hubs over a fresh database in `dir`, waits
/// for it to commit everything, then checks that the database holds every document of the
/// tape at the heads the recording server ended with.
pub fn replay(tape: &Tape, threads: usize, dir: &std::path::Path) -> anyhow::Result<Replayed> {
    let store: Arc<dyn Storage> = Arc::new(RedbStore::open(dir)?);
    let config = HubConfig::new(
        PeerId::new("replay-server")?,
        Some(StorageId::new("replay")?),
        automerge::ActorId::random(),
    );
    let hubs = (0..threads)
        .map(|_| Hub::new(config.clone(), Box::new(ScopePolicy)))
        .collect();
    let metrics = Arc::new(Metrics::default());
    let (changed, _) = tokio::sync::watch::channel(0);
    let engine = Engine::new(
        hubs,
        store.clone(),
        Arc::new(Mutex::new(Dashboard::new(Calendar::CHINA))),
        changed,
        metrics.clone(),
        Limits {
            max_frame: config.max_frame,
            outbound_budget: usize::MAX,
            quarantine_per_user: 100,
        },
    )?;
    let (tx, rx) = mpsc::channel();
    for input in &tape.inputs {
        let cmd = match input.clone() {
            Input::Connected {
                conn, principal, ..
            } => {
                // What the engine sends is not read: the stream was recorded already.
                let (outbox, _) = Outbox::new();
                Cmd::Open {
                    conn,
                    principal: principal.context("a connection without a principal")?,
                    outbox,
                }
            }
            Input::Frame { conn, bytes } => Cmd::Frame {
                conn,
                bytes,
                credit: None,
            },
            Input::Disconnected { conn } => Cmd::Closed { conn },
            other => bail!("a tape holds no {other:?}"),
        };
        tx.send(cmd)
            .map_err(|_| anyhow::anyhow!("the engine's queue closed"))?;
    }
    tx.send(Cmd::Shutdown)
        .map_err(|_| anyhow::anyhow!("the engine's queue closed"))?;
    let pid = std::process::id();
    let cpu_before = cpu_micros_of(pid);
    let started = Instant::now();
    engine.run(rx)?;
    let elapsed = started.elapsed();
    let cpu = Duration::from_micros(cpu_micros_of(pid).saturating_sub(cpu_before));
    for (id, heads) in &tape.heads {
        let bytes = store
            .load(id)?
            .with_context(|| format!("document {id} was lost"))?;
        let mut stored = automerge::Automerge::load(&bytes)?.get_heads();
        let mut expected = heads.clone();
        stored.sort();
        expected.sort();
        if stored != expected {
            bail!("document {id} diverged from the recording");
        }
    }
    Ok(Replayed {
        elapsed,
        cpu,
        changes: metrics.changes.load(Ordering::Relaxed),
        commits: metrics.commits.load(Ordering::Relaxed),
    })
}
