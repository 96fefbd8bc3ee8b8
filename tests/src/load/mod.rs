//! The load generator's workload: simulated field workers ("phones") across the full demo
//! city's 514 grids, each a real WebSocket client over `shared`'s engine with its own local
//! store, recording visits and editing households with patchy connectivity; street supervisors
//! watching their street; and an audit at the end that every change reached the server and every
//! replica converged. The same workload runs against gridvisit (with its extension, signed in)
//! and, as plain automerge-repo clients, against the JS reference server and samod.

pub mod abuse;
pub mod replay;
pub mod servers;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::{ChangeHash, ReadDoc as _};
use shared::ids::{DocumentId, GridId};
use shared::model::household::edit;
use shared::model::{HouseholdDraft, Outcome, VisitDraft};
use shared::sim::Rng;
use shared::sync::Event;

use crate::client::WsClient;
pub use servers::{Kind, Server, cpu_micros_of};

/// How long any single wait may take before the run counts as failed.
const PATIENCE: Duration = Duration::from_secs(180);

/// Prints a step of the run with the time since the first step, on stderr.
pub fn phase(what: &str) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("loadgen: {t:7.1} s  {what}");
}

/// One simulated worker's phone.
pub struct Phone {
    /// Its client (engine, local store, socket).
    pub c: WsClient,
    /// Its grid.
    pub grid: GridId,
    /// Its sign-in (gridvisit only).
    pub token: Option<String>,
    /// The household it created and keeps editing.
    pub household: DocumentId,
    /// Every change it made: the document and the change's hash.
    pub made: Vec<(DocumentId, ChangeHash)>,
    /// Visits recorded so far.
    pub visits: u64,
    index: u64,
    user: String,
}

/// Edit-to-dashboard timing: changes made on a phone, waiting to reach a supervisor.
#[derive(Default)]
pub struct Probes {
    waiting: HashMap<DocumentId, Vec<(ChangeHash, Instant)>>,
    /// Milliseconds from edit to the supervisor's replica holding it.
    pub samples: Vec<f64>,
}

/// Shared [`Probes`].
pub type SharedProbes = Arc<Mutex<Probes>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn id(tag: u8, a: u64, b: u64) -> DocumentId {
    let mut bytes = [0u8; 16];
    bytes[0] = tag;
    bytes[1..8].copy_from_slice(&a.to_le_bytes()[..7]);
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    DocumentId::from_bytes(bytes)
}

/// The grid worker account of a grid.
pub fn worker_of(grid: &GridId) -> String {
    format!("w-{}", grid.as_str().replace('/', "-"))
}

impl Phone {
    /// Phone `index` in `grid`, offline, with an empty store.
    pub fn new(kind: Kind, index: u64, grid: GridId, token: Option<String>) -> Self {
        let user = worker_of(&grid);
        let c = WsClient::new(
            &format!("phone-{index}"),
            &user,
            kind.native(),
            (index % 251) as u8,
        );
        lock(&c.state).keep_frames = false;
        Self {
            c,
            household: id(1, index, 0x686f_7573),
            grid,
            token,
            made: Vec::new(),
            visits: 0,
            index,
            user,
        }
    }

    fn last_change(&self, doc: &DocumentId) -> Option<ChangeHash> {
        let st = lock(&self.c.state);
        st.hub
            .doc(doc)
            .and_then(|d| d.get_heads().into_iter().next())
    }

    /// Creates this phone's household.
    pub fn create_household(&mut self) -> anyhow::Result<()> {
        let draft = HouseholdDraft {
            grid: self.grid.clone(),
            building: format!("{}", self.index % 40 + 1),
            unit: format!("{}", self.index % 3 + 1),
            room: format!("{}", 100 + self.index % 900),
            head: "王秀英".into(),
            contact: "13800000000".into(),
            members: 3,
            tags: vec![],
            notes: String::new(),
        };
        self.c
            .create(self.household, |tx| draft.write(tx))
            .map_err(|e| anyhow::anyhow!("creating a household: {e}"))?;
        let h = self
            .last_change(&self.household)
            .ok_or_else(|| anyhow::anyhow!("household has no change"))?;
        self.made.push((self.household, h));
        Ok(())
    }

