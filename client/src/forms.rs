//! The forms' logic, outside the views: what a visit form, a household form and an issue
//! action write, and the mistakes they refuse. Form state is what drafts keep in IndexedDB.

use automerge::AutomergeError;
use automerge::transaction::Transaction;
use serde::{Deserialize, Serialize};
use shared::ids::{DocumentId, GridId};
use shared::model::household::edit;
use shared::model::rules::escalation_target;
use shared::model::{
    Area, EventKind, Household, IssueDraft, IssueEvent, IssueSource, Level, Location, Outcome,
    Role, VisitDraft, VisitItem,
};
use shared::time::Millis;

use crate::i18n::Lang;

/// A mistake a form refuses before it writes anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormError {
    /// A visit needs an outcome.
    NoOutcome,
    /// Every item of a visit needs a description.
    EmptyItem,
    /// An item's area is not one of the five.
    UnknownArea,
    /// The member count is not a whole number.
    MembersNotNumber,
    /// A dispatch needs someone to dispatch to.
    NoAssignee,
    /// The member count is out of range.
    MembersOutOfRange,
    /// A text is too long.
    TooLong,
    /// An issue needs a grid of the user's scope.
    NoGrid,
}

impl FormError {
    /// The message, in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        match self {
            Self::NoOutcome => lang.t("请选择走访结果", "Choose how the visit went"),
            Self::EmptyItem => lang.t("每个事项都需要描述", "Every item needs a description"),
            Self::UnknownArea => lang.t("未知的领域", "Unknown area"),
            Self::MembersNotNumber => lang.t("人数须为整数", "Members must be a whole number"),
            Self::NoAssignee => lang.t("请填写派遣给谁", "Say whom to dispatch to"),
            Self::MembersOutOfRange => lang.t("人数应在 0–200 之间", "Members must be 0–200"),
            Self::TooLong => lang.t("内容过长", "Text too long"),
            Self::NoGrid => lang.t("请选择网格", "Choose a grid"),
        }
    }
}

/// One item of the visit form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemForm {
    /// Area code.
    pub area: String,
    /// What was found.
    pub description: String,
    /// Solved on the spot (otherwise reported as an issue).
    pub solved: bool,
}

/// The visit form as its draft keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitFormState {
    /// When the form was opened.
    pub started_at: i64,
    /// Outcome code, empty until chosen.
    pub outcome: String,
    /// Items found.
    pub items: Vec<ItemForm>,
    /// Notes.
    pub notes: String,
    /// Record the device's location.
    pub locate: bool,
}

impl VisitFormState {
    /// A fresh form opened at `now`.
    pub fn new(now: Millis) -> Self {
        Self {
            started_at: now.0,
            outcome: String::new(),
            items: Vec::new(),
            notes: String::new(),
            locate: false,
        }
    }

    /// A new item (needs, solved on the spot, as the form starts one).
    pub fn add_item(&mut self) {
        self.items.push(ItemForm {
            area: Area::Needs.code().to_owned(),
            description: String::new(),
            solved: true,
        });
    }

    /// The outcome, once the form is complete enough to save.
    pub fn check(&self) -> Result<Outcome, FormError> {
        let outcome = match self.outcome.as_str() {
            "met" => Outcome::Met,
            "not_home" => Outcome::NotHome,
            "declined" => Outcome::Declined,
            _ => return Err(FormError::NoOutcome),
        };
        if self.items.iter().any(|i| i.description.trim().is_empty()) {
            return Err(FormError::EmptyItem);
        }
        if self.notes.chars().count() > 4000
            || self
                .items
                .iter()
                .any(|i| i.description.chars().count() > 2000)
        {
            return Err(FormError::TooLong);
        }
        Ok(outcome)
    }
}

/// What saving a visit writes: first an issue for each item not solved on the spot, then the
/// visit that links them.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitPlan {
    /// New issues.
    pub issues: Vec<(DocumentId, IssueDraft)>,
    /// The visit.
    pub visit: (DocumentId, VisitDraft),
}

/// Where a visit is saved, by whom, and when.
pub struct VisitContext<'a> {
    /// The household visited.
    pub household: DocumentId,
    /// Its grid.
    pub grid: &'a GridId,
    /// The worker.
    pub user: &'a str,
    /// Their role.
    pub role: Role,
    /// The time of saving.
    pub now: Millis,
    /// The location, if the worker allowed it.
    pub location: Option<Location>,
    /// The household's special tags now (kept on the visit for the figures).
    pub tags: &'a [String],
}

/// A form opened more than this long ago (a draft resumed the next day) records the visit as
/// of now.
const STALE_DRAFT: i64 = 6 * Millis::HOUR;

