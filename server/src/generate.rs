//! A city of G grids × H households × W weeks, written straight into a data folder
//! (`gridvisit generate`): every household visited once a week by its grid's worker (most met,
//! some not home), about 5% of visits raising an issue — most accepted, handled and closed in
//! the grid, some escalated to the community and closed there, some still open and overdue.
//! Each month most grids hold their monthly review (民情研判): a community-wide one written by
//! the community's secretary for all its grids, or the grid's own.
//! Every record is what the app would write and what the server's rules accept: issue events
//! carry their actor's role, follow the rules table and are dated in order, before `now`.
//!
//! Two threads build documents grid by grid while the caller's thread commits them in large
//! batches, so the 13-week city of 514 × 300 builds in minutes.

use std::sync::mpsc;

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, AutomergeError};
use shared::aggregate::Dashboard;
use shared::ids::{DocumentId, GridId};
use shared::model::issue::append_event;
use shared::model::{
    Area, EventKind, HouseholdDraft, IssueDraft, IssueEvent, IssueSource, Level, Outcome, Record,
    ReviewDraft, Role, VisitDraft, VisitItem,
};
use shared::sync::heads_digest;
use shared::time::{Calendar, Millis};

use crate::demo::{SeedError, Size, layout};
use crate::store::{ChunkWrite, Storage};

/// What to generate.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Grids (the first of the seed-shaped layout; at most 514).
    pub grids: usize,
    /// Households per grid.
    pub households: usize,
    /// Weeks of visits, ending with the week of `now`.
    pub weeks: u32,
    /// The clock: nothing is dated after it.
    pub now: Millis,
    /// Varies names, outcomes and issues.
    pub seed: u64,
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Generated {
    /// Households.
    pub households: u64,
    /// Visits.
    pub visits: u64,
    /// Issues, of which open now.
    pub issues: u64,
    /// Issues open at the end.
    pub open: u64,
    /// Monthly reviews.
    pub reviews: u64,
}

impl Generated {
    fn add(&mut self, o: &Self) {
        self.households += o.households;
        self.visits += o.visits;
        self.issues += o.issues;
        self.open += o.open;
        self.reviews += o.reviews;
    }
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `pct` times in 100.
    fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    fn id(&mut self) -> DocumentId {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_le_bytes());
        b[8..].copy_from_slice(&self.next().to_le_bytes());
        DocumentId::from_bytes(b)
    }
}

const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "秀英", "建国", "桂兰", "志强", "玉兰", "国华", "淑珍", "海燕", "德明", "丽娟", "春生", "素芬",
];
const PROBLEMS: [&str; 5] = [
    "楼道灯不亮",
    "邻里噪音纠纷",
    "申请低保咨询",
    "下水道堵塞",
    "求职登记",
];

/// Builds one grid's documents and hands them to `out` in batches.
struct GridWriter<'a> {
    grid: &'a GridId,
    /// The grids of its community in this city, when it is the first of them (it files the
    /// community-wide reviews); empty otherwise.
    community: Vec<GridId>,
    worker: String,
    secretary: String,
    actor: ActorId,
    rng: Rng,
    dashboard: &'a Dashboard,
    batch: Vec<ChunkWrite>,
    out: &'a mpsc::SyncSender<Vec<ChunkWrite>>,
    made: Generated,
    events: u64,
}

