//! The worker's screens: the grid's households (due this week first), a household with its
//! visits and issues, the visit and household forms, a visit, and the worker's issues. Nothing
//! here imports supervisor code.

mod household_form;
mod household_view;
mod households;
mod my_issues;
mod visit_form;
mod visit_view;

pub(crate) use household_form::HouseholdForm;
pub(crate) use household_view::HouseholdView;
pub(crate) use households::Households;
#[cfg(feature = "desk")]
pub(crate) use households::household_list;
pub(crate) use my_issues::MyIssues;
pub(crate) use visit_form::VisitForm;
pub(crate) use visit_view::VisitView;
