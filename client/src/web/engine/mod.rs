//! The engine task: owns `shared`'s [`Hub`], the database and the socket, and serves one
//! queue of commands ([`Cmd`]) in order, each to the end before the next. The screens send
//! commands through an [`EngineHandle`]; the task reports back by dispatching [`Action`]s.
//!
//! Frames that queued up while the last batch was being saved are handled as one batch (up to
//! [`COALESCE_BYTES`]): one IndexedDB transaction for all of them. What the lists and figures show is published at
//! most once per 50 ms, so a burst of synced changes redraws once.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use automerge::ActorId;
use futures::StreamExt;
use futures::channel::mpsc;
use shared::aggregate::{Contribution, Dashboard};
use shared::ids::{DocumentId, PeerId, StorageId};
use shared::model::Record;
use shared::sync::{Direction, Hub, HubConfig, Input, TrustServer};
use shared::time::Calendar;
use yew::UseReducerDispatcher;

mod batch;
mod connection;
mod holding;
mod refusals;

use super::handle::{Cmd, EngineHandle};
use super::idb::Db;
use super::socket::Socket;
use super::state::{Action, AppState, Opened};
use super::{after_paint, http, mark, now, random_bytes, sleep};
use crate::error::ClientError;
use crate::i18n::Lang;
use crate::intent::Intent;
use crate::link::Connection;
use crate::local::{MetaRow, decode_cursor, decode_heads};
use crate::session::Session;
use crate::view::Summary;

/// Frames of at most about this many bytes in all go into one batch.
const COALESCE_BYTES: usize = 192 * 1024;

/// Opens the local store and reads what the first screen shows (no document bytes); the
/// engine task waits for [`Cmd::Attach`], then loads documents and connects.
pub(crate) async fn boot() -> Result<(EngineHandle, AppState), ClientError> {
    let db = Rc::new(Db::open().await?);
    let lang = Lang::from_code(&db.get("lang").await?.unwrap_or_default());
    let session: Option<Session> = db
        .get("session")
        .await?
        .and_then(|s| serde_json::from_str(&s).ok());
    // Whose records these are; databases from before the owner was kept name the session's.
    let owner = match db.get("owner").await? {
        Some(o) => Some(o),
        None => match &session {
            Some(s) => {
                db.put("owner", Some(&s.user)).await?;
                Some(s.user.clone())
            }
            None => None,
        },
    };
    let device = match db.get("device").await? {
        Some(d) => d,
        None => {
            let d = shared::hex::encode(&random_bytes::<16>());
            db.put("device", Some(&d)).await?;
            d
        }
    };
    let actor = shared::hex::decode(&device).unwrap_or_else(|| random_bytes::<16>().to_vec());
    let peer = PeerId::new(format!("gridvisit-web-{}", &device[..8.min(device.len())]))
        .map_err(|e| ClientError::BadReply(e.to_string()))?;
    let mut config = HubConfig::new(
        peer,
        StorageId::new(format!("gridvisit-idb-{device}")).ok(),
        ActorId::from(&actor[..]),
    );
    config.read_records = true;
    mark("gv-db-open");
    let mut summaries = BTreeMap::new();
    let mut standings = HashMap::new();
    let mut dashboard = Dashboard::new(Calendar::CHINA);
    for row in db.metas().await? {
        let Ok(id) = row.id.parse::<DocumentId>() else {
            continue;
        };
        if let Some(s) = row
            .summary
            .and_then(|s| serde_json::from_str::<Summary>(&s).ok())
        {
            summaries.insert(id, s);
        }
        if let Some(c) = row
            .contribution
            .and_then(|s| serde_json::from_str::<Contribution>(&s).ok())
        {
            standings.insert(id, c.standing());
            dashboard.apply_contribution(id, Some(c));
        }
    }
    mark("gv-summaries");
    let summaries = Rc::new(summaries);
    let engine = Engine {
        hub: Hub::new(config, Box::new(TrustServer)),
        conn: Connection::new(session.is_some()),
        session: session.clone(),
        db: db.clone(),
        socket: None,
        next_conn: 0,
        chunks: HashMap::new(),
        summaries: summaries.clone(),
        dashboard,
        standings,
        area: None,
        watched: HashMap::new(),
        pinned: std::collections::BTreeSet::new(),
        opened: Rc::default(),
        ui: None,
        intents: HashMap::new(),
        replay: HashMap::new(),
        kv: Vec::new(),
        settled: Vec::new(),
        refusals: Vec::new(),
        dirty: false,
        publishing: false,
        ready: false,
        queue: mpsc::unbounded().0,
    };
    let mut engine = engine;
    engine.apply_keeps();
    let figures = Rc::new(engine.figures());
    let (tx, rx) = mpsc::unbounded();
    let handle = EngineHandle::new(tx.clone(), db);
    wasm_bindgen_futures::spawn_local(
        Engine {
            queue: tx,
            ..engine
        }
        .run(rx),
    );
    Ok((
        handle,
        AppState::new(session, owner, lang, summaries, figures),
    ))
}

