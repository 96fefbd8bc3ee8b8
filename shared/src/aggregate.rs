//! Dashboard figures as a pure, incremental fold over merged records.
//!
//! [`Dashboard::apply`] takes the latest state of one record (or `None` when it is gone or
//! invalid). Each document's contribution is remembered, so re-applying a changed record first
//! takes its old contribution out: any order of applications, with any repeats, ends at the
//! same figures as recomputing from scratch. Time-dependent figures (this week, today,
//! overdue) are computed at read time from `now`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::ids::{DocumentId, GridId, Scope};
use crate::model::{Level, Outcome, Record, Status};
use crate::time::{Calendar, Millis};

/// What one record adds to its grid's figures: all the dashboard keeps of a record, small enough
/// for a server to store beside each document and rebuild the dashboard from at start.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Contribution {
    /// A household.
    Household {
        /// Its grid.
        grid: GridId,
        /// It breaks a value rule ([`crate::model::checks`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_correction: bool,
    },
    /// A visit.
    Visit {
        /// Its grid.
        grid: GridId,
        /// The household visited.
        household: DocumentId,
        /// Local week number of its start.
        week: i64,
        /// Local day number of its start.
        day: i64,
        /// Whether the household was met.
        met: bool,
        /// It breaks a value rule.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_correction: bool,
    },
    /// An issue.
    Issue {
        /// Its grid.
        grid: GridId,
        /// The level responsible now.
        level: Level,
        /// Whether it is open.
        open: bool,
        /// The current step's deadline.
        deadline: Option<Millis>,
        /// The level it was closed at.
        closed_level: Option<Level>,
        /// When it was closed (rows written before this was kept lack it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        closed_at: Option<Millis>,
        /// It breaks a value rule.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_correction: bool,
        /// The last follow-up's answer (回访), if one was made.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        satisfied: Option<bool>,
        /// The resident's rating (1–5), if they gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rating: Option<u8>,
    },
    /// A monthly review: counted in the month figures ([`crate::trends`]), not live.
    Review {
        /// The grid it is filed under.
        grid: GridId,
        /// The other grids it covers.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<GridId>,
        /// Local day number it was held on.
        day: i64,
        /// It breaks a value rule.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_correction: bool,
    },
}

impl Contribution {
    fn grid(&self) -> &GridId {
        match self {
            Self::Household { grid, .. }
            | Self::Visit { grid, .. }
            | Self::Issue { grid, .. }
            | Self::Review { grid, .. } => grid,
        }
    }

    /// Whether the record breaks a value rule.
    pub fn needs_correction(&self) -> bool {
        match self {
            Self::Household {
                needs_correction, ..
            }
            | Self::Visit {
                needs_correction, ..
            }
            | Self::Issue {
                needs_correction, ..
            }
            | Self::Review {
                needs_correction, ..
            } => *needs_correction,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
struct GridState {
    households: u64,
    needs_correction: u64,
    /// week → household → (visits, met visits)
    weeks: HashMap<i64, HashMap<DocumentId, (u32, u32)>>,
    days: HashMap<i64, u64>,
    open_by_level: [u64; 4],
    deadlines: BTreeMap<Millis, u64>,
    closed_by_level: [u64; 4],
    followed_up: u64,
    satisfied: u64,
    ratings: u64,
    rating_sum: u64,
}

fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u64>, k: K, up: bool) {
    let v = map.entry(k).or_default();
    if up {
        *v += 1;
    } else {
        *v = v.saturating_sub(1);
    }
}

impl GridState {
    fn add(&mut self, c: &Contribution, up: bool) {
        let delta = |v: &mut u64| {
            if up {
                *v += 1;
            } else {
                *v = v.saturating_sub(1);
            }
        };
        if c.needs_correction() {
            delta(&mut self.needs_correction);
        }
        match c {
            Contribution::Household { .. } => delta(&mut self.households),
            Contribution::Visit {
                household,
                week,
                day,
                met,
                ..
            } => {
                let week_map = self.weeks.entry(*week).or_default();
                let entry = week_map.entry(*household).or_default();
                let m = u32::from(*met);
                if up {
                    entry.0 += 1;
                    entry.1 += m;
                } else {
                    entry.0 = entry.0.saturating_sub(1);
                    entry.1 = entry.1.saturating_sub(m);
                }
                if entry.0 == 0 {
                    week_map.remove(household);
                }
                if week_map.is_empty() {
                    self.weeks.remove(week);
                }
                bump(&mut self.days, *day, up);
                if self.days.get(day) == Some(&0) {
                    self.days.remove(day);
                }
            }
            Contribution::Issue {
                level,
                open,
                deadline,
                closed_level,
                satisfied,
                rating,
                ..
            } => {
                if let Some(yes) = satisfied {
                    delta(&mut self.followed_up);
                    if *yes {
                        delta(&mut self.satisfied);
                    }
                }
                if let Some(score) = rating {
                    delta(&mut self.ratings);
                    if up {
                        self.rating_sum += u64::from(*score);
                    } else {
                        self.rating_sum = self.rating_sum.saturating_sub(u64::from(*score));
                    }
                }
                if *open {
                    delta(&mut self.open_by_level[level.index()]);
                    if let Some(d) = deadline {
                        let v = self.deadlines.entry(*d).or_default();
                        delta(v);
                        if *v == 0 {
                            self.deadlines.remove(d);
                        }
                    }
                } else if let Some(l) = closed_level {
                    delta(&mut self.closed_by_level[l.index()]);
                }
            }
            Contribution::Review { .. } => {}
        }
    }
}

/// The figures of one grid, community, street or the whole area. Counts add up across grids.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Tally {
    /// Households registered.
    pub households: u64,
    /// Households with at least one visit this week (any outcome).
    pub visited_this_week: u64,
    /// Households met in person this week.
    pub met_this_week: u64,
    /// Visits recorded today.
    pub visits_today: u64,
    /// Open issues per level: grid, community, street, city.
    pub open_by_level: [u64; 4],
    /// Open issues past their step deadline.
    pub overdue: u64,
    /// Closed issues per closing level: grid, community, street, city.
    pub closed_by_level: [u64; 4],
    /// Records that break a value rule and need correcting.
    pub needs_correction: u64,
    /// Issues whose resident was asked whether it is solved (回访).
    #[serde(default)]
    pub followed_up: u64,
    /// Of those, the ones whose last answer was "satisfied".
    #[serde(default)]
    pub satisfied: u64,
    /// Issues a resident rated.
    #[serde(default)]
    pub ratings: u64,
    /// The sum of those ratings (1–5 each).
    #[serde(default)]
    pub rating_sum: u64,
}

impl Tally {
    fn absorb(&mut self, o: &Self) {
        self.households += o.households;
        self.visited_this_week += o.visited_this_week;
        self.met_this_week += o.met_this_week;
        self.visits_today += o.visits_today;
        self.overdue += o.overdue;
        self.needs_correction += o.needs_correction;
        self.followed_up += o.followed_up;
        self.satisfied += o.satisfied;
        self.ratings += o.ratings;
        self.rating_sum += o.rating_sum;
        for i in 0..4 {
            self.open_by_level[i] += o.open_by_level[i];
            self.closed_by_level[i] += o.closed_by_level[i];
        }
    }

