//! Figures over time (DESIGN decision 8): what each record adds to the counts of its grid per
//! local day, the distinct households visited per grid and week or month, and the month view
//! built from them. Months are calendar months in China time; "overdue" for a period means
//! overdue at its end (at now, for the period under way).
//!
//! A record's [`Trend`] is stored beside it; a change replaces its old trend with the new one
//! as a [`Delta`] (counts go down, then up), so stored counts are always a fold over the
//! records, whatever order changes came in, and `gridvisit rebuild-figures` can recompute them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, GridId};
use crate::model::{Area, Outcome, Record};
use crate::time::{Calendar, Millis};

/// Counts of one grid on one local day. Signed, so a [`Delta`] can carry removals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    /// Visits made.
    #[serde(default)]
    pub visits: i64,
    /// Of which the household was met in person.
    #[serde(default)]
    pub met: i64,
    /// Items raised, per area ([`Area::ALL`] order).
    #[serde(default)]
    pub items: [i64; 5],
    /// Items solved on the spot.
    #[serde(default)]
    pub solved: i64,
    /// Issues reported.
    #[serde(default)]
    pub opened: i64,
    /// Issues escalated to each level (grid, community, street, city).
    #[serde(default)]
    pub escalated: [i64; 4],
    /// Issues closed, per closing level.
    #[serde(default)]
    pub closed: [i64; 4],
    /// Of the closed, those never past a step's deadline.
    #[serde(default)]
    pub on_time: i64,
    /// Visits to households with each special tag (as tagged at visit time).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged: BTreeMap<String, i64>,
    /// Monthly reviews (民情研判) that covered the grid.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reviews: i64,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl DayCounts {
    /// Adds `o` times `sign`.
    pub fn add(&mut self, o: &Self, sign: i64) {
        self.visits += sign * o.visits;
        self.met += sign * o.met;
        self.solved += sign * o.solved;
        self.opened += sign * o.opened;
        self.on_time += sign * o.on_time;
        self.reviews += sign * o.reviews;
        for i in 0..5 {
            self.items[i] += sign * o.items[i];
        }
        for i in 0..4 {
            self.escalated[i] += sign * o.escalated[i];
            self.closed[i] += sign * o.closed[i];
        }
        for (k, v) in &o.tagged {
            let e = self.tagged.entry(k.clone()).or_default();
            *e += sign * v;
            if *e == 0 {
                self.tagged.remove(k);
            }
        }
    }

    /// Nothing counted.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// Items raised in all areas.
    pub fn items_total(&self) -> i64 {
        self.items.iter().sum()
    }
}

/// What one record adds to the figures over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Trend {
    /// A visit.
    Visit {
        /// Its grid.
        grid: GridId,
        /// The household visited.
        household: DocumentId,
        /// Local day of its start.
        day: i64,
        /// What that day counts of it.
        counts: DayCounts,
    },
    /// An issue.
    Issue {
        /// Its grid.
        grid: GridId,
        /// What it counts, per local day.
        days: Vec<(i64, DayCounts)>,
        /// When it was overdue, as local days: counted overdue at the end of each day from the
        /// first to before the second ([`overdue_days`]).
        overdue: Vec<(i64, Option<i64>)>,
    },
    /// A monthly review: one review on its day for every grid it covers.
    Review {
        /// The grids it covers.
        grids: Vec<GridId>,
        /// Local day it was held.
        day: i64,
    },
}

/// The days at whose end a span `[from, until)` of overdue time is overdue: from the day
/// holding `from` to before the day whose end is at or after `until`.
pub fn overdue_days(
    cal: &Calendar,
    from: Millis,
    until: Option<Millis>,
) -> Option<(i64, Option<i64>)> {
    let first = cal.day(from);
    match until {
        None => Some((first, None)),
        Some(u) => {
            let stop = cal.day(u.plus(-1));
            (stop > first).then_some((first, Some(stop)))
        }
    }
}

