//! Figures pushed over the sync connection (`gv-watch` / `gv-figures`): each supervisor's
//! browser watches one area of its scope and is pushed that area's figures when a commit
//! changes one of its grids (at most every [`THROTTLE`]), and every [`REFRESH`] besides, since
//! "today", "this week" and "overdue" move with the clock.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use shared::aggregate::Dashboard;
use shared::ids::{GridId, Scope};
use shared::sync::ConnId;
use shared::time::Millis;
use shared::wire::Message;

/// At most one push per watcher this often while records change.
pub const THROTTLE: Duration = Duration::from_millis(100);
/// A push at least this often, for figures that move with the clock.
pub const REFRESH: Duration = Duration::from_secs(30);

struct Watcher {
    area: String,
    scope: Scope,
    /// The figures last pushed (JSON), to push only what changed.
    sent: Option<Vec<u8>>,
    /// A grid of the area changed since the last push.
    dirty: bool,
}

/// Who watches what, and what changed since the last push.
#[derive(Default)]
pub struct Watchers {
    by_conn: HashMap<ConnId, Watcher>,
    last_push: Option<Millis>,
}

impl Watchers {
    /// A connection watches an area from now on (replacing what it watched).
    pub fn watch(&mut self, conn: ConnId, area: String, scope: Scope) {
        self.by_conn.insert(
            conn,
            Watcher {
                area,
                scope,
                sent: None,
                dirty: true,
            },
        );
    }

    /// A connection is gone.
    pub fn forget(&mut self, conn: ConnId) {
        self.by_conn.remove(&conn);
    }

    /// A commit changed records of these grids.
    pub fn changed<'a>(&mut self, grids: impl IntoIterator<Item = &'a GridId>) {
        let grids: HashSet<&GridId> = grids.into_iter().collect();
        if grids.is_empty() {
            return;
        }
        for w in self.by_conn.values_mut() {
            if !w.dirty && grids.iter().any(|g| w.scope.contains(g)) {
                w.dirty = true;
            }
        }
    }

    /// How long the engine may wait for input before [`Watchers::push`] is due.
    pub fn due_in(&self, now: Millis) -> Duration {
        if self.by_conn.is_empty() {
            return REFRESH;
        }
        let since = self
            .last_push
            .map_or(i64::MAX, |t| now.0.saturating_sub(t.0));
        let wait = |d: Duration| {
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            Duration::from_millis(u64::try_from(ms.saturating_sub(since)).unwrap_or(0))
        };
        if self.by_conn.values().any(|w| w.sent.is_none()) {
            Duration::ZERO
        } else if self.by_conn.values().any(|w| w.dirty) {
            wait(THROTTLE)
        } else {
            wait(REFRESH)
        }
    }

    /// The `gv-figures` frames due at `now`, per connection.
    pub fn push(&mut self, now: Millis, dashboard: &Dashboard) -> Vec<(ConnId, Vec<u8>)> {
        if !self.due_in(now).is_zero() {
            return Vec::new();
        }
        let refresh = self
            .last_push
            .is_none_or(|t| now.0 - t.0 >= i64::try_from(REFRESH.as_millis()).unwrap_or(i64::MAX));
        self.last_push = Some(now);
        let mut frames = Vec::new();
        for (conn, w) in &mut self.by_conn {
            if !(w.dirty || refresh || w.sent.is_none()) {
                continue;
            }
            w.dirty = false;
            let figures = dashboard.area_figures(now, &w.scope);
            let Ok(json) = serde_json::to_vec(&figures) else {
                continue;
            };
            if w.sent.as_ref() == Some(&json) {
                continue;
            }
            let msg = Message::GvFigures {
                area: w.area.clone(),
                at: now.0,
                figures: json.clone(),
            };
            w.sent = Some(json);
            frames.push((*conn, msg.encode()));
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::aggregate::{Contribution, Figures};
    use shared::time::Calendar;

    fn figures_of(frame: &[u8]) -> (String, Figures) {
        let Ok(Message::GvFigures { area, figures, .. }) = Message::decode(frame, 1 << 20) else {
            panic!("a gv-figures frame");
        };
        let f: serde_json::Value = serde_json::from_slice(&figures).expect("json");
        let total = &f["total"];
        let mut out = Figures::default();
        out.total.households = total["households"].as_u64().expect("households");
        for k in f["streets"].as_object().expect("streets").keys() {
            out.streets.insert(k.clone(), Default::default());
        }
        for k in f["grids"].as_object().expect("grids").keys() {
            out.grids.insert(k.clone(), Default::default());
        }
        (area, out)
    }

    #[test]
    fn a_watcher_is_pushed_its_area_when_it_changes_and_only_then() {
        let mut d = Dashboard::new(Calendar::CHINA);
        let g1: GridId = "s01/c01/g01".parse().expect("grid");
        let g2: GridId = "s02/c01/g01".parse().expect("grid");
        let add = |d: &mut Dashboard, n: u8, g: &GridId| {
            d.apply_contribution(
                shared::ids::DocumentId::from_bytes([n; 16]),
                Some(Contribution::Household {
                    grid: g.clone(),
                    needs_correction: false,
                }),
            );
        };
        add(&mut d, 1, &g1);
        add(&mut d, 2, &g2);
        let mut w = Watchers::default();
        let (city, street) = (ConnId(1), ConnId(2));
        w.watch(city, String::new(), Scope::City);
        w.watch(street, "s02".into(), Scope::Street("s02".into()));
        let t0 = Millis(1_780_000_000_000);
        let frames = w.push(t0, &d);
        assert_eq!(frames.len(), 2);
        let (area, f) = figures_of(&frames.iter().find(|f| f.0 == city).expect("city").1);
        assert_eq!(area, "");
        assert_eq!(f.total.households, 2);
        assert_eq!(f.streets.len(), 2, "the city's table is its streets");
        assert!(f.grids.is_empty(), "and nothing deeper");
        // A change in s01 is pushed to the city only, and not before the throttle allows.
        add(&mut d, 3, &g1);
        w.changed([&g1]);
        assert!(w.due_in(t0.plus(10)) > Duration::ZERO);
        assert!(w.push(t0.plus(10), &d).is_empty());
        let frames = w.push(t0.plus(150), &d);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, city);
        assert_eq!(figures_of(&frames[0].1).1.total.households, 3);
        // Nothing changed: nothing is pushed until the refresh, and then only what differs.
        assert!(w.push(t0.plus(400), &d).is_empty());
        assert!(w.push(t0.plus(40_000), &d).is_empty(), "the same figures");
        w.forget(city);
        add(&mut d, 4, &g2);
        w.changed([&g2]);
        let frames = w.push(t0.plus(40_200), &d);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, street);
    }
}
