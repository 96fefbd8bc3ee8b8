//! The screens, one component a file. Chinese first, English on a switch; laid out for a
//! phone first. Every text a worker or resident wrote is rendered as a text node (Yew escapes
//! it), never as HTML.
//!
//! - `app.rs`: boot, the reducer, the tabs and the router.
//! - `common/`: what every role sees (status bar, sign-in, issues, a record's history).
//! - `field/`: the worker's screens (households, visits, their issues). They never import
//!   supervisor code.
//! - `supervisor/`: the overview, the issue queue, exports and the team's sign-in codes.
//! - `admin/`: the setup guide, the organisation, people, the household import, the audit log.
//! - `desk.rs`: the routes of the supervisors' and the admin's screens. They, `supervisor/`
//!   and `admin/` are built only with the feature `desk` (the module `gridvisit-desk`); a
//!   worker's phone downloads the field module, without them.

#[cfg(feature = "desk")]
mod admin;
mod app;
mod common;
#[cfg(feature = "desk")]
mod desk;
#[cfg(not(feature = "desk"))]
mod desk {
    /// The field module has no desk screens.
    pub(super) fn screen(_: &crate::web::state::Route, _: bool, _: bool) -> Option<yew::Html> {
        None
    }
}
mod field;
#[cfg(feature = "desk")]
mod supervisor;

pub(crate) use app::App;

use shared::time::Millis;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

pub(crate) fn value_of<T: JsCast>(e: &Event) -> Option<T> {
    e.target().and_then(|t| t.dyn_into::<T>().ok())
}

/// The text of the input or text area an input event came from.
pub(crate) fn input_value(e: &InputEvent) -> String {
    value_of::<HtmlInputElement>(e)
        .map(|i| i.value())
        .or_else(|| value_of::<HtmlTextAreaElement>(e).map(|t| t.value()))
        .unwrap_or_default()
}

/// A time as the device shows it: `2026-12-02 08:30`.
pub(crate) fn date_time(t: Millis) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t.0 as f64));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}