impl Trend {
    /// What a record adds over time (households add nothing).
    pub fn of(record: &Record, cal: &Calendar) -> Option<Self> {
        match record {
            Record::Household(_) => None,
            Record::Visit(v) => {
                let mut c = DayCounts {
                    visits: 1,
                    met: i64::from(v.outcome.value == Outcome::Met),
                    ..DayCounts::default()
                };
                for item in &v.items {
                    let ix = Area::ALL.iter().position(|a| *a == item.area).unwrap_or(0);
                    c.items[ix] += 1;
                    c.solved += i64::from(item.solved);
                }
                for t in &v.household_tags {
                    c.tagged.insert(t.clone(), 1);
                }
                Some(Self::Visit {
                    grid: v.grid.clone(),
                    household: v.household,
                    day: cal.day(v.started_at),
                    counts: c,
                })
            }
            Record::Issue(i) => {
                let mut days: BTreeMap<i64, DayCounts> = BTreeMap::new();
                days.entry(cal.day(i.state.reported_at)).or_default().opened += 1;
                for e in &i.events {
                    if e.kind == crate::model::EventKind::Escalate
                        && !i.state.ignored.contains(&e.id)
                        && let Some(l) = e.level
                    {
                        days.entry(cal.day(e.at)).or_default().escalated[l.index()] += 1;
                    }
                }
                if let (Some(at), Some(level)) = (i.state.closed_at, i.state.closed_level) {
                    let d = days.entry(cal.day(at)).or_default();
                    d.closed[level.index()] += 1;
                    d.on_time += i64::from(i.state.closed_on_time());
                }
                let overdue = i
                    .state
                    .overdue_spans()
                    .into_iter()
                    .filter_map(|(a, b)| overdue_days(cal, a, b))
                    .collect();
                Some(Self::Issue {
                    grid: i.grid.clone(),
                    days: days.into_iter().collect(),
                    overdue,
                })
            }
            Record::Review(r) => Some(Self::Review {
                grids: r.grids.clone(),
                day: cal.day(r.held_at),
            }),
        }
    }
}

/// A period for distinct counts: a local week number, or a month (`year * 12 + month - 1`)
/// stored negated, so both share one key space.
pub fn week_key(week: i64) -> i64 {
    week
}

/// See [`week_key`].
pub fn month_key(month: i64) -> i64 {
    -month - 1
}

/// What replacing records' trends changes in the stored figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delta {
    /// Counts per grid and day.
    pub days: BTreeMap<(GridId, i64), DayCounts>,
    /// Changes of the overdue count at the end of each day and after: +1 from the day a span
    /// starts, -1 from the day it stops.
    pub overdue: BTreeMap<(GridId, i64), i64>,
    /// Visits per grid, period ([`week_key`], [`month_key`]) and household.
    pub visited: BTreeMap<(GridId, i64, DocumentId), i64>,
}

impl Delta {
    /// Adds a trend with `sign` (+1 to add, -1 to take out).
    pub fn add(&mut self, t: &Trend, sign: i64) {
        match t {
            Trend::Visit {
                grid,
                household,
                day,
                counts,
            } => {
                self.days
                    .entry((grid.clone(), *day))
                    .or_default()
                    .add(counts, sign);
                let (y, m, _) = civil(*day);
                let week = (*day + 3).div_euclid(7);
                for period in [week_key(week), month_key(y * 12 + m - 1)] {
                    *self
                        .visited
                        .entry((grid.clone(), period, *household))
                        .or_default() += sign;
                }
            }
            Trend::Issue {
                grid,
                days,
                overdue,
            } => {
                for (day, c) in days {
                    self.days
                        .entry((grid.clone(), *day))
                        .or_default()
                        .add(c, sign);
                }
                for (from, until) in overdue {
                    *self.overdue.entry((grid.clone(), *from)).or_default() += sign;
                    if let Some(u) = until {
                        *self.overdue.entry((grid.clone(), *u)).or_default() -= sign;
                    }
                }
            }
            Trend::Review { grids, day } => {
                for g in grids {
                    self.days.entry((g.clone(), *day)).or_default().reviews += sign;
                }
            }
        }
    }