struct Engine {
    hub: Hub,
    conn: Connection,
    session: Option<Session>,
    db: Rc<Db>,
    socket: Option<Socket>,
    next_conn: u64,
    /// Chunks saved per document since its last compaction.
    chunks: HashMap<DocumentId, u32>,
    summaries: Rc<BTreeMap<DocumentId, Summary>>,
    dashboard: Dashboard,
    /// Where each saved document stands, read from its meta row (until the documents load).
    standings: HashMap<DocumentId, shared::sync::Standing>,
    /// A supervisor's figures of the area on screen.
    area: Option<Rc<crate::figures::AreaFigures>>,
    /// Records the screens have open, with how many screens have each.
    watched: HashMap<DocumentId, usize>,
    /// Records the user pinned: kept here (and fetched) until unpinned.
    pinned: std::collections::BTreeSet<DocumentId>,
    opened: Rc<HashMap<DocumentId, Rc<Opened>>>,
    ui: Option<UseReducerDispatcher<AppState>>,
    /// Edits the server has not acknowledged yet, per document (kept in IndexedDB).
    intents: HashMap<DocumentId, Vec<Intent>>,
    /// Documents whose edits are being applied again one at a time after a refusal.
    replay: HashMap<DocumentId, refusals::Replay>,
    /// Key-value writes for the next batch's transaction (the intents).
    kv: Vec<(String, Option<String>)>,
    /// Documents the server acknowledged in the last batches.
    settled: Vec<DocumentId>,
    /// Our changes the server refused in the last batches, with why.
    refusals: Vec<(DocumentId, String)>,
    /// Lists changed since the last publish.
    dirty: bool,
    /// A publish is scheduled.
    publishing: bool,
    ready: bool,
    queue: mpsc::UnboundedSender<Cmd>,
}

