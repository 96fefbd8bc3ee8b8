//! gridvisit's field PWA: the app a grid worker installs on a phone, and the supervisor's
//! screens of the same app.
//!
//! # Layout
//!
//! Plain Rust, tested natively (what the app decides):
//! - [`view`]: list summaries and rows (who is due this week), conflicts and how a resolution
//!   writes.
//! - [`error`]: what can go wrong, in the words the app shows.
//! - [`forms`]: what the visit form, the household form and an issue action write.
//! - [`review_form`]: what the monthly review form writes.
//! - [`issue_form`]: what reporting an issue with no household writes (issues anywhere).
//! - [`intent`]: edits kept until the server holds them, applied again after a refusal.
//! - [`link`]: the connection's status, reconnects and backoff.
//! - [`session`]: the signed-in user and the sign-in guard.
//! - [`local`]: what the phone keeps of each batch (chunks, summaries, acknowledgements).
//! - [`i18n`]: the two languages.
//!
//! `web/` (wasm32 only) drives the browser and decides nothing: IndexedDB, the WebSocket,
//! HTTP, the engine task around `shared`'s hub, and the Yew screens (`web/components/`).
//!
//! `cargo xtask app` builds it into `target/app`; the server serves that folder at `/`.

pub mod error;
pub mod figures;
pub mod forms;
pub mod i18n;
pub mod intent;
pub mod issue_form;
pub mod link;
pub mod local;
pub mod month_tables;
pub mod remote;
pub mod review_form;
pub mod session;
pub mod view;

pub use shared;

#[cfg(target_arch = "wasm32")]
mod web;

/// Starts the app when the module loads.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn main() {
    web::start();
}
