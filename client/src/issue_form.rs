//! Reporting an issue with no household (issues anywhere): what a worker sees on patrol at a
//! place, or a complaint a supervisor takes by phone. Pure: the screen gives it the form and
//! the IDs.

use shared::ids::GridId;
use shared::model::issue::Detail;
use shared::model::{Area, EventKind, IssueDraft, IssueEvent, IssueSource, Role};
use shared::time::Millis;

use crate::forms::FormError;

/// The form as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IssueFormState {
    /// The grid (a code in the user's scope).
    pub grid: String,
    /// The area code.
    pub area: String,
    /// What it is about.
    pub description: String,
    /// Where (`3号楼北侧路灯`).
    pub place: String,
    /// Photos taken for it (SHA-256 each), kept on the phone until uploaded.
    pub photos: Vec<String>,
}

/// The longest description the form takes.
pub const MAX_DESCRIPTION: usize = 2_000;

/// The issue a filled form reports, as `user` acting as `role`, at `now`.
pub fn plan_issue(
    f: &IssueFormState,
    (user, role): (&str, Role),
    now: Millis,
    event_id: String,
) -> Result<IssueDraft, FormError> {
    let grid: GridId = f.grid.parse().map_err(|_| FormError::NoGrid)?;
    let area: Area = f.area.parse().map_err(|_| FormError::UnknownArea)?;
    let description = f.description.trim().to_owned();
    if description.is_empty() {
        return Err(FormError::EmptyItem);
    }
    if description.chars().count() > MAX_DESCRIPTION || f.place.chars().count() > 200 {
        return Err(FormError::TooLong);
    }
    Ok(IssueDraft {
        grid,
        source: IssueSource::Other,
        area,
        description,
        household: None,
        location: f.place.trim().to_owned(),
        detail: Detail {
            photos: f.photos.clone(),
            ..Detail::default()
        },
        report: IssueEvent::new(
            event_id,
            EventKind::Report,
            now,
            user.to_owned(),
            Some(role),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patrol_issue_needs_a_grid_an_area_and_words_and_has_no_household() {
        let mut f = IssueFormState {
            area: "infrastructure".into(),
            description: " 3号楼北侧路灯不亮 ".into(),
            place: "3号楼北侧".into(),
            ..IssueFormState::default()
        };
        let me = ("w1", Role::Worker);
        assert_eq!(
            plan_issue(&f, me, Millis(5), "e".into()),
            Err(FormError::NoGrid)
        );
        f.grid = "s01/c01/g01".into();
        let d = plan_issue(&f, me, Millis(5), "e".into()).expect("valid");
        assert_eq!((d.source, d.household), (IssueSource::Other, None));
        assert_eq!(d.description, "3号楼北侧路灯不亮");
        assert_eq!(d.location, "3号楼北侧");
        assert_eq!(d.report.role, Some(Role::Worker));
        f.description = "  ".into();
        assert_eq!(
            plan_issue(&f, me, Millis(5), "e".into()),
            Err(FormError::EmptyItem)
        );
    }
}