    /// Records a visit to the phone's household: a new visit record and an edit of the household
    /// (two changes). Returns the household edit's hash and when it was made.
    pub fn record_visit(&mut self) -> anyhow::Result<(ChangeHash, Instant)> {
        self.visits += 1;
        let visit = id(2, self.index, self.visits);
        let now = server::engine::now();
        let draft = VisitDraft {
            grid: self.grid.clone(),
            household: self.household,
            visitors: vec![self.user.clone()],
            started_at: now,
            ended_at: Some(now),
            location: None,
            outcome: Outcome::Met,
            items: vec![],
            notes: String::new(),
            household_tags: Vec::new(),
        };
        self.c
            .create(visit, |tx| draft.write(tx))
            .map_err(|e| anyhow::anyhow!("recording a visit: {e}"))?;
        let v = self
            .last_change(&visit)
            .ok_or_else(|| anyhow::anyhow!("visit has no change"))?;
        self.made.push((visit, v));
        let at = Instant::now();
        let n = self.visits as i64;
        self.c
            .edit(self.household, |tx| edit::set_members(tx, n % 9 + 1))
            .map_err(|e| anyhow::anyhow!("editing a household: {e}"))?;
        let h = self
            .last_change(&self.household)
            .ok_or_else(|| anyhow::anyhow!("household has no change"))?;
        self.made.push((self.household, h));
        Ok((h, at))
    }

    /// Connects (reconnects) to `server`.
    pub async fn connect(&self, server: &Server) -> anyhow::Result<()> {
        self.c.connect(&server.ws(self.token.as_deref())).await
    }

    /// The URL this phone connects to.
    pub fn url(&self, server: &Server) -> String {
        server.ws(self.token.as_deref())
    }
}

/// Number of cursors a client saved so far (gridvisit: a reconnect's catch-up is done when the
/// count grows).
pub fn cursors(c: &WsClient) -> usize {
    lock(&c.state)
        .events
        .iter()
        .filter(|e| matches!(e, Event::CursorSaved { .. }))
        .count()
}

/// Waits until every local change is acknowledged and, with gridvisit's extension, the catch-up
/// after the current connection's handshake is done (more than `cursors_before` cursors
/// saved). Returns the bytes sent and received on the connection so far, or `None` when the
/// connection closed first.
pub async fn caught_up(
    c: &WsClient,
    native: bool,
    cursors_before: usize,
) -> anyhow::Result<Option<u64>> {
    c.wait_for(
        "the phone to catch up",
        Duration::from_secs(60),
        move |st| {
            !WsClient::connected(st)
                || (WsClient::idle(st)
                    && (!native
                        || st
                            .events
                            .iter()
                            .filter(|e| matches!(e, Event::CursorSaved { .. }))
                            .count()
                            > cursors_before))
        },
    )
    .await
    .map_err(|e| {
        let st = lock(&c.state);
        anyhow::anyhow!("{e}: {} documents unacknowledged", st.hub.unsynced().len())
    })?;
    let st = lock(&c.state);
    Ok(WsClient::connected(&st).then_some(st.bytes.0 + st.bytes.1))
}

/// A street supervisor's replica: the dashboard's data.
pub struct Supervisor {
    /// Its client.
    pub c: WsClient,
    /// The households of its street, each asked for by ID.
    pub households: Vec<DocumentId>,
}

/// Signs in every grid's worker once (gridvisit), a few at a time.
pub async fn tokens(server: &Server, grids: &[GridId]) -> anyhow::Result<Vec<Option<String>>> {
    let mut out = Vec::with_capacity(grids.len());
    for chunk in grids.chunks(16) {
        let mut tasks = Vec::new();
        for g in chunk {
            let http = server.http();
            let native = server.kind.native();
            let user = worker_of(g);
            tasks.push(tokio::spawn(async move {
                if native {
                    Some(crate::harness::demo_login(&http, &user).await)
                } else {
                    None
                }
            }));
        }
        for t in tasks {
            out.push(t.await?);
        }
    }
    Ok(out)
}

/// `n` phones over the full city's grids (round robin, `tokens` from [`tokens`]), connected,
/// each with its household created and acknowledged (when `household`).
pub async fn fleet(
    server: &Server,
    n: u64,
    household: bool,
    tokens: &[Option<String>],
) -> anyhow::Result<Vec<Phone>> {
    let grids = server::demo::layout(server::demo::Size::Full);
    let mut phones = Vec::with_capacity(n as usize);
    for i in 0..n {
        let g = i as usize % grids.len();
        phones.push(Phone::new(
            server.kind,
            i,
            grids[g].clone(),
            tokens[g].clone(),
        ));
    }
    // Connect in waves so setup does not measure a storm.
    for wave in phones.chunks_mut(250) {
        for p in wave.iter() {
            p.connect(server).await?;
        }
        for p in wave.iter_mut() {
            p.c.wait_ready(PATIENCE).await?;
            if household {
                p.create_household()?;
            }
        }
        for p in wave.iter() {
            p.c.wait_for("the household acknowledged", PATIENCE, WsClient::idle)
                .await?;
        }
    }
    phase(&format!("{n} phones connected"));
    Ok(phones)
}