impl Engine {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        // Screens mounted before the app attaches (their effects run first) send commands
        // early: they are served once the documents are loaded.
        let mut early = Vec::new();
        while let Some(cmd) = rx.next().await {
            match cmd {
                Cmd::Attach(ui) => {
                    self.ui = Some(ui);
                    break;
                }
                Cmd::Watch(..) | Cmd::WatchArea(_) | Cmd::Lang(_) => early.push(cmd),
                _ => {}
            }
        }
        // The list first: reading every document's bytes would hold the main thread.
        after_paint().await;
        self.load_documents().await;
        super::socket::listen_to_window(&self.queue);
        self.connect();
        for cmd in early {
            self.serve(cmd).await;
        }
        self.report();
        while let Some(cmd) = rx.next().await {
            let Cmd::Frame(conn, bytes) = cmd else {
                self.serve(cmd).await;
                self.follow_up().await;
                continue;
            };
            // Frames that queued up while the last batch was being saved go as one batch, up
            // to COALESCE_BYTES (a first sync in bulk then shows its progress as it goes).
            let mut size = bytes.len();
            let mut frames = vec![(conn, bytes)];
            let mut other = None;
            while size < COALESCE_BYTES
                && let Ok(next) = rx.try_recv()
            {
                match next {
                    Cmd::Frame(c, b) => {
                        size += b.len();
                        frames.push((c, b));
                    }
                    cmd => {
                        other = Some(cmd);
                        break;
                    }
                }
            }
            let current = self.socket.as_ref().map(|s| s.conn);
            let _ = self
                .perform(|batch, hub, driver, t| {
                    for (conn, bytes) in frames {
                        if Some(conn) == current {
                            batch.feed(hub, driver, t, Input::Frame { conn, bytes });
                        }
                    }
                })
                .await;
            self.follow_up().await;
            if let Some(cmd) = other {
                self.serve(cmd).await;
            }
        }
    }

    /// Loads every saved document into the hub in slices (yielding to the UI between them),
    /// back-fills meta rows a version-1 database lacked, and restores the sync bookkeeping.
    async fn load_documents(&mut self) {
        let saved = match self.db.documents().await {
            Ok(saved) => saved,
            Err(e) => {
                self.show_error(&e);
                Vec::new()
            }
        };
        for slice in saved.chunks(50) {
            for row in slice {
                let Ok(id) = row.id.parse::<DocumentId>() else {
                    continue;
                };
                match self.hub.insert_saved(id, &row.bytes) {
                    Ok(()) => {
                        self.chunks.insert(id, row.chunks);
                        if let Some(s) = self.standings.remove(&id) {
                            self.hub.note_standing(&id, s);
                        }
                    }
                    Err(e) => self.show_error(&format!("{id}: {e}")),
                }
            }
            sleep(0).await;
        }
        drop(saved);
        self.backfill_meta().await;
        mark("gv-docs-loaded");
        let cursor = self
            .db
            .get("cursor")
            .await
            .ok()
            .flatten()
            .and_then(|c| decode_cursor(&c));
        let acked = self.db.acked().await.unwrap_or_default();
        let acked = acked
            .into_iter()
            .filter_map(|(id, heads)| Some((id.parse().ok()?, decode_heads(&heads)?)));
        self.hub.restore_client_state(cursor, acked);
        self.standings.clear();
        self.load_pins().await;
        self.prune().await;
        self.load_intents().await;
        self.ready = true;
        self.dispatch(Action::Ready);
        let watched: Vec<DocumentId> = self.watched.keys().copied().collect();
        self.reopen(&watched);
    }

    /// Documents saved without their meta (or with meta from an older version) get it now.
    async fn backfill_meta(&mut self) {
        let missing: Vec<MetaRow> = self
            .hub
            .documents()
            .filter(|(id, _)| !self.summaries.contains_key(id))
            .filter_map(|(id, doc)| {
                let record = Record::read(doc).ok()?;
                Some(MetaRow {
                    id: *id,
                    summary: Some(Summary::of(&record)),
                    contribution: Some(self.dashboard.contribution(&record)),
                })
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        if let Err(e) = self.db.write_metas(&missing).await {
            self.show_error(&e);
        }
        self.apply_metas(&missing);
    }

    async fn serve(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Attach(ui) => self.ui = Some(ui),
            Cmd::Frame(..) => {}
            Cmd::Opened(conn) => {
                if self.is_current(conn) {
                    let input = Input::Connected {
                        conn,
                        direction: Direction::Outbound,
                        principal: None,
                    };
                    let _ = self
                        .perform(|batch, hub, driver, t| batch.feed(hub, driver, t, input))
                        .await;
                }
            }
            Cmd::Closed(conn) => {
                if !self.is_current(conn) {
                    return;
                }
                self.socket = None;
                self.conn.closed();
                self.figures_offline();
                let input = Input::Disconnected { conn };
                let _ = self
                    .perform(|batch, hub, driver, t| batch.feed(hub, driver, t, input))
                    .await;
                self.check_token();
            }
            Cmd::TokenChecked(rejected) => {
                if rejected {
                    self.conn.rejected();
                    self.dispatch(Action::Notice(Some("登录已过期，请重新登录；本机未同步的修改都已保留 · Your login expired: sign in again. Changes on this phone are kept.".into())));
                    self.report();
                } else {
                    self.schedule_retry();
                }
            }
            Cmd::Retry(generation) => {
                if self.conn.is_current(generation) {
                    self.connect();
                }
            }
            Cmd::ReconnectNow => self.reconnect_now(),
            Cmd::Offline => {
                if let Some(s) = &self.socket {
                    s.close();
                }
            }
            Cmd::SyncNow => {
                if self.socket.is_none() {
                    return self.reconnect_now();
                }
                let _ = self
                    .perform(|batch, hub, driver, t| {
                        for id in hub.unsynced() {
                            let fx = hub.sync_now(id);
                            batch.add(hub, driver, t, fx);
                        }
                    })
                    .await;
            }
            Cmd::Create { id, write, reply } => {
                let user = self.user();
                let result = match self.hub.create(now(), &user, id, write) {
                    Ok(fx) => {
                        self.perform(|batch, hub, driver, t| batch.add(hub, driver, t, fx))
                            .await
                    }
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(result);
            }
            Cmd::Change { id, intent, reply } => {
                let _ = reply.send(self.change(id, intent).await);
            }
            Cmd::SignedIn(session, reply) => {
                let owner = self.db.get("owner").await.ok().flatten();
                let pending = self.hub.unsynced().len();
                let plan =
                    match crate::session::may_sign_in(owner.as_deref(), pending, &session.user) {
                        Ok(plan) => plan,
                        Err(blocked) => {
                            let _ = reply.send(Err(blocked.into()));
                            return;
                        }
                    };
                let wipe = plan == crate::session::SignIn::Wipe;
                let mut result = if wipe {
                    self.db.wipe_records().await
                } else {
                    Ok(())
                };
                if result.is_ok() {
                    result = match serde_json::to_string(&session) {
                        Ok(json) => self.db.put("session", Some(&json)).await,
                        Err(e) => Err(ClientError::BadReply(e.to_string())),
                    };
                }
                if result.is_ok() {
                    result = self.db.put("owner", Some(&session.user)).await;
                }
                if result.is_ok() && wipe {
                    // The previous user's records are gone from storage: start again from it,
                    // so nothing of theirs stays in memory either.
                    let _ = reply.send(Ok(()));
                    reload();
                    return;
                }
                if result.is_ok() {
                    self.session = Some(session.clone());
                    self.apply_keeps();
                    self.conn.signed_in();
                    self.dispatch(Action::Session(Some(session)));
                    self.dispatch(Action::Notice(None));
                    self.reconnect_now();
                }
                let _ = reply.send(result);
            }
            Cmd::SignOut(reply) => {
                if let Some(t) = self.session.as_ref().map(|s| s.token.clone()) {
                    let _ = http::request("POST", "/api/logout", Some(&t), None).await;
                }
                let pending = self.hub.unsynced().len();
                self.session = None;
                self.conn.signed_out();
                if let Some(s) = &self.socket {
                    s.close();
                }
                if crate::session::keeps_records_on_sign_out(pending) {
                    let _ = self.db.put("session", None).await;
                } else {
                    // A shared phone: the next user finds nothing of this one's.
                    if let Err(e) = self.db.wipe_records().await {
                        self.show_error(&e);
                    }
                    let _ = reply.send(());
                    reload();
                    return;
                }
                self.dispatch(Action::Session(None));
                self.report();
                let _ = reply.send(());
            }
            Cmd::Lang(lang) => {
                let _ = self.db.put("lang", Some(lang.code())).await;
                self.dispatch(Action::Lang(lang));
            }
            Cmd::Notice(n) => self.dispatch(Action::Notice(n)),
            Cmd::Error(e) => self.dispatch(Action::Error(e)),
            Cmd::Watch(id, on) => self.watch_record(id, on).await,
            Cmd::Pin(id, on) => self.pin(id, on).await,
            Cmd::WatchArea(area) => self.watch_area(area).await,
            Cmd::Publish => {
                self.publishing = false;
                self.publish();
            }
        }
    }

    fn user(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.user.clone())
            .unwrap_or_default()
    }

    fn dispatch(&self, action: Action) {
        if let Some(ui) = &self.ui {
            ui.dispatch(action);
        }
    }

    fn show_error(&self, e: &dyn std::fmt::Display) {
        self.dispatch(Action::Error(Some(e.to_string())));
    }
}

/// Starts the app again from what storage holds (after a wipe).
fn reload() {
    if let Some(w) = web_sys::window() {
        let _ = w.location().reload();
    }
}
