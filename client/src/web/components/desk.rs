//! The routes of the supervisors' and the admin's screens, in the desk module only.

use yew::prelude::*;

use super::admin::AdminScreen;
use super::supervisor::{MonthScreen, Overview, Queue, ReviewView, Team};
use crate::web::state::{AdminTab, Route};

/// The desk screen of a route, if it is one (field routes are the app's own).
pub(super) fn screen(route: &Route, admin: bool, supervisor: bool) -> Option<Html> {
    Some(match route {
        Route::Home if admin => html! { <AdminScreen tab={AdminTab::Guide} /> },
        Route::Home if supervisor => html! { <Overview path={String::new()} /> },
        Route::Area(path) => html! { <Overview path={path.clone()} /> },
        Route::Queue => html! { <Queue /> },
        Route::Month(path) => html! { <MonthScreen path={path.clone()} /> },
        Route::Review(id) => html! { <ReviewView id={*id} /> },
        Route::Team => html! { <Team /> },
        Route::Admin(tab) => html! { <AdminScreen tab={*tab} /> },
        _ => return None,
    })
}
