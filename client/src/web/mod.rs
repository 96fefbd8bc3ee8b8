//! Everything that needs a browser, and nothing that decides: IndexedDB (`idb.rs`), the
//! WebSocket (`socket.rs`), HTTP (`http.rs`), the engine task that drives `shared`'s hub with
//! them (`engine.rs`, `driver.rs`), and the Yew screens (`state.rs`, `hooks.rs`,
//! `components/`). What to do comes from the plain-Rust modules of the crate.

mod components;
mod driver;
mod engine;
mod handle;
mod hooks;
mod http;
mod idb;
mod photos;
mod socket;
mod state;

use js_sys::Promise;
use shared::time::Millis;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;

/// Mounts the app on `#app`.
pub(crate) fn start() {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
    else {
        return;
    };
    root.set_inner_html("");
    yew::Renderer::<components::App>::with_root(root).render();
}

/// The device clock, as records store time.
pub(crate) fn now() -> Millis {
    Millis(js_sys::Date::now() as i64)
}

/// Random bytes from the browser's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut out).is_ok());
    if !filled {
        for b in &mut out {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    out
}

/// A random number in `0..1` (reconnect jitter).
pub(crate) fn random() -> f64 {
    js_sys::Math::random()
}

/// Resolves after `ms` milliseconds (0: after the browser had a turn).
pub(crate) async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Resolves after the browser painted the next frame (two animation frames).
pub(crate) async fn after_paint() {
    for _ in 0..2 {
        let promise = Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.request_animation_frame(&resolve);
            }
        });
        let _ = JsFuture::from(promise).await;
    }
}

/// The device's position, if the worker allows it (10 s at most).
pub(crate) async fn locate() -> Option<shared::model::Location> {
    let geo = web_sys::window()?.navigator().geolocation().ok()?;
    let promise = Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move |pos: web_sys::Position| {
            let _ = resolve.call1(&wasm_bindgen::JsValue::NULL, &pos);
        });
        let err = Closure::once_into_js(move |e: wasm_bindgen::JsValue| {
            let _ = reject.call1(&wasm_bindgen::JsValue::NULL, &e);
        });
        let options = web_sys::PositionOptions::new();
        options.set_timeout(10_000);
        let _ = geo.get_current_position_with_error_callback_and_options(
            ok.unchecked_ref(),
            Some(err.unchecked_ref()),
            &options,
        );
    });
    let pos: web_sys::Position = JsFuture::from(promise).await.ok()?.unchecked_into();
    let c = pos.coords();
    Some(shared::model::Location {
        lat: c.latitude(),
        lon: c.longitude(),
        accuracy: c.accuracy(),
    })
}

/// Asks the browser to keep this site's storage under pressure (`navigator.storage.persist()`).
pub(crate) async fn persist_storage() -> bool {
    let Some(w) = web_sys::window() else {
        return false;
    };
    let Ok(p) = w.navigator().storage().persist() else {
        return false;
    };
    JsFuture::from(p)
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// A `performance.mark` (the cold-start benchmark reads them).
pub(crate) fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

/// Lets the user save bytes as a file through a temporary link.
#[cfg(feature = "desk")]
pub(crate) fn download(name: &str, mime: &str, bytes: &[u8]) -> Result<(), wasm_bindgen::JsValue> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| wasm_bindgen::JsValue::from_str("no document"))?;
    let a: web_sys::HtmlAnchorElement = doc.create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    web_sys::Url::revoke_object_url(&url)
}

const ORG_KEY: &str = "gridvisit-org";

/// The organisation's names as last fetched (empty when never fetched): names show offline.
pub(crate) fn load_org() -> shared::org::Org {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(ORG_KEY).ok().flatten())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Keeps the organisation's names for the next start.
pub(crate) fn save_org(org: &shared::org::Org) {
    if let (Some(s), Ok(text)) = (
        web_sys::window().and_then(|w| w.local_storage().ok().flatten()),
        serde_json::to_string(org),
    ) {
        let _ = s.set_item(ORG_KEY, &text);
    }
}

/// The one-time sign-in code of the address the app was opened at (`#/provision/<code>`).
pub(crate) fn provision_code() -> Option<String> {
    let hash = web_sys::window()?.location().hash().ok()?;
    let code = hash.strip_prefix("#/provision/")?;
    (!code.is_empty()).then(|| code.to_owned())
}

/// Takes the code out of the address (it is spent), without reloading.
pub(crate) fn clear_hash() {
    if let Some(w) = web_sys::window()
        && let Ok(h) = w.history()
    {
        let path = w.location().pathname().unwrap_or_else(|_| "/".into());
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
    }
}

const MODULE_KEY: &str = "gridvisit-module";
const DESK_FAILED_KEY: &str = "gridvisit-desk-failed";

/// Records which module this device starts (`boot.js` reads it: the desk module for
/// supervisors and admins, the field module for everyone else) and reloads into it. Returns
/// false, and does not reload, when it cannot: the record does not stick, or `boot.js`
/// could not load the desk module this session (offline before it was ever cached).
pub(crate) fn switch_module(desk: bool) -> bool {
    let Some(w) = web_sys::window() else {
        return false;
    };
    let want = if desk { "desk" } else { "field" };
    let Some(local) = w.local_storage().ok().flatten() else {
        return false;
    };
    let _ = local.set_item(MODULE_KEY, want);
    if local.get_item(MODULE_KEY).ok().flatten().as_deref() != Some(want) {
        return false;
    }
    let failed = w
        .session_storage()
        .ok()
        .flatten()
        .and_then(|s| s.get_item(DESK_FAILED_KEY).ok().flatten())
        .is_some();
    !(desk && failed) && w.location().reload().is_ok()
}

/// Tries the desk module again after it failed to load.
pub(crate) fn retry_desk() {
    if let Some(w) = web_sys::window() {
        if let Some(s) = w.session_storage().ok().flatten() {
            let _ = s.remove_item(DESK_FAILED_KEY);
        }
        let _ = w.location().reload();
    }
}
