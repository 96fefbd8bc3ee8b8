//! The supervisor's screens: the overview of their area and the issue queue of their level,
//! with exports of what they show.

mod charts;
mod corrections;
mod export_buttons;
mod month;
mod overview;
mod pinned_list;
mod provision_qr;
mod queue;
mod review;
mod team;

pub(crate) use month::MonthScreen;
pub(crate) use overview::Overview;
pub(crate) use pinned_list::PinnedList;
pub(crate) use provision_qr::ProvisionQr;
pub(crate) use queue::Queue;
pub(crate) use review::ReviewView;
pub(crate) use team::Team;