impl GridWriter<'_> {
    fn doc(
        &mut self,
        user: &str,
        at: Millis,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>,
    ) -> Result<Automerge, SeedError> {
        let mut doc = Automerge::new().with_actor(self.actor.clone());
        doc.transact_with::<_, _, AutomergeError, _>(
            |_| {
                CommitOptions::default()
                    .with_message(user.to_owned())
                    .with_time(at.0 / 1000)
            },
            write,
        )
        .map_err(|f| f.error)?;
        Ok(doc)
    }

    fn push(&mut self, id: DocumentId, doc: &Automerge) -> Result<(), SeedError> {
        let record = Record::read(doc)?;
        self.batch.push(ChunkWrite::of(
            id,
            doc.save(),
            heads_digest(&doc.get_heads()),
            Some(record.meta()),
            Some(&record),
            self.dashboard,
        ));
        if self.batch.len() >= 2_000 {
            let full = std::mem::take(&mut self.batch);
            self.out.send(full).map_err(|_| SeedError::Stopped)?;
        }
        Ok(())
    }

    fn event(&mut self, kind: EventKind, at: Millis, actor: &str, role: Role) -> IssueEvent {
        self.events += 1;
        IssueEvent {
            id: format!("g{:x}-{}", self.rng.next() & 0xffff_ffff, self.events),
            kind,
            at,
            actor: actor.to_owned(),
            role: Some(role),
            note: String::new(),
            level: (kind == EventKind::Escalate).then_some(Level::Community),
            assignee: None,
            limit: None,
            satisfied: None,
            score: None,
        }
    }

    /// An issue raised on a visit at `at`, taken as far as `now` allows along one of three
    /// paths: closed in the grid, escalated and closed by the community, or left open.
    fn issue(
        &mut self,
        household: DocumentId,
        at: Millis,
        area: Area,
        now: Millis,
    ) -> Result<DocumentId, SeedError> {
        let id = self.rng.id();
        let worker = self.worker.clone();
        let secretary = self.secretary.clone();
        let report = self.event(EventKind::Report, at, &worker, Role::Worker);
        let draft = IssueDraft {
            grid: self.grid.clone(),
            source: IssueSource::Visit,
            area,
            description: PROBLEMS[Area::ALL.iter().position(|a| *a == area).unwrap_or(0)].into(),
            household: Some(household),
            location: String::new(),
            detail: Default::default(),
            report,
        };
        let mut doc = self.doc(&worker, at, |tx| draft.write(tx))?;
        let hour = Millis::HOUR;
        let path = self.rng.below(100);
        let steps: Vec<(EventKind, i64, bool)> = match path {
            // Closed in the grid (小事不出网格).
            0..=79 => vec![
                (EventKind::Accept, 2 * hour, false),
                (EventKind::Handle, 20 * hour, false),
                (EventKind::FollowUp, 28 * hour, false),
                (EventKind::Close, 30 * hour, false),
            ],
            // Escalated to the community, closed there.
            80..=91 => vec![
                (EventKind::Accept, 2 * hour, false),
                (EventKind::Escalate, 5 * hour, false),
                (EventKind::Accept, 20 * hour, true),
                (EventKind::Handle, 70 * hour, true),
                (EventKind::FollowUp, 85 * hour, true),
                (EventKind::Close, 90 * hour, true),
            ],
            // Accepted, then left: overdue once its step's day is past.
            _ => vec![(EventKind::Accept, 3 * hour, false)],
        };
        let mut open = true;
        for (kind, after, by_community) in steps {
            let t = at.plus(after);
            if t > now {
                break;
            }
            let (actor, role) = if by_community {
                (secretary.as_str(), Role::CommunitySupervisor)
            } else {
                (worker.as_str(), Role::Worker)
            };
            let mut e = self.event(kind, t, actor, role);
            if kind == EventKind::FollowUp {
                // Most residents are satisfied (回访满意率).
                e.satisfied = Some(self.rng.below(100) < 92);
            }
            doc.transact_with::<_, _, AutomergeError, _>(
                |_| {
                    CommitOptions::default()
                        .with_message(actor.to_owned())
                        .with_time(t.0 / 1000)
                },
                |tx| append_event(tx, &e),
            )
            .map_err(|f| f.error)?;
            open = kind != EventKind::Close;
            if e.satisfied == Some(false) {
                // Back to handling: left open (the close that would follow does not apply).
                break;
            }
        }
        self.made.issues += 1;
        self.made.open += u64::from(open);
        self.push(id, &doc)?;
        Ok(id)
    }

    /// The monthly reviews from the first visited week to `now`: the community's (filed by
    /// its first grid) half the months, each grid's own in most of the others.
    fn reviews(&mut self, plan: &Plan) -> Result<(), SeedError> {
        let cal = Calendar::CHINA;
        let today = cal.day(plan.now);
        let start = cal.day(Calendar::CHINA.week_start(plan.now)) - 7 * (i64::from(plan.weeks) - 1);
        let mut month = shared::trends::Month::of_day(start);
        loop {
            let (first, last) = month.days();
            if first > today {
                return Ok(());
            }
            let (lo, hi) = (first.max(start), last.min(today));
            let day = lo + self.rng.below((hi - lo + 1) as u64) as i64;
            // 14:00 China time.
            let held_at = Millis(day * Millis::DAY + 6 * Millis::HOUR);
            let community_wide = !self.community.is_empty() && self.rng.pct(50);
            let own = !community_wide && self.rng.pct(70);
            if held_at <= plan.now && (community_wide || own) {
                let also = if community_wide {
                    self.community
                        .iter()
                        .filter(|g| *g != self.grid)
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                let draft = ReviewDraft {
                    grid: self.grid.clone(),
                    also,
                    held_at,
                    attendees: vec![self.secretary.clone(), self.worker.clone()],
                    topics: vec![PROBLEMS[self.rng.below(5) as usize].into()],
                    issues: Vec::new(),
                    conclusions: "责任到人，下周回访".into(),
                };
                let id = self.rng.id();
                let secretary = self.secretary.clone();
                let doc = self.doc(&secretary, held_at, |tx| draft.write(tx))?;
                self.push(id, &doc)?;
                self.made.reviews += 1;
            }
            month = shared::trends::Month::of_day(last + 1);
        }
    }

    fn run(mut self, plan: &Plan, n0: usize) -> Result<Generated, SeedError> {
        let week0 = Calendar::CHINA.week_start(plan.now);
        let weeks = i64::from(plan.weeks);
        for h in 0..plan.households {
            let n = n0 + h;
            let tags = match self.rng.below(100) {
                0..=7 => vec!["elderly-alone".to_owned()],
                8..=10 => vec!["disabled".to_owned()],
                11..=15 => vec!["low-income".to_owned()],
                16..=25 => vec!["party-member".to_owned()],
                _ => Vec::new(),
            };
            let draft = HouseholdDraft {
                grid: self.grid.clone(),
                building: format!("{}", h / 24 + 1),
                unit: format!("{}", (h / 8) % 3 + 1),
                room: format!("{}0{}", (h % 8) / 2 + 1, h % 2 + 1),
                head: format!(
                    "{}{}",
                    SURNAMES[self.rng.below(12) as usize],
                    GIVEN[self.rng.below(12) as usize]
                ),
                contact: format!("13{:09}", (n as u64 * 7_919 + plan.seed) % 1_000_000_000),
                members: 1 + self.rng.below(5) as i64,
                tags: tags.clone(),
                notes: String::new(),
            };
            let registered = week0.plus(-(weeks + 1) * 7 * Millis::DAY);
            let household = self.rng.id();
            let worker = self.worker.clone();
            let doc = self.doc(&worker, registered, |tx| draft.write(tx))?;
            self.push(household, &doc)?;
            self.made.households += 1;
            for w in 0..weeks {
                let day = self.rng.below(6) as i64;
                let minute = 9 * 60 + self.rng.below(9 * 60) as i64;
                let at = week0
                    .plus(-(weeks - 1 - w) * 7 * Millis::DAY)
                    .plus(day * Millis::DAY + minute * 60_000);
                if at > plan.now {
                    continue;
                }
                let outcome = match self.rng.below(100) {
                    0..=84 => Outcome::Met,
                    85..=96 => Outcome::NotHome,
                    _ => Outcome::Declined,
                };
                let mut items = Vec::new();
                if outcome == Outcome::Met {
                    let area = Area::ALL[self.rng.below(5) as usize];
                    if self.rng.pct(6) {
                        let issue = self.issue(household, at, area, plan.now)?;
                        items.push(VisitItem {
                            area,
                            description: "走访中发现的问题".into(),
                            solved: false,
                            issue: Some(issue),
                        });
                    } else if self.rng.pct(20) {
                        items.push(VisitItem {
                            area,
                            description: "当场解答".into(),
                            solved: true,
                            issue: None,
                        });
                    }
                }
                let v = VisitDraft {
                    grid: self.grid.clone(),
                    household,
                    household_tags: tags.clone(),
                    visitors: vec![worker.clone()],
                    started_at: at,
                    ended_at: Some(at.plus(15 * 60_000)),
                    location: None,
                    outcome,
                    items,
                    notes: String::new(),
                };
                let id = self.rng.id();
                let doc = self.doc(&worker, at, |tx| v.write(tx))?;
                self.push(id, &doc)?;
                self.made.visits += 1;
            }
        }
        self.reviews(plan)?;
        let rest = std::mem::take(&mut self.batch);
        if !rest.is_empty() {
            self.out.send(rest).map_err(|_| SeedError::Stopped)?;
        }
        Ok(self.made)
    }
}