    /// Share of households visited this week (0..=1; 0 with no households).
    pub fn coverage(&self) -> f64 {
        ratio(self.visited_this_week, self.households)
    }

    /// Share of followed-up issues whose resident is satisfied (满意率).
    pub fn satisfaction(&self) -> f64 {
        ratio(self.satisfied, self.followed_up)
    }

    /// The residents' mean rating (0 with none).
    pub fn mean_rating(&self) -> f64 {
        ratio(self.rating_sum, self.ratings)
    }

    /// Open issues at every level.
    pub fn open(&self) -> u64 {
        self.open_by_level.iter().sum()
    }

    /// Closed issues.
    pub fn closed(&self) -> u64 {
        self.closed_by_level.iter().sum()
    }

    /// Share of closed issues closed within the grid (小事不出网格).
    pub fn closed_at_grid_share(&self) -> f64 {
        ratio(self.closed_by_level[0], self.closed())
    }

    /// Share of closed issues closed at the community level.
    pub fn closed_at_community_share(&self) -> f64 {
        ratio(self.closed_by_level[1], self.closed())
    }

    /// Share of closed issues closed within the community, grid included (大事不出社区).
    pub fn closed_within_community_share(&self) -> f64 {
        ratio(
            self.closed_by_level[0] + self.closed_by_level[1],
            self.closed(),
        )
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Figures for an area at one instant, with per-street, per-community and per-grid tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Figures {
    /// The whole area.
    pub total: Tally,
    /// Per street.
    pub streets: BTreeMap<String, Tally>,
    /// Per community (`street/community`).
    pub communities: BTreeMap<String, Tally>,
    /// Per grid.
    pub grids: BTreeMap<String, Tally>,
}

/// The incremental fold. See the module docs.
#[derive(Clone, Debug)]
pub struct Dashboard {
    calendar: Calendar,
    docs: HashMap<DocumentId, Contribution>,
    grids: BTreeMap<GridId, GridState>,
}

impl Dashboard {
    /// An empty dashboard whose days and weeks follow `calendar`.
    pub fn new(calendar: Calendar) -> Self {
        Self {
            calendar,
            docs: HashMap::new(),
            grids: BTreeMap::new(),
        }
    }

    /// Records one document's latest state: `None` when it is absent or not a valid record.
    pub fn apply(&mut self, id: DocumentId, record: Option<&Record>) {
        let new = record.map(|r| self.contribution(r));
        self.apply_contribution(id, new);
    }

    /// Records one document's latest contribution (as stored beside it).
    pub fn apply_contribution(&mut self, id: DocumentId, new: Option<Contribution>) {
        let old = self.docs.remove(&id);
        if old == new {
            if let Some(c) = old {
                self.docs.insert(id, c);
            }
            return;
        }
        self.replace(old.as_ref(), new.as_ref());
        if let Some(new) = new {
            self.docs.insert(id, new);
        }
    }

    /// Replaces one document's contribution when the caller keeps the old one (a server stores
    /// it beside the document). Keeps no per-document state: memory follows grids, this
    /// period's visited households and open issues, not the number of records.
    pub fn replace(&mut self, old: Option<&Contribution>, new: Option<&Contribution>) {
        if old == new {
            return;
        }
        if let Some(old) = old
            && let Some(g) = self.grids.get_mut(old.grid())
        {
            g.add(old, false);
            if *g == GridState::default() {
                self.grids.remove(old.grid());
            }
        }
        if let Some(new) = new {
            self.grids
                .entry(new.grid().clone())
                .or_default()
                .add(new, true);
        }
    }

    /// Forgets visits of weeks and days before the ones containing `now` minus a week: the
    /// figures only look at this week and today. Later corrections to forgotten visits are
    /// ignored (their removal saturates at zero).
    pub fn prune(&mut self, now: Millis) {
        let week = self.calendar.week(now) - 1;
        let day = self.calendar.day(now) - 7;
        for g in self.grids.values_mut() {
            g.weeks.retain(|w, _| *w >= week);
            g.days.retain(|d, _| *d >= day);
        }
    }

    /// How many documents contribute.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether no document contributes.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// What a record contributes, under this dashboard's calendar.
    pub fn contribution(&self, r: &Record) -> Contribution {
        let needs_correction = !crate::model::problems(r).is_empty();
        match r {
            Record::Household(h) => Contribution::Household {
                grid: h.grid.clone(),
                needs_correction,
            },
            Record::Visit(v) => Contribution::Visit {
                grid: v.grid.clone(),
                household: v.household,
                week: self.calendar.week(v.started_at),
                day: self.calendar.day(v.started_at),
                met: v.outcome.value == Outcome::Met,
                needs_correction,
            },
            Record::Issue(i) => Contribution::Issue {
                grid: i.grid.clone(),
                level: i.state.level,
                open: i.state.status != Status::Closed,
                deadline: i.state.deadline,
                closed_level: i.state.closed_level,
                closed_at: i.state.closed_at,
                needs_correction,
                satisfied: i
                    .events
                    .iter()
                    .rev()
                    .filter(|e| e.kind == crate::model::EventKind::FollowUp)
                    .find_map(|e| e.satisfied),
                rating: i.state.rating,
            },
            Record::Review(r) => Contribution::Review {
                grid: r.grid.clone(),
                also: r.grids.iter().filter(|g| **g != r.grid).cloned().collect(),
                day: self.calendar.day(r.held_at),
                needs_correction,
            },
        }
    }

    /// The grids inside `scope` that hold records, with their households.
    pub fn households(&self, scope: &Scope) -> Vec<(GridId, u64)> {
        self.grids
            .iter()
            .filter(|(g, _)| scope.contains(g))
            .map(|(g, s)| (g.clone(), s.households))
            .collect()
    }

    /// The figures of an area as an overview shows them: the area's total, its own row and the
    /// table of its parts one level down, nothing deeper (what a supervisor's browser is
    /// pushed: a city's figures are its streets, not its 514 grids).
    pub fn area_figures(&self, now: Millis, area: &Scope) -> Figures {
        let mut f = self.figures(now, area);
        match area {
            Scope::City => {
                f.communities.clear();
                f.grids.clear();
            }
            Scope::Street(_) => f.grids.clear(),
            Scope::Community(_) | Scope::Grids(_) => {}
        }
        f
    }

    /// The figures of the grids inside `scope` at `now`.
    pub fn figures(&self, now: Millis, scope: &Scope) -> Figures {
        let week = self.calendar.week(now);
        let day = self.calendar.day(now);
        let mut out = Figures::default();
        for (grid, g) in self.grids.iter().filter(|(grid, _)| scope.contains(grid)) {
            let this_week = g.weeks.get(&week);
            let t = Tally {
                households: g.households,
                visited_this_week: this_week.map_or(0, |w| w.len() as u64),
                met_this_week: this_week
                    .map_or(0, |w| w.values().filter(|(_, m)| *m > 0).count() as u64),
                visits_today: g.days.get(&day).copied().unwrap_or(0),
                open_by_level: g.open_by_level,
                overdue: g.deadlines.range(..now).map(|(_, n)| n).sum(),
                closed_by_level: g.closed_by_level,
                needs_correction: g.needs_correction,
                followed_up: g.followed_up,
                satisfied: g.satisfied,
                ratings: g.ratings,
                rating_sum: g.rating_sum,
            };
            out.total.absorb(&t);
            out.streets
                .entry(grid.street().to_owned())
                .or_default()
                .absorb(&t);
            out.communities
                .entry(grid.community().to_owned())
                .or_default()
                .absorb(&t);
            out.grids.insert(grid.to_string(), t);
        }
        out
    }
}