/// One supervisor per street, watching its households; each records edit-to-dashboard times
/// into `probes`.
pub async fn supervisors(
    server: &Server,
    phones: &[Phone],
    probes: &SharedProbes,
) -> anyhow::Result<Vec<Supervisor>> {
    let mut streets: Vec<String> = phones
        .iter()
        .map(|p| p.grid.street().to_owned())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    streets.sort();
    let mut out = Vec::new();
    for (i, street) in streets.iter().enumerate() {
        let user = format!("street-{street}");
        let token = server.token(&user).await;
        let c = WsClient::new(
            &format!("dashboard-{i}"),
            &user,
            server.kind.native(),
            200 + i as u8,
        );
        {
            let probes = Arc::clone(probes);
            let mut st = lock(&c.state);
            st.keep_frames = false;
            st.watch = Some(Box::new(move |hub, doc| {
                let mut p = lock(&probes);
                let Some(waiting) = p.waiting.get_mut(doc) else {
                    return;
                };
                let Some(d) = hub.doc(doc) else { return };
                let now = Instant::now();
                let mut arrived = Vec::new();
                waiting.retain(|(h, at)| {
                    let here = d.get_change_by_hash(h).is_some();
                    if here {
                        arrived.push(now.duration_since(*at).as_secs_f64() * 1000.0);
                    }
                    !here
                });
                p.samples.extend(arrived);
            }));
        }
        c.connect(&server.ws(token.as_deref())).await?;
        c.wait_ready(PATIENCE).await?;
        let households: Vec<DocumentId> = phones
            .iter()
            .filter(|p| p.grid.street() == street)
            .map(|p| p.household)
            .collect();
        // A supervisor's browser holds no household of its area (DESIGN decision 10): each is
        // asked for by ID, as an open record is, and is then pushed live.
        for h in &households {
            c.sync_now(*h);
        }
        let want = households.clone();
        c.wait_for("the dashboard's households", PATIENCE, move |st| {
            want.iter().all(|h| st.hub.doc(h).is_some()) && WsClient::idle(st)
        })
        .await?;
        out.push(Supervisor { c, households });
    }
    phase("supervisors in sync");
    Ok(out)
}

/// Registers a change to time its way to the dashboard.
pub fn probe(probes: &SharedProbes, doc: DocumentId, change: ChangeHash, at: Instant) {
    lock(probes)
        .waiting
        .entry(doc)
        .or_default()
        .push((change, at));
}

/// What the audit found.
#[derive(Debug, Default)]
pub struct Audit {
    /// Changes made on phones.
    pub changes: usize,
    /// Documents checked.
    pub documents: usize,
    /// Changes a phone made that the server does not hold.
    pub lost: usize,
    /// Replicas (phone or supervisor, document) whose heads differ from the server's.
    pub diverged: usize,
}

/// How [`settle`] ended.
#[derive(Debug, Default)]
pub struct Settled {
    /// Connections the server closed on its own meanwhile (each was reconnected, as a phone
    /// would).
    pub dropped: usize,
    /// Phones left with changes the server never acknowledged, connected, after `patience`.
    pub unacknowledged: usize,
}

/// Reconnects every phone that is offline and waits until all are acknowledged, for at most
/// `patience`.
pub async fn settle(
    server: &Server,
    phones: &[Phone],
    patience: Duration,
) -> anyhow::Result<Settled> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut out = Settled::default();
    loop {
        for p in phones {
            if !p.c.is_connected() {
                p.connect(server).await?;
            }
        }
        let mut reconnect = false;
        out.unacknowledged = 0;
        for p in phones {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let r =
                p.c.wait_for("every change acknowledged", left, |st| {
                    !WsClient::connected(st) || WsClient::idle(st)
                })
                .await;
            if !p.c.is_connected() {
                out.dropped += 1;
                reconnect = true;
            } else if r.is_err() {
                out.unacknowledged += 1;
            }
        }
        if !reconnect || tokio::time::Instant::now() >= deadline {
            phase(&format!("settled: {out:?}"));
            return Ok(out);
        }
    }
}

