//! What each device holds (DESIGN.md decision 10): the one rule the server's feed, its live
//! pushes and a client's digests and pruning all follow.
//!
//! - A worker's or volunteer's phone holds its grids' households, every open issue, issues
//!   closed within the window and visits dated within it (8 weeks by default, a server setting).
//! - A supervisor's browser holds the open issues at its level in its area (its queue); the
//!   area's figures come from the server, and any other record is fetched on demand.
//!
//! A record's [`Standing`] is all the rule reads of it: small enough to be written beside every
//! entry of the server's change feed, so a listing filters without loading documents.

use crate::aggregate::Contribution;
use crate::ids::Scope;
use crate::model::{Level, Record, Role};
use crate::time::{Calendar, Millis};

/// The window a phone keeps closed issues and visits for, by default: 8 weeks.
pub const DEFAULT_WINDOW_DAYS: i64 = 56;

/// Where a record stands, as far as holding it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// A household: held by its grid's phones.
    Household,
    /// A visit on this local day number.
    Visit {
        /// [`Calendar::day`] of its start.
        day: i64,
    },
    /// An open issue at this level.
    Open(Level),
    /// A closed issue, closed at this time (`None`: a row written before close times were
    /// kept; held, to be safe, until `gridvisit rebuild-figures` recomputes it).
    Closed {
        /// When it was closed.
        at: Option<Millis>,
    },
    /// A monthly review held on this local day number: fetched on demand, held by no device
    /// by default.
    Review {
        /// [`Calendar::day`] it was held on.
        day: i64,
    },
    /// Not a record any device holds by default.
    Other,
}

impl Standing {
    /// The bit of a level's queue in a set of levels an issue has been open at.
    pub fn queue_bit(l: Level) -> u8 {
        1 << l.index()
    }

    /// The queues this standing is in, as bits.
    pub fn queue_bits(self) -> u8 {
        match self {
            Self::Open(l) => Self::queue_bit(l),
            _ => 0,
        }
    }

    /// The 9 bytes written into feed entries: a class byte and an `i64`.
    pub fn encode(self) -> [u8; 9] {
        let (class, v): (u8, i64) = match self {
            Self::Other => (0, 0),
            Self::Household => (1, 0),
            Self::Visit { day } => (2, day),
            Self::Open(l) => (3 + l.index() as u8, 0),
            Self::Closed { at: None } => (7, i64::MIN),
            Self::Closed { at: Some(t) } => (7, t.0),
            Self::Review { day } => (8, day),
        };
        let mut out = [0; 9];
        out[0] = class;
        out[1..].copy_from_slice(&v.to_be_bytes());
        out
    }

    /// Reads [`Standing::encode`]'s bytes; anything else is `Other`.
    pub fn decode(b: &[u8]) -> Self {
        let Some((&class, rest)) = b.split_first() else {
            return Self::Other;
        };
        let v = rest
            .get(..8)
            .and_then(|r| <[u8; 8]>::try_from(r).ok())
            .map_or(0, i64::from_be_bytes);
        match class {
            1 => Self::Household,
            2 => Self::Visit { day: v },
            3..=6 => Self::Open(Level::ALL[usize::from(class - 3)]),
            7 if v == i64::MIN => Self::Closed { at: None },
            7 => Self::Closed {
                at: Some(Millis(v)),
            },
            8 => Self::Review { day: v },
            _ => Self::Other,
        }
    }
}

impl Standing {
    /// Where a record stands, its visit day under `cal`.
    pub fn of(record: &Record, cal: &Calendar) -> Self {
        match record {
            Record::Household(_) => Self::Household,
            Record::Visit(v) => Self::Visit {
                day: cal.day(v.started_at),
            },
            Record::Issue(i) if i.state.is_open() => Self::Open(i.state.level),
            Record::Issue(i) => Self::Closed {
                at: i.state.closed_at,
            },
            Record::Review(r) => Self::Review {
                day: cal.day(r.held_at),
            },
        }
    }
}

impl Contribution {
    /// Where this record stands for holding.
    pub fn standing(&self) -> Standing {
        match self {
            Self::Household { .. } => Standing::Household,
            Self::Visit { day, .. } => Standing::Visit { day: *day },
            Self::Issue {
                open: true, level, ..
            } => Standing::Open(*level),
            Self::Issue { closed_at, .. } => Standing::Closed { at: *closed_at },
            Self::Review { day, .. } => Standing::Review { day: *day },
        }
    }
}

/// Whose device, and which part of the scope it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keeps {
    /// A phone: households, open issues, and what the window holds.
    Field,
    /// A supervisor: the open issues at this level.
    Queue(Level),
    /// A department's browser: nothing by default, only the issues it opens (its inbox is
    /// listed by the server).
    Nothing,
}

