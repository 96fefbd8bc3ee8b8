//! Time as plain numbers: `shared` never reads a clock, callers pass `now` in.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    /// One second.
    pub const SECOND: i64 = 1_000;
    /// One hour.
    pub const HOUR: i64 = 3_600_000;
    /// One day.
    pub const DAY: i64 = 86_400_000;

    /// This instant plus `ms` milliseconds (saturating).
    #[must_use]
    pub const fn plus(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

/// Where days and weeks begin. Grid work runs on local time: China is UTC+8 all year.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Calendar {
    /// Offset of local time from UTC, in minutes.
    pub utc_offset_minutes: i32,
}

impl Calendar {
    /// China Standard Time (UTC+8, no daylight saving).
    pub const CHINA: Self = Self {
        utc_offset_minutes: 8 * 60,
    };

    /// The local day number (days since 1970-01-01 local time).
    pub fn day(&self, t: Millis) -> i64 {
        t.0.saturating_add(i64::from(self.utc_offset_minutes) * 60_000)
            .div_euclid(Millis::DAY)
    }

    /// The local week number; weeks start on Monday (1970-01-01 was a Thursday).
    pub fn week(&self, t: Millis) -> i64 {
        (self.day(t) + 3).div_euclid(7)
    }

    /// The first instant of the local week that contains `t`.
    pub fn week_start(&self, t: Millis) -> Millis {
        let day = self.week(t) * 7 - 3;
        Millis(
            day.saturating_mul(Millis::DAY)
                .saturating_sub(i64::from(self.utc_offset_minutes) * 60_000),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_in_china() {
        let cal = Calendar::CHINA;
        // 2026-11-23 00:00 +08:00 is a Monday: 2026-11-22T16:00:00Z.
        let monday = Millis(1_795_363_200_000);
        assert_eq!(cal.week_start(monday), monday);
        assert_eq!(cal.week(monday.plus(-1)), cal.week(monday) - 1);
        assert_eq!(cal.week(monday.plus(7 * Millis::DAY - 1)), cal.week(monday));
        assert_eq!(cal.day(monday.plus(Millis::DAY)), cal.day(monday) + 1);
    }
}