/// Fetches every document the phones made through a fresh plain client (the city supervisor on
/// gridvisit) and checks that it holds every change made, then that every phone's and
/// supervisor's replica converged on the same heads.
pub async fn audit(
    server: &Server,
    phones: &[Phone],
    supervisors: &[Supervisor],
) -> anyhow::Result<Audit> {
    phase("audit");
    let token = server.token("city").await;
    let auditor = WsClient::new("auditor", "city", false, 254);
    lock(&auditor.state).keep_frames = false;
    auditor.connect(&server.ws(token.as_deref())).await?;
    auditor.wait_ready(PATIENCE).await?;
    let mut made: HashMap<DocumentId, Vec<ChangeHash>> = HashMap::new();
    for p in phones {
        for (d, h) in &p.made {
            made.entry(*d).or_default().push(*h);
        }
    }
    // Asked for a few hundred at a time, as a client that reads its frames would: a server may
    // drop a peer that leaves thousands of answers unread.
    let ids: Vec<DocumentId> = made.keys().copied().collect();
    for chunk in ids.chunks(256) {
        for d in chunk {
            auditor.sync_now(*d);
        }
        let want = chunk.to_vec();
        let _ = auditor
            .wait_for("a batch of documents", Duration::from_secs(30), move |st| {
                want.iter().all(|d| st.hub.doc(d).is_some())
            })
            .await;
    }
    let made = Arc::new(made);
    let all_there = {
        let made = Arc::clone(&made);
        move |st: &crate::client::State| {
            made.iter().all(|(d, hs)| {
                st.hub
                    .doc(d)
                    .is_some_and(|doc| hs.iter().all(|h| doc.get_change_by_hash(h).is_some()))
            })
        }
    };
    let fetched = auditor
        .wait_for("every change on the server", PATIENCE, all_there)
        .await;
    let mut audit = Audit {
        changes: made.values().map(Vec::len).sum(),
        documents: made.len(),
        ..Audit::default()
    };
    let server_heads: HashMap<DocumentId, Vec<ChangeHash>> = {
        let st = lock(&auditor.state);
        if fetched.is_err() {
            for (d, hs) in made.iter() {
                let doc = st.hub.doc(d);
                audit.lost += hs
                    .iter()
                    .filter(|h| doc.is_none_or(|doc| doc.get_change_by_hash(h).is_none()))
                    .count();
            }
        }
        st.hub
            .documents()
            .map(|(d, doc)| (*d, sorted(doc.get_heads())))
            .collect()
    };
    let server_heads = Arc::new(server_heads);
    let replicas = phones
        .iter()
        .map(|p| &p.c)
        .chain(supervisors.iter().map(|s| &s.c));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for c in replicas {
        let heads = Arc::clone(&server_heads);
        let differing = move |st: &crate::client::State| {
            st.hub
                .documents()
                .filter(|(d, doc)| heads.get(d).is_some_and(|h| *h != sorted(doc.get_heads())))
                .count()
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let check = differing.clone();
        if c.wait_for("the replica to converge", left, move |st| check(st) == 0)
            .await
            .is_err()
        {
            let st = lock(&c.state);
            audit.diverged += differing(&st);
            // Say how: which document, and who lacks what.
            for (d, doc) in st.hub.documents() {
                let Some(theirs) = server_heads.get(d) else {
                    continue;
                };
                let ours = sorted(doc.get_heads());
                if *theirs != ours {
                    let lacking = theirs
                        .iter()
                        .filter(|h| doc.get_change_by_hash(h).is_none())
                        .count();
                    eprintln!(
                        "loadgen: diverged: {} holds {d} with {} heads ({} changes); the server's {} heads, {lacking} of them missing here; connected: {}, unsynced here: {}",
                        st.hub.peer_id(),
                        ours.len(),
                        doc.get_changes(&[]).len(),
                        theirs.len(),
                        WsClient::connected(&st),
                        st.hub.unsynced().len(),
                    );
                }
            }
        }
    }
    phase(&format!("audited: {audit:?}"));
    Ok(audit)
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

/// The `p`-quantile of sorted samples.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The connectivity of one phone over a run: alternating online and offline spells.
pub struct Patchy {
    rng: Rng,
    /// Mean online spell.
    pub online: Duration,
    /// Shortest and longest offline spell.
    pub offline: (Duration, Duration),
}

impl Patchy {
    /// A phone's schedule, from a seed.
    pub fn new(seed: u64, online: Duration, offline: (Duration, Duration)) -> Self {
        Self {
            rng: Rng::new(seed),
            online,
            offline,
        }
    }

    /// A random online spell (exponential around the mean).
    pub fn next_online(&mut self) -> Duration {
        exponential(&mut self.rng, self.online)
    }

    /// A random offline spell (uniform).
    pub fn next_offline(&mut self) -> Duration {
        let (lo, hi) = self.offline;
        let span = hi.saturating_sub(lo).as_millis() as usize + 1;
        lo + Duration::from_millis(self.rng.below(span) as u64)
    }

    /// The wait until the next action at `per_second` actions per second (Poisson).
    pub fn next_action(&mut self, per_second: f64) -> Duration {
        exponential(&mut self.rng, Duration::from_secs_f64(1.0 / per_second))
    }
}

fn exponential(rng: &mut Rng, mean: Duration) -> Duration {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    mean.mul_f64(-(1.0 - u).ln())
}

/// Fills a gridvisit database in `data` with `records` households spread over the full city's
/// grids (written straight to the store, as a long-running city would have them), plus the
/// demo accounts.
pub fn fill_gridvisit(data: &std::path::Path, records: u64) -> anyhow::Result<()> {
    fill_grids(
        data,
        records,
        &server::demo::layout(server::demo::Size::Full),
    )
}

/// [`fill_gridvisit`] with the households spread over `grids` only.
pub fn fill_grids(
    data: &std::path::Path,
    records: u64,
    grids: &[shared::ids::GridId],
) -> anyhow::Result<()> {
    use server::store::{ChunkWrite, Storage};
    use shared::aggregate::Dashboard;
    use shared::model::Record;

    let store = server::store::redb_store::RedbStore::open(data)?;
    let dashboard = Dashboard::new(shared::time::Calendar::CHINA);
    let mut batch = Vec::new();
    for n in 0..records {
        let doc = stored_household(&grids[n as usize % grids.len()], n)?;
        let record = Record::read(&doc)?;
        batch.push(ChunkWrite::of(
            id(3, n, n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            doc.save(),
            shared::sync::heads_digest(&doc.get_heads()),
            Some(record.meta()),
            Some(&record),
            &dashboard,
        ));
        if batch.len() == 2000 {
            store.commit(&batch, &[], 0)?;
            batch.clear();
        }
    }
    store.commit(&batch, &[], 0)?;
    server::demo::seed_accounts(
        &store,
        server::demo::Size::Full,
        crate::harness::ADMIN_PASSWORD,
        server::demo::DEMO_PASSWORD,
    )?;
    Ok(())
}

/// Fills an automerge-repo file store (the layout of `NodeFSStorageAdapter`, which samod's
/// filesystem storage shares) in `data` with the same `records` households, one snapshot each.
pub async fn fill_files(data: &std::path::Path, records: u64) -> anyhow::Result<()> {
    use samod::storage::{Storage as _, StorageKey, TokioFilesystemStorage};

    let storage = TokioFilesystemStorage::new(data);
    let grids = server::demo::layout(server::demo::Size::Full);
    for n in 0..records {
        let doc = stored_household(&grids[n as usize % grids.len()], n)?;
        let doc_id = id(3, n, n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let hash = crate::hex(&shared::sync::heads_digest(&doc.get_heads()));
        let key = StorageKey::from_parts([doc_id.to_string(), "snapshot".into(), hash])
            .map_err(|e| anyhow::anyhow!("storage key: {e:?}"))?;
        storage.put(key, doc.save()).await;
    }
    Ok(())
}

/// The `n`th generated household of a grid (stored fills and benchmarks).
pub fn household_draft(grid: &GridId, n: u64) -> HouseholdDraft {
    HouseholdDraft {
        grid: grid.clone(),
        building: format!("{}", n / 100),
        unit: format!("{}", n / 10 % 10),
        room: format!("{}", n % 10),
        head: "王秀英".into(),
        contact: "13800000000".into(),
        members: 3,
        tags: vec![],
        notes: String::new(),
    }
}

fn stored_household(grid: &GridId, n: u64) -> anyhow::Result<automerge::Automerge> {
    let mut doc = automerge::Automerge::new();
    let draft = household_draft(grid, n);
    doc.transact::<_, _, automerge::AutomergeError>(|tx| draft.write(tx))
        .map_err(|f| anyhow::anyhow!("{}", f.error))?;
    Ok(doc)
}