impl Keeps {
    /// What a role's device keeps.
    pub fn of(role: Role) -> Self {
        match role {
            Role::Department => Self::Nothing,
            _ => role.level().map_or(Self::Field, Self::Queue),
        }
    }
}

/// What one device should hold at one instant: a scope, what of it, and the window's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    /// The user's scope.
    pub scope: Scope,
    /// Which records of it.
    pub keeps: Keeps,
    /// Visits on this local day or later are held.
    pub since_day: i64,
    /// Issues closed at this time or later are held.
    pub since: Millis,
}

impl Holding {
    /// The holding of a role and scope at `now`, with a window of `window_days`.
    pub fn new(role: Role, scope: Scope, now: Millis, window_days: i64, cal: &Calendar) -> Self {
        Self {
            scope,
            keeps: Keeps::of(role),
            since_day: cal.day(now) - window_days + 1,
            since: now.plus(-window_days * Millis::DAY),
        }
    }

    /// Whether a change to a record standing so, that has been in the queues of `levels`
    /// ([`Standing::queue_bit`]), is listed to this device: what it holds, and an issue that
    /// left its queue (its copy is stale; once in sync the device lets it go).
    pub fn lists(&self, s: Standing, levels: u8) -> bool {
        self.holds(s)
            || match self.keeps {
                Keeps::Queue(l) => levels & Standing::queue_bit(l) != 0,
                Keeps::Field | Keeps::Nothing => false,
            }
    }

    /// Whether a record standing so (inside the scope) is held.
    pub fn holds(&self, s: Standing) -> bool {
        match (self.keeps, s) {
            (Keeps::Field, Standing::Household | Standing::Open(_)) => true,
            (Keeps::Field, Standing::Visit { day }) => day >= self.since_day,
            (Keeps::Field, Standing::Closed { at }) => at.is_none_or(|t| t >= self.since),
            (Keeps::Queue(mine), Standing::Open(l)) => l == mine,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(now: Millis) -> Holding {
        Holding::new(
            Role::Worker,
            Scope::City,
            now,
            DEFAULT_WINDOW_DAYS,
            &Calendar::CHINA,
        )
    }

    #[test]
    fn standings_round_trip_through_feed_bytes() {
        for s in [
            Standing::Other,
            Standing::Household,
            Standing::Visit { day: -3 },
            Standing::Visit { day: 20_000 },
            Standing::Open(Level::Grid),
            Standing::Open(Level::City),
            Standing::Closed { at: None },
            Standing::Closed {
                at: Some(Millis(1_700_000_000_000)),
            },
            Standing::Review { day: 20_500 },
        ] {
            assert_eq!(Standing::decode(&s.encode()), s);
        }
        assert_eq!(Standing::decode(&[]), Standing::Other);
        assert_eq!(Standing::decode(&[99; 9]), Standing::Other);
    }

    #[test]
    fn a_phone_holds_eight_weeks_of_visits_and_closed_issues() {
        let now = Millis(1_780_000_000_000);
        let h = field(now);
        let today = Calendar::CHINA.day(now);
        assert!(h.holds(Standing::Household));
        assert!(h.holds(Standing::Open(Level::City)));
        assert!(h.holds(Standing::Visit { day: today }));
        assert!(h.holds(Standing::Visit { day: today - 55 }));
        assert!(!h.holds(Standing::Visit { day: today - 56 }));
        let closed = |days: i64| Standing::Closed {
            at: Some(now.plus(-days * Millis::DAY)),
        };
        assert!(h.holds(closed(55)));
        assert!(!h.holds(closed(57)));
        assert!(h.holds(Standing::Closed { at: None }));
        assert!(!h.holds(Standing::Other));
        assert!(
            !h.holds(Standing::Review { day: today }),
            "reviews come on demand"
        );
    }

    #[test]
    fn a_supervisor_holds_only_the_queue_of_its_level() {
        let now = Millis(1_780_000_000_000);
        let h = Holding::new(
            Role::StreetSupervisor,
            Scope::Street("s01".into()),
            now,
            DEFAULT_WINDOW_DAYS,
            &Calendar::CHINA,
        );
        assert!(h.holds(Standing::Open(Level::Street)));
        assert!(!h.holds(Standing::Open(Level::Grid)));
        assert!(!h.holds(Standing::Open(Level::Community)));
        assert!(!h.holds(Standing::Household));
        assert!(!h.holds(Standing::Visit {
            day: Calendar::CHINA.day(now)
        }));
        assert!(!h.holds(Standing::Closed { at: Some(now) }));
    }
}
