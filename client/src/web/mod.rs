//! Everything that needs a browser: IndexedDB, the WebSocket driver, HTTP and the Yew UI.

mod engine;
mod idb;
mod supervisor;
mod ui;

use js_sys::Promise;
use shared::time::Millis;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

/// Mounts the app on `#app`.
pub(crate) fn start() {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
    else {
        return;
    };
    root.set_inner_html("");
    yew::Renderer::<ui::App>::with_root(root).render();
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

/// Resolves after `ms` milliseconds (0: after the browser had a turn).
pub(crate) async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// A JSON request to the server; returns the status and body text.
pub(crate) async fn http(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().map_err(|e| format!("{e:?}"))?;
    if let Some(t) = token {
        let _ = headers.set("Authorization", &format!("Bearer {t}"));
    }
    if let Some(b) = body {
        let _ = headers.set("Content-Type", "application/json");
        init.set_body(&b.into());
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(path, &init).map_err(|e| format!("{e:?}"))?;
    let resp = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| "网络不可用 · No network".to_owned())?;
    let resp: Response = resp.dyn_into().map_err(|_| "not a response")?;
    let text = match resp.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok((resp.status(), text))
}

/// The device's position, if the worker allows it (10 s at most).
pub(crate) async fn locate() -> Result<shared::model::Location, String> {
    let geo = web_sys::window()
        .ok_or("no window")?
        .navigator()
        .geolocation()
        .map_err(|_| "定位不可用 · Location unavailable".to_owned())?;
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
    let pos: web_sys::Position = JsFuture::from(promise)
        .await
        .map_err(|_| "未获得位置 · No location".to_owned())?
        .unchecked_into();
    let c = pos.coords();
    Ok(shared::model::Location {
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