/// Plans a visit from its form. `new_id` draws a document ID, `event_id` an event ID.
pub fn plan_visit(
    f: &VisitFormState,
    at: &VisitContext<'_>,
    mut new_id: impl FnMut() -> DocumentId,
    mut event_id: impl FnMut() -> String,
) -> Result<VisitPlan, FormError> {
    let outcome = f.check()?;
    let now = at.now;
    let started = if now.0 - f.started_at > STALE_DRAFT || f.started_at > now.0 {
        now
    } else {
        Millis(f.started_at)
    };
    let mut issues = Vec::new();
    let mut items = Vec::new();
    for item in &f.items {
        let area: Area = item.area.parse().map_err(|_| FormError::UnknownArea)?;
        let description = item.description.trim().to_owned();
        let issue = if item.solved {
            None
        } else {
            let id = new_id();
            issues.push((
                id,
                IssueDraft {
                    grid: at.grid.clone(),
                    source: IssueSource::Visit,
                    area,
                    description: description.clone(),
                    household: Some(at.household),
                    location: String::new(),
                    detail: Default::default(),
                    report: IssueEvent {
                        id: event_id(),
                        kind: EventKind::Report,
                        at: now,
                        actor: at.user.to_owned(),
                        role: Some(at.role),
                        note: String::new(),
                        level: None,
                        assignee: None,
                        limit: None,
                        satisfied: None,
                        score: None,
                    },
                },
            ));
            Some(id)
        };
        items.push(VisitItem {
            area,
            description,
            solved: item.solved,
            issue,
        });
    }
    let visit = VisitDraft {
        grid: at.grid.clone(),
        household: at.household,
        visitors: vec![at.user.to_owned()],
        started_at: started,
        ended_at: Some(now),
        location: at.location,
        outcome,
        items,
        notes: f.notes.clone(),
        household_tags: at.tags.to_vec(),
    };
    Ok(VisitPlan {
        issues,
        visit: (new_id(), visit),
    })
}

/// The household form as its draft keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HouseholdFormState {
    /// Head of household.
    pub head: String,
    /// Contact phone.
    pub contact: String,
    /// Member count as typed.
    pub members: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Notes.
    pub notes: String,
}

/// The tags the form offers.
pub const TAGS: [&str; 6] = [
    "elderly-alone",
    "disabled",
    "low-income",
    "party-member",
    "veteran",
    "rental",
];

impl HouseholdFormState {
    /// The form filled from a household.
    pub fn of(h: &Household) -> Self {
        Self {
            head: h.head.value.clone(),
            contact: h.contact.value.clone(),
            members: h.members.value.to_string(),
            tags: h.tags.clone(),
            notes: h.notes.clone(),
        }
    }
}

/// One field the household form changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdChange {
    /// Head of household.
    Head(String),
    /// Contact.
    Contact(String),
    /// Member count.
    Members(i64),
    /// A tag on or off.
    Tag(String, bool),
    /// Notes.
    Notes(String),
}

/// What the household form writes: only the fields that changed, so others' concurrent edits
/// of other fields merge. A member count in conflict is written again even if unchanged, which
/// resolves the conflict.
pub fn household_changes(
    old: &Household,
    new: &HouseholdFormState,
) -> Result<Vec<HouseholdChange>, FormError> {
    let members: i64 = new
        .members
        .trim()
        .parse()
        .map_err(|_| FormError::MembersNotNumber)?;
    // The value rules of `shared::model::checks`, caught before they are written.
    if !(0..=shared::model::checks::MAX_MEMBERS).contains(&members) {
        return Err(FormError::MembersOutOfRange);
    }
    if new.head.chars().count() > 64
        || new.contact.chars().count() > 32
        || new.notes.chars().count() > 4000
    {
        return Err(FormError::TooLong);
    }
    let mut out = Vec::new();
    if new.head != old.head.value {
        out.push(HouseholdChange::Head(new.head.clone()));
    }
    if new.contact != old.contact.value {
        out.push(HouseholdChange::Contact(new.contact.clone()));
    }
    if members != old.members.value || old.members.is_conflicted() {
        out.push(HouseholdChange::Members(members));
    }
    for t in TAGS {
        let (was, is) = (
            old.tags.iter().any(|x| x == t),
            new.tags.iter().any(|x| x == t),
        );
        if was != is {
            out.push(HouseholdChange::Tag(t.to_owned(), is));
        }
    }
    if new.notes != old.notes {
        out.push(HouseholdChange::Notes(new.notes.clone()));
    }
    Ok(out)
}

/// Writes household changes.
pub fn write_household(
    tx: &mut Transaction<'_>,
    changes: &[HouseholdChange],
) -> Result<(), AutomergeError> {
    for c in changes {
        match c {
            HouseholdChange::Head(v) => edit::set_head(tx, v)?,
            HouseholdChange::Contact(v) => edit::set_contact(tx, v)?,
            HouseholdChange::Members(n) => edit::set_members(tx, *n)?,
            HouseholdChange::Tag(t, on) => edit::set_tag(tx, t, *on)?,
            HouseholdChange::Notes(v) => edit::set_notes(tx, v)?,
        }
    }
    Ok(())
}

