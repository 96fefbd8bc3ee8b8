//! The month view of an area (每月一次民情研判 needs it): the month's figures, week by week,
//! per part of the area and per worker, from the stored figures of [`crate::trends`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::GridId;
use crate::trends::{DayCounts, Month, week_key};

/// Where the stored figures come from (the server's database; a map in tests).
pub trait Source {
    /// A grid's counts for the days `lo..=hi`.
    fn days(&mut self, grid: &GridId, lo: i64, hi: i64) -> Vec<(i64, DayCounts)>;
    /// How many of a grid's issues were overdue at the end of `day`.
    fn overdue_at(&mut self, grid: &GridId, day: i64) -> i64;
    /// Distinct households of a grid visited in a period ([`crate::trends::week_key`],
    /// [`Month::key`]).
    fn distinct(&mut self, grid: &GridId, period: i64) -> i64;
}

/// The figures of one area over one period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeriodFigures {
    /// Households registered (now).
    pub households: i64,
    /// Distinct households visited in the period.
    pub visited: i64,
    /// What happened.
    pub counts: DayCounts,
    /// Issues overdue at the period's end.
    pub overdue: i64,
    /// Grids in the area.
    #[serde(default)]
    pub grids: i64,
    /// Of which held (or were covered by) a monthly review in the period.
    #[serde(default)]
    pub reviewed: i64,
}

impl PeriodFigures {
    fn absorb(&mut self, o: &Self) {
        self.households += o.households;
        self.visited += o.visited;
        self.overdue += o.overdue;
        self.grids += o.grids;
        self.reviewed += o.reviewed;
        self.counts.add(&o.counts, 1);
    }

    /// Share of households visited in the period.
    pub fn coverage(&self) -> f64 {
        share(self.visited, self.households)
    }

    /// Share of the area's grids that held a monthly review in the period.
    pub fn review_share(&self) -> f64 {
        share(self.reviewed, self.grids)
    }

    /// Share of closed issues closed without running past a deadline.
    pub fn on_time(&self) -> f64 {
        share(self.counts.on_time, self.counts.closed.iter().sum())
    }

    /// Share of items solved on the spot.
    pub fn on_the_spot(&self) -> f64 {
        share(self.counts.solved, self.counts.items_total())
    }
}

fn share(a: i64, b: i64) -> f64 {
    if b <= 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One week of the month (its days inside the month).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WeekFigures {
    /// First day (local day number) inside the month.
    pub first_day: i64,
    /// Last day inside the month.
    pub last_day: i64,
    /// Its figures: counts of its days in the month; distinct visits and overdue of the
    /// whole week (overdue at its end, or today's end while it runs).
    pub figures: PeriodFigures,
}

/// A month of an area.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MonthView {
    /// The area's path (`""`: the whole scope).
    pub area: String,
    /// `2026-11`.
    pub month: String,
    /// Its first local day.
    pub first_day: i64,
    /// Its last local day.
    pub last_day: i64,
    /// The whole month.
    pub total: PeriodFigures,
    /// Week by week.
    pub weeks: Vec<WeekFigures>,
    /// Per part one level down (streets, communities or grids; a grid's only part is itself).
    pub parts: BTreeMap<String, PeriodFigures>,
    /// Per grid.
    pub grids: BTreeMap<String, PeriodFigures>,
}

/// The part of `grid` one level below an area at `depth` (0 city, 1 street, 2 community).
fn part_of(grid: &GridId, depth: usize) -> String {
    match depth {
        0 => grid.street().to_owned(),
        1 => grid.community().to_owned(),
        _ => grid.to_string(),
    }
}

