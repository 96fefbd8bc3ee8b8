//! JSON requests to the server.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

use crate::error::ClientError;

/// A JSON request to the server; returns the status and body text. `Err` only when the request
/// did not reach it.
pub(crate) async fn request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String), ClientError> {
    let offline = |_| ClientError::Offline;
    let window = web_sys::window().ok_or(ClientError::Offline)?;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().map_err(offline)?;
    if let Some(t) = token {
        let _ = headers.set("Authorization", &format!("Bearer {t}"));
    }
    if let Some(b) = body {
        let _ = headers.set("Content-Type", "application/json");
        init.set_body(&b.into());
    }
    init.set_headers(&headers);
    send(&window, path, &init).await
}

/// A request with a file's bytes as its body; returns the status and body text.
#[cfg(feature = "desk")]
pub(crate) async fn request_bytes(
    path: &str,
    token: Option<&str>,
    bytes: &[u8],
) -> Result<(u16, String), ClientError> {
    let offline = |_| ClientError::Offline;
    let window = web_sys::window().ok_or(ClientError::Offline)?;
    let init = RequestInit::new();
    init.set_method("POST");
    let headers = Headers::new().map_err(offline)?;
    if let Some(t) = token {
        let _ = headers.set("Authorization", &format!("Bearer {t}"));
    }
    let _ = headers.set("Content-Type", "application/octet-stream");
    init.set_headers(&headers);
    let body = js_sys::Uint8Array::from(bytes);
    init.set_body(&body.into());
    send(&window, path, &init).await
}

/// A JSON request whose answer is JSON: `Ok((status, body))`, the body `null` when it is
/// not JSON.
pub(crate) async fn json(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<(u16, serde_json::Value), ClientError> {
    let body = body.map(serde_json::Value::to_string);
    let (status, text) = request(method, path, token, body.as_deref()).await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    ))
}

/// The error text of a JSON error answer (`{status, error}`), or the status.
pub(crate) fn error_of(status: u16, body: &serde_json::Value) -> String {
    body["error"]
        .as_str()
        .map_or_else(|| format!("HTTP {status}"), str::to_owned)
}

/// Sends a prepared request; returns the status and body text.
async fn send(
    window: &web_sys::Window,
    path: &str,
    init: &RequestInit,
) -> Result<(u16, String), ClientError> {
    let offline = |_| ClientError::Offline;
    let request = Request::new_with_str_and_init(path, init).map_err(offline)?;
    let resp: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(offline)?
        .dyn_into()
        .map_err(offline)?;
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
