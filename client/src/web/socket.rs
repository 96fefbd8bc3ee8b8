//! The WebSocket to the server: opening it and turning its events into engine commands.

use futures::channel::mpsc::{self, UnboundedSender};
use shared::sync::ConnId;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, MessageEvent, WebSocket};

use super::handle::Cmd;

/// An open (or opening) socket and the handlers that keep feeding the engine.
pub(crate) struct Socket {
    pub(crate) conn: ConnId,
    ws: WebSocket,
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Socket {
    /// Opens `/sync` on this page's host with `token`; its events become `Cmd`s on `queue`.
    pub(crate) fn open(conn: ConnId, token: &str, queue: &UnboundedSender<Cmd>) -> Option<Self> {
        let loc = web_sys::window()?.location();
        let proto = if loc.protocol().ok().as_deref() == Some("https:") {
            "wss"
        } else {
            "ws"
        };
        let url = format!("{proto}://{}/sync?token={token}", loc.host().ok()?);
        let ws = WebSocket::new(&url).ok()?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let mut handlers = Vec::new();
        let q = queue.clone();
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let _ = q.unbounded_send(Cmd::Opened(conn));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        handlers.push(on_open);
        let q = queue.clone();
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            if let Some(m) = e.dyn_ref::<MessageEvent>()
                && let Ok(buf) = m.data().dyn_into::<js_sys::ArrayBuffer>()
            {
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                let _ = q.unbounded_send(Cmd::Frame(conn, bytes));
            }
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        handlers.push(on_message);
        let q = queue.clone();
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let _ = q.unbounded_send(Cmd::Closed(conn));
        });
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        handlers.push(on_close);
        Some(Self {
            conn,
            ws,
            _handlers: handlers,
        })
    }

    pub(crate) fn send(&self, frame: &[u8]) {
        let _ = self.ws.send_with_u8_array(frame);
    }

    pub(crate) fn close(&self) {
        let _ = self.ws.close();
    }
}

/// Reconnects when the network comes back or the app becomes visible; drops the socket when
/// the browser goes offline.
pub(crate) fn listen_to_window(queue: &mpsc::UnboundedSender<Cmd>) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Some(window) = web_sys::window() else {
        return;
    };
    let on = |event: &str, cmd: fn() -> Option<Cmd>, target: &web_sys::EventTarget| {
        let q = queue.clone();
        let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(cmd) = cmd() {
                let _ = q.unbounded_send(cmd);
            }
        });
        let _ = target.add_event_listener_with_callback(event, handler.as_ref().unchecked_ref());
        handler.forget();
    };
    on("online", || Some(Cmd::ReconnectNow), &window);
    on("offline", || Some(Cmd::Offline), &window);
    if let Some(doc) = window.document() {
        on(
            "visibilitychange",
            || {
                let shown = web_sys::window()
                    .and_then(|w| w.document())
                    .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
                shown.then_some(Cmd::ReconnectNow)
            },
            &doc,
        );
    }
}