/// The month view of `grids` (with their household counts), an area at `depth`, as of
/// `today` (a local day: figures of a period under way stop there).
pub fn month_view(
    area: &str,
    depth: usize,
    grids: &[(GridId, i64)],
    month: Month,
    today: i64,
    src: &mut dyn Source,
) -> MonthView {
    let (first, last) = month.days();
    let end = last.min(today);
    let mut weeks: Vec<WeekFigures> = Vec::new();
    let mut d = first;
    while d <= last {
        let week_last = ((d + 3).div_euclid(7) * 7 - 3 + 6).min(last);
        weeks.push(WeekFigures {
            first_day: d,
            last_day: week_last,
            figures: PeriodFigures::default(),
        });
        d = week_last + 1;
    }
    let mut view = MonthView {
        area: area.to_owned(),
        month: month.to_string(),
        first_day: first,
        last_day: last,
        ..MonthView::default()
    };
    for (grid, households) in grids {
        let mut g = PeriodFigures {
            households: *households,
            ..PeriodFigures::default()
        };
        let days = if first <= end {
            src.days(grid, first, end)
        } else {
            Vec::new()
        };
        for w in &mut weeks {
            let mut f = PeriodFigures {
                households: *households,
                ..PeriodFigures::default()
            };
            for (_, c) in days
                .iter()
                .filter(|(d, _)| (w.first_day..=w.last_day).contains(d))
            {
                f.counts.add(c, 1);
            }
            f.grids = 1;
            f.reviewed = i64::from(f.counts.reviews > 0);
            if w.first_day <= today {
                f.visited = src.distinct(grid, week_key((w.first_day + 3).div_euclid(7)));
                f.overdue = src.overdue_at(grid, w.last_day.min(today));
            }
            w.figures.absorb(&f);
        }
        for (_, c) in &days {
            g.counts.add(c, 1);
        }
        g.grids = 1;
        g.reviewed = i64::from(g.counts.reviews > 0);
        if first <= today {
            g.visited = src.distinct(grid, month.key());
            g.overdue = src.overdue_at(grid, end);
        }
        view.total.absorb(&g);
        view.parts
            .entry(part_of(grid, depth))
            .or_default()
            .absorb(&g);
        view.grids.insert(grid.to_string(), g);
    }
    view.weeks = weeks;
    view
}

/// One row of the per-worker table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    /// The account.
    pub user: String,
    /// Display name.
    pub name: String,
    /// Their grids.
    pub grids: Vec<String>,
    /// Their grids' figures for the month.
    pub figures: PeriodFigures,
}

