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
    let request = Request::new_with_str_and_init(path, &init).map_err(offline)?;
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