/// Writes the city of `plan` into `store` (after the accounts of the seed-shaped city), with
/// `progress` called after each committed batch with the records written so far.
pub fn generate(
    store: &dyn Storage,
    plan: &Plan,
    mut progress: impl FnMut(u64),
) -> Result<Generated, SeedError> {
    let grids: Vec<GridId> = layout(Size::Full).into_iter().take(plan.grids).collect();
    let dashboard = Dashboard::new(Calendar::CHINA);
    let (tx, rx) = mpsc::sync_channel::<Vec<ChunkWrite>>(4);
    let threads = 2usize;
    std::thread::scope(|s| {
        let mut workers = Vec::new();
        for t in 0..threads {
            let (tx, grids, dashboard) = (tx.clone(), &grids, &dashboard);
            workers.push(s.spawn(move || -> Result<Generated, SeedError> {
                let mut made = Generated::default();
                for (gi, grid) in grids.iter().enumerate().skip(t).step_by(threads) {
                    let mut actor = [0u8; 16];
                    actor[..8].copy_from_slice(&(gi as u64 + 1).to_le_bytes());
                    actor[8..].copy_from_slice(&plan.seed.to_le_bytes());
                    let slug = grid.as_str().replace('/', "-");
                    let community = grid.community().replace('/', "-");
                    let first_of_community =
                        grids.iter().find(|g| g.community() == grid.community()) == Some(grid);
                    let w = GridWriter {
                        grid,
                        community: if first_of_community {
                            (grids.iter())
                                .filter(|g| g.community() == grid.community())
                                .cloned()
                                .collect()
                        } else {
                            Vec::new()
                        },
                        worker: format!("w-{slug}"),
                        secretary: format!("sec-{community}"),
                        actor: ActorId::from(&actor[..]),
                        rng: Rng(plan.seed ^ (gi as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)),
                        dashboard,
                        batch: Vec::new(),
                        out: &tx,
                        made: Generated::default(),
                        events: 0,
                    };
                    made.add(&w.run(plan, gi * plan.households)?);
                }
                Ok(made)
            }));
        }
        drop(tx);
        let mut written = 0u64;
        for batch in rx {
            store.commit(&batch, &[], plan.now.0)?;
            written += batch.len() as u64;
            progress(written);
        }
        let mut total = Generated::default();
        for w in workers {
            total.add(&w.join().map_err(|_| SeedError::Stopped)??);
        }
        Ok(total)
    })
}

#[cfg(test)]
mod tests;