    /// A record's trend went from `old` to `new`.
    pub fn replace(&mut self, old: Option<&Trend>, new: Option<&Trend>) {
        if old == new {
            return;
        }
        if let Some(o) = old {
            self.add(o, -1);
        }
        if let Some(n) = new {
            self.add(n, 1);
        }
    }
}

/// Year, month (1–12) and day of a local day number (days since 1970-01-01).
pub fn civil(day: i64) -> (i64, i64, i64) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The local day number of a date.
pub fn day_of(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    /// Year.
    pub year: i64,
    /// 1–12.
    pub month: i64,
}

impl Month {
    /// The month holding a local day.
    pub fn of_day(day: i64) -> Self {
        let (year, month, _) = civil(day);
        Self { year, month }
    }

    /// `2026-11`.
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        ((1970..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    /// Its first and last local days.
    pub fn days(self) -> (i64, i64) {
        let first = day_of(self.year, self.month, 1);
        let next = if self.month == 12 {
            day_of(self.year + 1, 1, 1)
        } else {
            day_of(self.year, self.month + 1, 1)
        };
        (first, next - 1)
    }

    /// The key of its distinct counts.
    pub fn key(self) -> i64 {
        month_key(self.year * 12 + self.month - 1)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_round_trip_in_china_time() {
        for day in [-1000, 0, 19_000, 20_424, 20_800] {
            let (y, m, d) = civil(day);
            assert_eq!(day_of(y, m, d), day);
        }
        // 2026-12-01 00:30 in China is still 30 November in UTC.
        let t = Millis(1_796_056_200_000);
        let day = Calendar::CHINA.day(t);
        assert_eq!(civil(day), (2026, 12, 1));
        let nov = Month::parse("2026-11").expect("month");
        let (a, b) = nov.days();
        assert_eq!((civil(a), civil(b)), ((2026, 11, 1), (2026, 11, 30)));
        assert_eq!(Month::of_day(b + 1).to_string(), "2026-12");
        assert_eq!(Month::parse("2026-13"), None);
        assert_ne!(nov.key(), week_key(2950));
    }

    #[test]
    fn a_span_is_overdue_at_the_end_of_the_days_it_covers() {
        let cal = Calendar::CHINA;
        let d0 = Millis(1_796_056_200_000); // 2026-12-01 00:30 local
        let day = cal.day(d0);
        // Overdue from 00:30 to 23:00 the same day: not at that day's end.
        assert_eq!(
            overdue_days(&cal, d0, Some(d0.plus(22 * Millis::HOUR))),
            None
        );
        // To the next morning: at the end of the first day only.
        assert_eq!(
            overdue_days(&cal, d0, Some(d0.plus(30 * Millis::HOUR))),
            Some((day, Some(day + 1)))
        );
        assert_eq!(overdue_days(&cal, d0, None), Some((day, None)));
    }

    #[test]
    fn replacing_a_trend_takes_the_old_one_out() {
        let grid: GridId = "s01/c01/g01".parse().expect("grid");
        let visit = |day: i64, met: i64| Trend::Visit {
            grid: grid.clone(),
            household: DocumentId::from_bytes([1; 16]),
            day,
            counts: DayCounts {
                visits: 1,
                met,
                ..DayCounts::default()
            },
        };
        let mut d = Delta::default();
        d.replace(None, Some(&visit(20_424, 0)));
        d.replace(Some(&visit(20_424, 0)), Some(&visit(20_425, 1)));
        assert!(d.days[&(grid.clone(), 20_424)].is_zero());
        assert_eq!(d.days[&(grid.clone(), 20_425)].met, 1);
        assert_eq!(d.visited.values().sum::<i64>(), 2, "one week and one month");
    }
}
