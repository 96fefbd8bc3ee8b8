//! Photos taken in the app: `static/photos.js` scales them and keeps them in their own
//! IndexedDB database until the server holds them (it uploads on start, when the network is
//! back and after each new photo); here each is named by its SHA-256, which the record refers
//! to.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = gvPhotos, js_name = scale, catch)]
    fn js_scale(file: &web_sys::File) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = gvPhotos, js_name = keep, catch)]
    fn js_keep(hash: &str, grid: &str, bytes: &Uint8Array) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = gvPhotos, js_name = local, catch)]
    fn js_local(hash: &str) -> Result<Promise, JsValue>;
}

fn text(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::Reflect::get(e, &"message".into()).ok()?.as_string())
        .unwrap_or_else(|| "photo failed".into())
}

/// Takes the photos picked in `input` for a record of `grid`: scales, names and keeps each;
/// returns their hashes.
pub(crate) async fn take(input: &HtmlInputElement, grid: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let Some(files) = input.files() else {
        return Ok(out);
    };
    for i in 0..files.length().min(shared::model::issue::MAX_PHOTOS as u32) {
        let Some(file) = files.get(i) else { continue };
        let scaled = JsFuture::from(js_scale(&file).map_err(|e| text(&e))?)
            .await
            .map_err(|_| "这张照片无法读取 / This photo could not be read".to_owned())?;
        let bytes = Uint8Array::new(&scaled);
        let hash = {
            use sha2::Digest;
            shared::hex::encode(&sha2::Sha256::digest(bytes.to_vec()))
        };
        JsFuture::from(js_keep(&hash, grid, &bytes).map_err(|e| text(&e))?)
            .await
            .map_err(|e| text(&e))?;
        out.push(hash);
    }
    input.set_value("");
    Ok(out)
}

/// A photo kept on this phone, as a data URL.
pub(crate) async fn local(hash: &str) -> Option<String> {
    let p = js_local(hash).ok()?;
    JsFuture::from(p).await.ok()?.as_string()
}
