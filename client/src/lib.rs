//! gridvisit's field PWA: the app a grid worker installs on a phone.
//!
//! - [`view`], [`i18n`] and [`export`]: what the screens show, in which language, and the
//!   CSV and Excel exports of it; plain Rust, tested natively.
//! - `web` (wasm32 only): IndexedDB, the WebSocket driver around `shared`'s hub, and the Yew
//!   screens.
//!
//! `cargo xtask app` builds it into `target/app`; the server serves that folder at `/`.

pub mod export;
pub mod i18n;
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
