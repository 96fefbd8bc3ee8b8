//! The browser's driver around `shared`'s [`Hub`]: IndexedDB below, a WebSocket beside, the UI
//! above.
//!
//! One task owns the order of things: every input (a frame, a socket opening or closing, a
//! local edit) is queued and handled to the end before the next, and each batch of effects is
//! written to IndexedDB and committed *before* its frames are sent or the UI hears "saved".
//!
//! Reconnects back off exponentially with full jitter (1 s doubling to 30 s), and start again
//! at once on the `online` event, when the app becomes visible, and on "sync now". A socket
//! that closes is followed by a token check: an expired login asks the worker to sign in
//! again; their local changes stay in IndexedDB and sync after sign-in.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use automerge::transaction::Transaction;
use automerge::{ActorId, AutomergeError, ChangeHash};
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use serde::{Deserialize, Serialize};
use shared::aggregate::{Contribution, Dashboard, Figures};
use shared::ids::{DocumentId, PeerId, Scope, StorageId};
use shared::model::Record;
use shared::sync::{ConnId, Direction, Effects, Event, Hub, HubConfig, Input, TrustServer};
use shared::time::{Calendar, Millis};
use shared::wire::Cursor;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, MessageEvent, WebSocket};

use super::idb::{Db, DocRow};
use super::{http, mark, now, random_bytes, sleep};
use crate::i18n::Lang;
use crate::view::{Summary, hex};

/// A signed-in user, as the login answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) token: String,
    pub(crate) expires_at: i64,
    pub(crate) user: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) scope: String,
}

/// What the status bar shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// No connection (and waiting to retry).
    Offline,
    /// Opening a connection or exchanging changes.
    Syncing,
    /// Connected and caught up.
    Online,
    /// The login expired or was revoked: sign in again.
    SignIn,
}

type Write = Box<dyn FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>>;