/// The per-worker table: each worker's grids' figures (`workers`: account, name, grids).
pub fn worker_rows(view: &MonthView, workers: &[(String, String, Vec<String>)]) -> Vec<WorkerRow> {
    let mut rows: Vec<WorkerRow> = workers
        .iter()
        .filter_map(|(user, name, grids)| {
            let mine: Vec<String> = grids
                .iter()
                .filter(|g| view.grids.contains_key(*g))
                .cloned()
                .collect();
            if mine.is_empty() {
                return None;
            }
            let mut figures = PeriodFigures::default();
            for g in &mine {
                figures.absorb(&view.grids[g]);
            }
            Some(WorkerRow {
                user: user.clone(),
                name: name.clone(),
                grids: mine,
                figures,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.grids.cmp(&b.grids).then(a.user.cmp(&b.user)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DocumentId;
    use crate::trends::{Delta, Trend};

    /// The stored figures as a map, folded from trends as the server folds them.
    #[derive(Default)]
    struct Map(Delta);

    impl Source for Map {
        fn days(&mut self, grid: &GridId, lo: i64, hi: i64) -> Vec<(i64, DayCounts)> {
            (self.0.days.iter())
                .filter(|((g, d), _)| g == grid && (lo..=hi).contains(d))
                .map(|((_, d), c)| (*d, c.clone()))
                .collect()
        }
        fn overdue_at(&mut self, grid: &GridId, day: i64) -> i64 {
            (self.0.overdue.iter())
                .filter(|((g, d), _)| g == grid && *d <= day)
                .map(|(_, n)| n)
                .sum()
        }
        fn distinct(&mut self, grid: &GridId, period: i64) -> i64 {
            (self.0.visited.iter())
                .filter(|((g, p, _), n)| g == grid && *p == period && **n > 0)
                .count() as i64
        }
    }

    #[test]
    fn a_month_counts_its_days_weeks_and_distinct_households() {
        let g: GridId = "s01/c01/g01".parse().expect("grid");
        let nov = Month::parse("2026-11").expect("month");
        let (first, last) = nov.days();
        let mut m = Map::default();
        let visit = |h: u8, day: i64| Trend::Visit {
            grid: g.clone(),
            household: DocumentId::from_bytes([h; 16]),
            day,
            counts: DayCounts {
                visits: 1,
                met: 1,
                ..DayCounts::default()
            },
        };
        // Household 1 twice, household 2 once, in November; household 3 in October.
        for t in [
            visit(1, first),
            visit(1, first + 10),
            visit(2, last),
            visit(3, first - 1),
        ] {
            m.0.add(&t, 1);
        }
        // An issue overdue from the 3rd to the 5th, and one from the 20th on.
        m.0.add(
            &Trend::Issue {
                grid: g.clone(),
                days: vec![(
                    first + 1,
                    DayCounts {
                        opened: 1,
                        ..DayCounts::default()
                    },
                )],
                overdue: vec![(first + 2, Some(first + 4)), (first + 19, None)],
            },
            1,
        );
        let v = month_view("", 0, &[(g.clone(), 10)], nov, last + 30, &mut m);
        assert_eq!(v.total.counts.visits, 3);
        assert_eq!(v.total.visited, 2);
        assert_eq!(v.total.counts.opened, 1);
        assert_eq!(v.total.overdue, 1, "the open span at the month's end");
        assert!((v.total.coverage() - 0.2).abs() < 1e-9);
        assert_eq!(
            v.weeks.iter().map(|w| w.figures.counts.visits).sum::<i64>(),
            3
        );
        assert_eq!(v.weeks.first().map(|w| w.first_day), Some(first));
        assert_eq!(v.weeks.last().map(|w| w.last_day), Some(last));
        assert!(v.weeks.iter().all(|w| w.last_day - w.first_day < 7));
        assert_eq!(v.parts.keys().collect::<Vec<_>>(), vec!["s01"]);
        // On the 4th, the first issue is overdue (its span covers the ends of the 3rd and 4th).
        let on_4th = month_view("", 0, &[(g.clone(), 10)], nov, first + 3, &mut m);
        assert_eq!(on_4th.total.overdue, 1);
        assert_eq!(
            on_4th.total.counts.visits, 1,
            "days after today are not counted"
        );
        let rows = worker_rows(&v, &[("w1".into(), "王".into(), vec![g.to_string()])]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].figures.counts.visits, 3);
    }

    #[test]
    fn the_share_of_grids_that_held_a_review_counts_each_covered_grid_once() {
        let grid = |s: &str| -> GridId { s.parse().expect("grid") };
        let (g1, g2, g3) = (
            grid("s01/c01/g01"),
            grid("s01/c01/g02"),
            grid("s01/c02/g01"),
        );
        let nov = Month::parse("2026-11").expect("month");
        let (first, last) = nov.days();
        let mut m = Map::default();
        // A community-wide review of c01 early in the month and a second one of g01 alone;
        // c02's grid only held one in October.
        for t in [
            Trend::Review {
                grids: vec![g1.clone(), g2.clone()],
                day: first + 2,
            },
            Trend::Review {
                grids: vec![g1.clone()],
                day: first + 20,
            },
            Trend::Review {
                grids: vec![g3.clone()],
                day: first - 3,
            },
        ] {
            m.0.add(&t, 1);
        }
        let grids = [(g1.clone(), 5), (g2.clone(), 5), (g3.clone(), 5)];
        let v = month_view("s01", 1, &grids, nov, last, &mut m);
        assert_eq!((v.total.reviewed, v.total.grids), (2, 3));
        assert!((v.total.review_share() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(v.total.counts.reviews, 3, "reviews held, per grid covered");
        assert_eq!(v.parts["s01/c01"].reviewed, 2);
        assert_eq!(v.parts["s01/c02"].reviewed, 0);
        let week = |d: i64| {
            (v.weeks.iter())
                .find(|w| (w.first_day..=w.last_day).contains(&d))
                .expect("week")
        };
        assert_eq!(week(first + 2).figures.reviewed, 2, "c01's week");
        assert_eq!(week(first + 20).figures.reviewed, 1, "g01's own week");
        // Before the first review was held, no grid had held one.
        let early = month_view("s01", 1, &grids, nov, first + 1, &mut m);
        assert_eq!(early.total.reviewed, 0);
        // Taking the community review out (an edit moved it) leaves g01's own.
        m.0.add(
            &Trend::Review {
                grids: vec![g1.clone(), g2.clone()],
                day: first + 2,
            },
            -1,
        );
        let after = month_view("s01", 1, &grids, nov, last, &mut m);
        assert_eq!(after.total.reviewed, 1);
    }
}