/// An action a user takes on an issue from its screen.
pub struct IssueAction<'a> {
    /// What.
    pub kind: EventKind,
    /// The issue's level now (an escalation goes one level up from it).
    pub level: Level,
    /// The latest time among the events the user sees: the new event is never dated earlier
    /// (the server refuses an event dated before what its writer had seen).
    pub latest: Option<Millis>,
    /// The note typed.
    pub note: &'a str,
    /// Whom to dispatch to, as typed.
    pub assignee: &'a str,
    /// A follow-up's answer: whether the resident is satisfied (回访).
    pub satisfied: bool,
}

/// The event an issue action appends, dated `now` unless the issue already holds a later
/// event (a device clock behind the others').
pub fn issue_event(
    action: &IssueAction<'_>,
    actor: (&str, Role),
    now: Millis,
    id: String,
) -> Result<IssueEvent, FormError> {
    let who = action.assignee.trim();
    if action.kind == EventKind::Dispatch && who.is_empty() {
        return Err(FormError::NoAssignee);
    }
    Ok(IssueEvent {
        id,
        kind: action.kind,
        at: action.latest.map_or(now, |l| l.max(now)),
        actor: actor.0.to_owned(),
        role: Some(actor.1),
        note: action.note.trim().to_owned(),
        level: (action.kind == EventKind::Escalate).then_some(escalation_target(action.level)),
        assignee: (action.kind == EventKind::Dispatch).then(|| who.to_owned()),
        limit: None,
        satisfied: (action.kind == EventKind::FollowUp).then_some(action.satisfied),
        score: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> impl FnMut() -> DocumentId {
        let mut n = 0u8;
        move || {
            n += 1;
            DocumentId::from_bytes([n; 16])
        }
    }

    #[test]
    fn a_visit_with_an_unsolved_item_reports_an_issue_first_and_links_it() {
        let now = Millis(1_800_000_000_000);
        let mut f = VisitFormState::new(Millis(now.0 - 60_000));
        assert_eq!(f.check(), Err(FormError::NoOutcome));
        f.outcome = "met".into();
        f.add_item();
        assert_eq!(f.check(), Err(FormError::EmptyItem));
        f.items[0].description = " 楼道灯坏了 ".into();
        f.items[0].solved = false;
        f.items[0].area = "infrastructure".into();
        let grid: GridId = "s01/c01/g01".parse().expect("grid");
        let at = VisitContext {
            household: DocumentId::from_bytes([9; 16]),
            grid: &grid,
            user: "w1",
            role: Role::Worker,
            now,
            location: None,
            tags: &["elderly-alone".to_owned()],
        };
        let plan = plan_visit(&f, &at, ids(), || "e1".into()).expect("plan");
        assert_eq!(
            plan.visit.1.household_tags,
            vec!["elderly-alone".to_owned()]
        );
        assert_eq!(plan.issues.len(), 1);
        let (issue_id, issue) = &plan.issues[0];
        assert_eq!(issue.description, "楼道灯坏了");
        assert_eq!(issue.report.actor, "w1");
        let (_, visit) = &plan.visit;
        assert_eq!(visit.items[0].issue, Some(*issue_id));
        assert_eq!(visit.started_at, Millis(now.0 - 60_000));
        assert_eq!(visit.outcome, Outcome::Met);
        // A draft resumed the next day is a visit now.
        let mut old = f.clone();
        old.started_at = now.0 - Millis::DAY;
        let plan = plan_visit(&old, &at, ids(), || "e".into()).expect("plan");
        assert_eq!(plan.visit.1.started_at, now);
    }

    #[test]
    fn a_dispatch_needs_an_assignee_and_an_escalation_goes_one_level_up() {
        let act = |kind, assignee, latest| IssueAction {
            kind,
            level: Level::Grid,
            latest,
            note: " 备注 ",
            assignee,
            satisfied: false,
        };
        let me = ("s", Role::CommunitySupervisor);
        assert_eq!(
            issue_event(
                &act(EventKind::Dispatch, " ", None),
                me,
                Millis(1),
                "i".into()
            ),
            Err(FormError::NoAssignee)
        );
        let e = issue_event(
            &act(EventKind::Dispatch, " w1 ", None),
            me,
            Millis(1),
            "i".into(),
        )
        .expect("event");
        assert_eq!(
            (e.assignee.as_deref(), e.note.as_str(), e.role),
            (Some("w1"), "备注", Some(Role::CommunitySupervisor))
        );
        let e = issue_event(
            &act(EventKind::Escalate, "", None),
            me,
            Millis(1),
            "i".into(),
        )
        .expect("event");
        assert_eq!(e.level, Some(Level::Community));
        // A clock behind the issue's latest event dates the new one at that event, not before.
        let e = issue_event(
            &act(EventKind::Comment, "", Some(Millis(50))),
            me,
            Millis(1),
            "i".into(),
        )
        .expect("event");
        assert_eq!(e.at, Millis(50));
    }
}