enum Cmd {
    Opened(ConnId),
    Frame(ConnId, Vec<u8>),
    Closed(ConnId),
    Edit {
        id: DocumentId,
        create: bool,
        write: Write,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

struct Socket {
    conn: ConnId,
    ws: WebSocket,
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

struct State {
    hub: Hub,
    summaries: BTreeMap<DocumentId, Summary>,
    /// The dashboard fold over every local record (what a supervisor's overview shows).
    dashboard: Dashboard,
    session: Option<Session>,
    lang: Lang,
    link: Link,
    socket: Option<Socket>,
    /// The handshake completed and a full sync with the server finished on this socket.
    caught_up: bool,
    next_conn: u64,
    attempt: u32,
    /// Bumped whenever a scheduled reconnect must not happen any more.
    retry_gen: u64,
    /// Documents are loaded into the hub and the queue is being served.
    ready: bool,
    pending: usize,
    notice: Option<String>,
    error: Option<String>,
}

/// The app's engine. See the module docs.
pub(crate) struct Engine {
    st: RefCell<State>,
    db: Db,
    queue: mpsc::UnboundedSender<Cmd>,
    listener: RefCell<Option<Rc<dyn Fn()>>>,
    version: Cell<u64>,
    /// A redraw is scheduled: changes arriving meanwhile share it.
    redraw: Cell<bool>,
}

fn parse_heads(json: &str) -> Option<Vec<ChangeHash>> {
    let list: Vec<String> = serde_json::from_str(json).ok()?;
    list.iter().map(|h| h.parse().ok()).collect()
}

impl Engine {
    /// Opens the local store and shows what it holds; loading documents into the engine and
    /// syncing continue in the background.
    pub(crate) async fn start() -> Result<Rc<Self>, String> {
        let db = Db::open().await?;
        let lang = Lang::from_code(&db.get("lang").await?.unwrap_or_default());
        let session: Option<Session> = db
            .get("session")
            .await?
            .and_then(|s| serde_json::from_str(&s).ok());
        let device = match db.get("device").await? {
            Some(d) => d,
            None => {
                let d = hex(&random_bytes::<16>());
                db.put("device", Some(&d)).await?;
                d
            }
        };
        let actor_bytes: Vec<u8> = (0..device.len() / 2)
            .filter_map(|i| u8::from_str_radix(&device[2 * i..2 * i + 2], 16).ok())
            .collect();
        let config = HubConfig::new(
            PeerId::new(format!("gridvisit-web-{}", &device[..8.min(device.len())]))
                .map_err(|e| e.to_string())?,
            StorageId::new(format!("gridvisit-idb-{device}")).ok(),
            ActorId::from(&actor_bytes[..]),
        );
        mark("gv-db-open");
        let rows = db.metas().await?;
        let mut summaries = BTreeMap::new();
        let mut dashboard = Dashboard::new(Calendar::CHINA);
        for row in &rows {
            let Ok(id) = row.id.parse::<DocumentId>() else {
                continue;
            };
            if let Some(summary) = row
                .summary
                .as_deref()
                .and_then(|s| serde_json::from_str::<Summary>(s).ok())
            {
                summaries.insert(id, summary);
            }
            if let Some(c) = row
                .contribution
                .as_deref()
                .and_then(|s| serde_json::from_str::<Contribution>(s).ok())
            {
                dashboard.apply_contribution(id, Some(c));
            }
        }
        drop(rows);
        mark("gv-summaries");
        let (tx, rx) = mpsc::unbounded();
        let link = if session.is_some() {
            Link::Offline
        } else {
            Link::SignIn
        };
        let engine = Rc::new(Self {
            st: RefCell::new(State {
                hub: Hub::new(config, Box::new(TrustServer)),
                summaries,
                dashboard,
                session,
                lang,
                link,
                socket: None,
                caught_up: false,
                next_conn: 0,
                attempt: 0,
                retry_gen: 0,
                ready: false,
                pending: 0,
                notice: None,
                error: None,
            }),
            db,
            queue: tx,
            listener: RefCell::new(None),
            version: Cell::new(0),
            redraw: Cell::new(false),
        });
        let me = engine.clone();
        wasm_bindgen_futures::spawn_local(async move { me.run(rx).await });
        Ok(engine)
    }

    /// After the first paint, loads saved documents into the hub (yielding to the UI between
    /// slices), then serves the queue for the life of the page.
    async fn run(self: Rc<Self>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        // The list first: reading every document's bytes would hold the main thread.
        after_paint().await;
        let rows = match self.db.docs().await {
            Ok(rows) => rows,
            Err(e) => {
                self.st.borrow_mut().error = Some(e);
                Vec::new()
            }
        };
        for slice in rows.chunks(50) {
            {
                let mut st = self.st.borrow_mut();
                for row in slice {
                    if let Ok(id) = row.id.parse::<DocumentId>()
                        && let Err(e) = st.hub.insert_saved(id, &row.bytes)
                    {
                        st.error = Some(format!("{id}: {e}"));
                    }
                }
            }
            sleep(0).await;
        }
        drop(rows);
        self.backfill_meta().await;
        mark("gv-docs-loaded");
        let cursor = self
            .db
            .get("cursor")
            .await
            .ok()
            .flatten()
            .and_then(|c| serde_json::from_str::<(String, u64)>(&c).ok())
            .map(|(epoch, seq)| Cursor { epoch, seq });
        let acked: Vec<(DocumentId, Vec<ChangeHash>)> = self
            .db
            .acked()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(id, heads)| Some((id.parse().ok()?, parse_heads(&heads)?)))
            .collect();
        {
            let mut st = self.st.borrow_mut();
            st.hub.restore_client_state(cursor, acked);
            st.ready = true;
            st.pending = st.hub.unsynced().len();
        }
        self.install_window_listeners();
        self.connect();
        self.changed();
        while let Some(cmd) = rx.next().await {
            let Cmd::Frame(conn, bytes) = cmd else {
                self.serve(cmd).await;
                continue;
            };
            // Frames that queued up while the last batch was being saved are handled together:
            // one IndexedDB transaction and one redraw for all of them.
            let mut frames = vec![(conn, bytes)];
            let mut other = None;
            while let Ok(Some(next)) = rx.try_recv().map(Some) {
                match next {
                    Cmd::Frame(c, b) => frames.push((c, b)),
                    cmd => {
                        other = Some(cmd);
                        break;
                    }
                }
            }
            let fx = {
                let mut st = self.st.borrow_mut();
                let current = st.socket.as_ref().map(|s| s.conn);
                let mut fx = Effects::default();
                for (conn, bytes) in frames {
                    if Some(conn) == current {
                        fx.extend(st.hub.handle(now(), Input::Frame { conn, bytes }));
                    }
                }
                fx
            };
            let _ = self.apply(fx).await;
            if let Some(cmd) = other {
                self.serve(cmd).await;
            }
        }
    }

    async fn serve(self: &Rc<Self>, cmd: Cmd) {
        match cmd {
            Cmd::Opened(conn) => {
                if !self.is_current(conn) {
                    return;
                }
                let fx = {
                    let mut st = self.st.borrow_mut();
                    st.link = Link::Syncing;
                    st.caught_up = false;
                    st.hub.handle(
                        now(),
                        Input::Connected {
                            conn,
                            direction: Direction::Outbound,
                            principal: None,
                        },
                    )
                };
                let _ = self.apply(fx).await;
            }
            Cmd::Frame(..) => unreachable!("frames are handled in batches by run"),
            Cmd::Closed(conn) => {
                if !self.is_current(conn) {
                    return;
                }
                let fx = {
                    let mut st = self.st.borrow_mut();
                    st.socket = None;
                    st.caught_up = false;
                    if st.link != Link::SignIn {
                        st.link = Link::Offline;
                    }
                    st.hub.handle(now(), Input::Disconnected { conn })
                };
                let _ = self.apply(fx).await;
                let me = self.clone();
                wasm_bindgen_futures::spawn_local(async move { me.after_close().await });
            }
            Cmd::Edit {
                id,
                create,
                write,
                reply,
            } => {
                let result = {
                    let mut st = self.st.borrow_mut();
                    let user = st
                        .session
                        .as_ref()
                        .map(|s| s.user.clone())
                        .unwrap_or_default();
                    if create {
                        st.hub.create(now(), &user, id, write)
                    } else {
                        st.hub.edit(now(), &user, id, write)
                    }
                };
                let result = match result {
                    Ok(fx) => self.apply(fx).await,
                    Err(e) => Err(e.to_string()),
                };
                let _ = reply.send(result);
            }
        }
    }

    /// Documents saved without their meta (or with meta from an older version) get it now.
    async fn backfill_meta(self: &Rc<Self>) {
        let rows: Vec<DocRow> = {
            let mut st = self.st.borrow_mut();
            let st = &mut *st;
            let missing: Vec<DocumentId> = st
                .hub
                .documents()
                .map(|(id, _)| *id)
                .filter(|id| !st.summaries.contains_key(id))
                .collect();
            let mut rows = Vec::new();
            for id in missing {
                let Some(doc) = st.hub.doc(&id) else { continue };
                let Ok(record) = Record::read(doc) else {
                    continue;
                };
                let summary = Summary::of(&record);
                let contribution = st.dashboard.contribution(&record);
                rows.push(DocRow {
                    id: id.to_string(),
                    bytes: doc.save(),
                    summary: serde_json::to_string(&summary).ok(),
                    contribution: serde_json::to_string(&contribution).ok(),
                });
                st.summaries.insert(id, summary);
                st.dashboard.apply_contribution(id, Some(contribution));
            }
            rows
        };
        if !rows.is_empty()
            && let Err(e) = self.db.write(&rows, &[]).await
        {
            self.st.borrow_mut().error = Some(e);
        }
    }

    fn is_current(&self, conn: ConnId) -> bool {
        self.st
            .borrow()
            .socket
            .as_ref()
            .is_some_and(|s| s.conn == conn)
    }

    /// Performs effects: durable first, then frames; then tells the UI.
    async fn apply(self: &Rc<Self>, fx: Effects) -> Result<(), String> {
        let mut docs = Vec::new();
        let mut acked = Vec::new();
        let mut cursor = None;
        {
            let mut st = self.st.borrow_mut();
            let changed: BTreeSet<DocumentId> = fx.persist.iter().map(|p| p.doc).collect();
            for id in changed {
                let Some(doc) = st.hub.doc(&id) else { continue };
                let bytes = doc.save();
                let record = Record::read(doc).ok();
                let summary = record.as_ref().map(Summary::of);
                let json = summary.as_ref().and_then(|s| serde_json::to_string(s).ok());
                let contribution = record.as_ref().map(|r| st.dashboard.contribution(r));
                let cjson = contribution
                    .as_ref()
                    .and_then(|c| serde_json::to_string(c).ok());
                st.dashboard.apply_contribution(id, contribution);
                match summary {
                    Some(s) => st.summaries.insert(id, s),
                    None => st.summaries.remove(&id),
                };
                docs.push(DocRow {
                    id: id.to_string(),
                    bytes,
                    summary: json,
                    contribution: cjson,
                });
            }
            for event in &fx.events {
                match event {
                    Event::Acked { doc, heads } => {
                        let list: Vec<String> = heads.iter().map(ToString::to_string).collect();
                        if let Ok(json) = serde_json::to_string(&list) {
                            acked.push((doc.to_string(), json));
                        }
                    }
                    Event::CursorSaved { cursor: c } => {
                        cursor = serde_json::to_string(&(&c.epoch, c.seq)).ok();
                        st.caught_up = true;
                    }
                    Event::PeerReady { .. } => st.attempt = 0,
                    Event::Refused { reason, doc, .. } => {
                        st.error = Some(format!("服务器拒绝了 {doc} 的修改 · Refused: {reason}"));
                    }
                    Event::RemoteError { message, .. } => {
                        st.error = Some(format!("服务器 · Server: {message}"));
                    }
                    _ => {}
                }
            }
        }
        if let Err(e) = self.db.write(&docs, &acked).await {
            // Nothing leaves the device that is not saved on it.
            self.st.borrow_mut().error = Some(e.clone());
            self.changed();
            return Err(e);
        }
        if let Some(c) = cursor
            && let Err(e) = self.db.put("cursor", Some(&c)).await
        {
            self.st.borrow_mut().error = Some(e);
        }
        let loads = {
            let mut st = self.st.borrow_mut();
            if let Some(socket) = &st.socket {
                for (conn, bytes) in &fx.send {
                    if *conn == socket.conn {
                        let _ = socket.ws.send_with_u8_array(bytes);
                    }
                }
                if fx.close.contains(&socket.conn) {
                    let _ = socket.ws.close();
                }
            }
            st.pending = st.hub.unsynced().len();
            if st.socket.is_some() && st.link != Link::SignIn {
                st.link = if st.caught_up && st.pending == 0 {
                    Link::Online
                } else {
                    Link::Syncing
                };
            }
            fx.load
        };
        // Every local document is in the hub: one it asks to load is not here.
        for doc in loads {
            let more = self
                .st
                .borrow_mut()
                .hub
                .handle(now(), Input::Loaded { doc, bytes: None });
            Box::pin(self.apply(more)).await?;
        }
        self.changed();
        Ok(())
    }

    /// Tells the UI, at most once per 50 ms: a burst of synced changes redraws once.
    fn changed(self: &Rc<Self>) {
        self.version.set(self.version.get() + 1);
        if self.redraw.replace(true) {
            return;
        }
        let me = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            sleep(50).await;
            me.redraw.set(false);
            let listener = me.listener.borrow().clone();
            if let Some(f) = listener {
                f();
            }
        });
    }

