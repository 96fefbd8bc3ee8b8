//! The monthly review form (民情研判) outside the view: what it writes, and the mistakes it
//! refuses before the server would (a date past the grace, a grid outside the community).

use serde::{Deserialize, Serialize};
use shared::ids::GridId;
use shared::model::ReviewDraft;
use shared::sync::REVIEW_GRACE;
use shared::time::{Calendar, Millis};
use shared::trends::{civil, day_of};

use crate::i18n::Lang;

/// What the form refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewError {
    /// The date is not a `YYYY-MM-DD` date.
    BadDate,
    /// The date is after today.
    InFuture,
    /// The date is further back than a review may still be recorded.
    TooOld,
    /// No grid was chosen.
    NoGrid,
    /// Nobody attended.
    NoAttendees,
    /// No conclusion was written.
    NoConclusions,
    /// A text is too long.
    TooLong,
}

impl ReviewError {
    /// The message, in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        match self {
            Self::BadDate => lang.t("请填写研判日期", "Enter the date it was held"),
            Self::InFuture => lang.t("日期不能晚于今天", "The date cannot be after today"),
            Self::TooOld => lang.t(
                "只能补记 35 天内的研判",
                "Only reviews of the last 35 days can be recorded",
            ),
            Self::NoGrid => lang.t("请选择研判的网格", "Choose the grids it covered"),
            Self::NoAttendees => lang.t("请填写参加人员", "Enter who attended"),
            Self::NoConclusions => lang.t("请填写研判结论", "Enter what it concluded"),
            Self::TooLong => lang.t("内容过长", "Text too long"),
        }
    }
}

/// The form's state (kept as a draft while it is filled in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewFormState {
    /// `YYYY-MM-DD`, China time.
    pub date: String,
    /// The grids chosen (of the area's community).
    pub grids: Vec<String>,
    /// Who attended: names separated by 、 , ; or new lines.
    pub attendees: String,
    /// Matters discussed, one per line.
    pub topics: String,
    /// Conclusions.
    pub conclusions: String,
}

/// A local day as `YYYY-MM-DD`.
pub fn date_of(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn day_of_date(s: &str) -> Option<i64> {
    let mut parts = s.trim().splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let day = day_of(y, m, d);
    (date_of(day) == format!("{y:04}-{m:02}-{d:02}")).then_some(day)
}

fn split(text: &str, seps: &[char]) -> Vec<String> {
    text.split(|c: char| c == '\n' || seps.contains(&c))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ReviewFormState {
    /// A new form: held today, covering every grid offered.
    pub fn new(now: Millis, grids: Vec<String>) -> Self {
        Self {
            date: date_of(Calendar::CHINA.day(now)),
            grids,
            attendees: String::new(),
            topics: String::new(),
            conclusions: String::new(),
        }
    }

    /// The review this form writes at `now`: held now if dated today, else at noon of its day.
    pub fn draft(&self, now: Millis) -> Result<ReviewDraft, ReviewError> {
        let cal = Calendar::CHINA;
        let today = cal.day(now);
        let day = day_of_date(&self.date).ok_or(ReviewError::BadDate)?;
        if day > today {
            return Err(ReviewError::InFuture);
        }
        // Noon in China (UTC+8) is 04:00 UTC.
        let held_at = if day == today {
            now
        } else {
            Millis(day * Millis::DAY + 4 * Millis::HOUR)
        };
        if held_at.0 < now.0 - REVIEW_GRACE {
            return Err(ReviewError::TooOld);
        }
        let mut grids: Vec<GridId> = Vec::new();
        for g in &self.grids {
            let g: GridId = g.parse().map_err(|_| ReviewError::NoGrid)?;
            if !grids.contains(&g) {
                grids.push(g);
            }
        }
        let Some(grid) = grids.first().cloned() else {
            return Err(ReviewError::NoGrid);
        };
        let attendees = split(&self.attendees, &['、', ',', '，', ';', '；']);
        if attendees.is_empty() {
            return Err(ReviewError::NoAttendees);
        }
        if self.conclusions.trim().is_empty() {
            return Err(ReviewError::NoConclusions);
        }
        let topics = split(&self.topics, &[]);
        if attendees.iter().any(|a| a.chars().count() > 64)
            || topics.iter().any(|t| t.chars().count() > 500)
            || self.conclusions.chars().count() > 4000
        {
            return Err(ReviewError::TooLong);
        }
        Ok(ReviewDraft {
            grid,
            also: grids.split_off(1),
            held_at,
            attendees,
            topics,
            issues: Vec::new(),
            conclusions: self.conclusions.trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = Millis(1_796_200_200_000);

    fn filled() -> ReviewFormState {
        let mut f = ReviewFormState::new(NOW, vec!["s01/c01/g02".into(), "s01/c01/g01".into()]);
        f.attendees = "王书记、李网格员, 张楼长\n".into();
        f.topics = "楼道灯\n\n独居老人".into();
        f.conclusions = " 三日内修复 ".into();
        f
    }

    #[test]
    fn a_filled_form_writes_a_review_of_its_grids_held_now() {
        let d = filled().draft(NOW).expect("valid");
        assert_eq!(d.grid.as_str(), "s01/c01/g02");
        assert_eq!(d.also.len(), 1);
        assert_eq!(d.held_at, NOW);
        assert_eq!(d.attendees, vec!["王书记", "李网格员", "张楼长"]);
        assert_eq!(d.topics, vec!["楼道灯", "独居老人"]);
        assert_eq!(d.conclusions, "三日内修复");
    }

    #[test]
    fn an_earlier_date_is_held_at_its_noon_within_the_grace() {
        let today = Calendar::CHINA.day(NOW);
        let mut f = filled();
        f.date = date_of(today - 3);
        let d = f.draft(NOW).expect("valid");
        assert_eq!(Calendar::CHINA.day(d.held_at), today - 3);
        f.date = date_of(today - 40);
        assert_eq!(f.draft(NOW), Err(ReviewError::TooOld));
        f.date = date_of(today + 1);
        assert_eq!(f.draft(NOW), Err(ReviewError::InFuture));
        f.date = "2026-02-30".into();
        assert_eq!(f.draft(NOW), Err(ReviewError::BadDate));
    }

    #[test]
    fn the_form_refuses_what_is_missing() {
        let mut f = filled();
        f.grids.clear();
        assert_eq!(f.draft(NOW), Err(ReviewError::NoGrid));
        let mut f = filled();
        f.attendees = " 、 ".into();
        assert_eq!(f.draft(NOW), Err(ReviewError::NoAttendees));
        let mut f = filled();
        f.conclusions = "  ".into();
        assert_eq!(f.draft(NOW), Err(ReviewError::NoConclusions));
        let mut f = filled();
        f.conclusions = "长".repeat(4001);
        assert_eq!(f.draft(NOW), Err(ReviewError::TooLong));
    }
}