    /// Called on every change the UI should show.
    pub(crate) fn set_listener(&self, f: Rc<dyn Fn()>) {
        *self.listener.borrow_mut() = Some(f);
    }

    /// Bumped on every change.
    pub(crate) fn version(&self) -> u64 {
        self.version.get()
    }

    // ---- the connection ----

    fn connect(self: &Rc<Self>) {
        let url = {
            let st = self.st.borrow();
            if st.socket.is_some() || !st.ready || st.link == Link::SignIn {
                return;
            }
            let Some(session) = &st.session else { return };
            let Some(window) = web_sys::window() else {
                return;
            };
            let loc = window.location();
            let proto = if loc.protocol().ok().as_deref() == Some("https:") {
                "wss"
            } else {
                "ws"
            };
            format!(
                "{proto}://{}/sync?token={}",
                loc.host().unwrap_or_default(),
                session.token
            )
        };
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(_) => return self.schedule_retry(),
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let conn = {
            let mut st = self.st.borrow_mut();
            st.next_conn += 1;
            ConnId(st.next_conn)
        };
        let mut handlers = Vec::new();
        let q = self.queue.clone();
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let _ = q.unbounded_send(Cmd::Opened(conn));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        handlers.push(on_open);
        let q = self.queue.clone();
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
        let q = self.queue.clone();
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let _ = q.unbounded_send(Cmd::Closed(conn));
        });
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        handlers.push(on_close);
        let mut st = self.st.borrow_mut();
        st.retry_gen += 1;
        st.link = Link::Syncing;
        st.socket = Some(Socket {
            conn,
            ws,
            _handlers: handlers,
        });
        drop(st);
        self.changed();
    }

    fn disconnect(self: &Rc<Self>) {
        if let Some(s) = &self.st.borrow().socket {
            let _ = s.ws.close();
        }
    }

    /// After a socket closed: an expired login stops retrying and asks for sign-in; anything
    /// else retries later.
    async fn after_close(self: Rc<Self>) {
        let token = self.st.borrow().session.as_ref().map(|s| s.token.clone());
        if let Some(token) = token
            && let Ok((401, _)) = http("GET", "/api/me", Some(&token), None).await
        {
            let mut st = self.st.borrow_mut();
            st.link = Link::SignIn;
            st.notice = Some("登录已过期，请重新登录；本机未同步的修改都已保留 · Your login expired: sign in again. Changes on this phone are kept.".into());
            drop(st);
            self.changed();
            return;
        }
        self.schedule_retry();
    }

    fn schedule_retry(self: &Rc<Self>) {
        let (delay, generation) = {
            let mut st = self.st.borrow_mut();
            if st.link == Link::SignIn {
                return;
            }
            let base = 1000.0 * 2f64.powi(st.attempt.min(5) as i32);
            st.attempt += 1;
            st.retry_gen += 1;
            // Full jitter: a city's phones coming back together do not reconnect in step.
            (
                (base.min(30_000.0) * js_sys::Math::random()).max(250.0),
                st.retry_gen,
            )
        };
        let me = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            sleep(delay as i32).await;
            if me.st.borrow().retry_gen == generation {
                me.connect();
            }
        });
    }

    /// Connects now (the network came back, the app became visible, "sync now").
    pub(crate) fn reconnect_now(self: &Rc<Self>) {
        {
            let mut st = self.st.borrow_mut();
            st.attempt = 0;
            st.retry_gen += 1;
        }
        if self.st.borrow().socket.is_none() {
            self.connect();
        }
    }

    /// "Sync now": connects if offline, otherwise pushes every waiting document.
    pub(crate) fn sync_now(self: &Rc<Self>) {
        if self.st.borrow().socket.is_none() {
            self.reconnect_now();
            return;
        }
        let me = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let fx = {
                let mut st = me.st.borrow_mut();
                let mut fx = Effects::default();
                for id in st.hub.unsynced() {
                    fx.extend(st.hub.sync_now(id));
                }
                fx
            };
            let _ = me.apply(fx).await;
        });
    }

    fn install_window_listeners(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let me = self.clone();
        let online = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| me.reconnect_now());
        let _ = window.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
        online.forget();
        let me = self.clone();
        let offline = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| me.disconnect());
        let _ =
            window.add_event_listener_with_callback("offline", offline.as_ref().unchecked_ref());
        offline.forget();
        let me = self.clone();
        let visible = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let shown = web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
            if shown {
                me.reconnect_now();
            }
        });
        if let Some(doc) = window.document() {
            let _ = doc.add_event_listener_with_callback(
                "visibilitychange",
                visible.as_ref().unchecked_ref(),
            );
        }
        visible.forget();
    }

    // ---- what the UI calls ----

    /// Signs in. The same phone keeps one user's unsynced changes until they sync: another
    /// user cannot sign in over them.
    pub(crate) async fn sign_in(
        self: &Rc<Self>,
        username: &str,
        password: &str,
    ) -> Result<(), String> {
        {
            let st = self.st.borrow();
            if let Some(s) = &st.session
                && s.user != username
                && st.pending > 0
            {
                return Err(format!(
                    "本机还有 {} 条 {} 的修改未同步，请由其本人登录 · {} changes by {} are still waiting to sync: they must sign in",
                    st.pending, s.user, st.pending, s.user
                ));
            }
        }
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        let (status, text) = http("POST", "/api/login", None, Some(&body)).await?;
        if status == 401 {
            return Err("用户名或密码错误 · Wrong username or password".into());
        }
        if status != 200 {
            return Err(format!("登录失败 · Sign-in failed ({status}): {text}"));
        }
        #[derive(Deserialize)]
        struct Reply {
            token: String,
            expires_at: i64,
            user: UserView,
        }
        #[derive(Deserialize)]
        struct UserView {
            user: String,
            name: String,
            role: String,
            scope: String,
        }
        let r: Reply = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let session = Session {
            token: r.token,
            expires_at: r.expires_at,
            user: r.user.user,
            name: r.user.name,
            role: r.user.role,
            scope: r.user.scope,
        };
        let json = serde_json::to_string(&session).map_err(|e| e.to_string())?;
        self.db.put("session", Some(&json)).await?;
        {
            let mut st = self.st.borrow_mut();
            st.session = Some(session);
            st.link = Link::Offline;
            st.notice = None;
        }
        self.changed();
        self.reconnect_now();
        Ok(())
    }

    /// Signs out (the phone keeps its records; they are in this user's scope).
    pub(crate) async fn sign_out(self: &Rc<Self>) {
        let token = self.st.borrow().session.as_ref().map(|s| s.token.clone());
        if let Some(t) = token {
            let _ = http("POST", "/api/logout", Some(&t), None).await;
        }
        let _ = self.db.put("session", None).await;
        {
            let mut st = self.st.borrow_mut();
            st.session = None;
            st.link = Link::SignIn;
            st.retry_gen += 1;
        }
        self.disconnect();
        self.changed();
    }

    /// Creates (`create`) or edits a record; resolves once the change is durable on this
    /// device.
    pub(crate) async fn edit(
        self: &Rc<Self>,
        id: DocumentId,
        create: bool,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError> + 'static,
    ) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .unbounded_send(Cmd::Edit {
                id,
                create,
                write: Box::new(write),
                reply,
            })
            .map_err(|e| e.to_string())?;
        answer.await.map_err(|e| e.to_string())?
    }

    /// The dashboard figures of the signed-in user's scope, now.
    pub(crate) fn figures(&self) -> Figures {
        let st = self.st.borrow();
        let scope = st
            .session
            .as_ref()
            .and_then(|s| s.scope.parse::<Scope>().ok())
            .unwrap_or(Scope::City);
        st.dashboard.figures(now(), &scope)
    }

    /// A document's history and the users behind its actors.
    pub(crate) fn history(
        &self,
        id: &DocumentId,
    ) -> Option<(Vec<crate::view::HistoryEntry>, BTreeMap<String, String>)> {
        let st = self.st.borrow();
        let doc = st.hub.doc(id)?;
        Some((crate::view::history(doc), crate::view::users_by_actor(doc)))
    }

    /// A record read from its document, once documents are loaded.
    pub(crate) fn record(&self, id: &DocumentId) -> Option<Record> {
        let st = self.st.borrow();
        st.hub.doc(id).and_then(|d| Record::read(d).ok())
    }

    pub(crate) fn summaries(&self) -> std::cell::Ref<'_, BTreeMap<DocumentId, Summary>> {
        std::cell::Ref::map(self.st.borrow(), |s| &s.summaries)
    }

    pub(crate) fn session(&self) -> Option<Session> {
        self.st.borrow().session.clone()
    }

    pub(crate) fn link(&self) -> Link {
        self.st.borrow().link
    }

    pub(crate) fn pending(&self) -> usize {
        self.st.borrow().pending
    }

    pub(crate) fn ready(&self) -> bool {
        self.st.borrow().ready
    }

    pub(crate) fn lang(&self) -> Lang {
        self.st.borrow().lang
    }

    pub(crate) fn set_lang(self: &Rc<Self>, lang: Lang) {
        self.st.borrow_mut().lang = lang;
        let me = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = me.db.put("lang", Some(lang.code())).await;
        });
        self.changed();
    }

    pub(crate) fn notice(&self) -> Option<String> {
        self.st.borrow().notice.clone()
    }

    pub(crate) fn error(&self) -> Option<String> {
        self.st.borrow().error.clone()
    }

    pub(crate) fn set_notice(self: &Rc<Self>, notice: Option<String>) {
        self.st.borrow_mut().notice = notice;
        self.changed();
    }

    pub(crate) fn clear_error(self: &Rc<Self>) {
        self.st.borrow_mut().error = None;
        self.changed();
    }

    /// A saved form draft.
    pub(crate) async fn draft(&self, key: &str) -> Option<String> {
        self.db.get(&format!("draft:{key}")).await.ok().flatten()
    }

    /// Saves (or with `None` deletes) a form draft.
    pub(crate) async fn save_draft(&self, key: &str, value: Option<&str>) -> Result<(), String> {
        self.db.put(&format!("draft:{key}"), value).await
    }

    /// The time now, as records store it.
    pub(crate) fn now(&self) -> Millis {
        now()
    }
}

/// Resolves after the browser painted the next frame (two animation frames).
async fn after_paint() {
    for _ in 0..2 {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.request_animation_frame(&resolve);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}
