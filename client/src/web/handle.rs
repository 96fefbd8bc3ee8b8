//! How the screens talk to the engine task: the commands it serves and the handle that sends
//! them (form drafts are read and written directly).

use std::rc::Rc;

use automerge::AutomergeError;
use automerge::transaction::Transaction;
use futures::channel::{mpsc, oneshot};
use shared::ids::DocumentId;
use shared::sync::ConnId;
use yew::UseReducerDispatcher;

use super::http;
use super::idb::Db;
use super::state::AppState;
use crate::error::ClientError;
use crate::i18n::Lang;
use crate::intent::Intent;
use crate::session::{Session, may_sign_in};

type Write = Box<dyn FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError>>;
type Reply = oneshot::Sender<Result<(), ClientError>>;

/// What the engine task is told.
pub(crate) enum Cmd {
    /// The screens are mounted: report to them from now on.
    Attach(UseReducerDispatcher<AppState>),
    Opened(ConnId),
    Frame(ConnId, Vec<u8>),
    Closed(ConnId),
    /// After a close: whether the server rejected the token.
    TokenChecked(bool),
    /// A scheduled reconnect of this generation is due.
    Retry(u64),
    /// The network came back, the app became visible.
    ReconnectNow,
    /// The browser says it is offline.
    Offline,
    SyncNow,
    /// A new record.
    Create {
        id: DocumentId,
        write: Write,
        reply: Reply,
    },
    /// An edit of a record, kept until the server holds it.
    Change {
        id: DocumentId,
        intent: Intent,
        reply: Reply,
    },
    SignedIn(Session, Reply),
    SignOut(oneshot::Sender<()>),
    Lang(Lang),
    Notice(Option<String>),
    Error(Option<String>),
    /// A screen opened (or closed) a record.
    Watch(DocumentId, bool),
    /// The user pinned (or unpinned) a record to this device.
    Pin(DocumentId, bool),
    /// A supervisor's overview shows this area: have its figures pushed.
    #[cfg_attr(not(feature = "desk"), allow(dead_code))]
    WatchArea(String),
    /// Time to show what changed.
    Publish,
}

/// How screens talk to the engine (and read and write form drafts directly).
#[derive(Clone)]
pub(crate) struct EngineHandle {
    queue: mpsc::UnboundedSender<Cmd>,
    db: Rc<Db>,
}

impl PartialEq for EngineHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.db, &other.db)
    }
}

impl EngineHandle {
    pub(super) fn new(queue: mpsc::UnboundedSender<Cmd>, db: Rc<Db>) -> Self {
        Self { queue, db }
    }

    pub(crate) fn send(&self, cmd: Cmd) {
        let _ = self.queue.unbounded_send(cmd);
    }

    /// Creates a record; resolves once it is durable here.
    pub(crate) async fn create(
        &self,
        id: DocumentId,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<(), AutomergeError> + 'static,
    ) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.send(Cmd::Create {
            id,
            write: Box::new(write),
            reply,
        });
        answer.await.map_err(|_| ClientError::Stopped)?
    }

    /// Edits a record; resolves once the edit is durable here.
    pub(crate) async fn change(&self, id: DocumentId, intent: Intent) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.send(Cmd::Change { id, intent, reply });
        answer.await.map_err(|_| ClientError::Stopped)?
    }

    /// Signs in, unless another user's changes still wait here.
    pub(crate) async fn sign_in(
        &self,
        state: &AppState,
        username: &str,
        password: &str,
    ) -> Result<(), ClientError> {
        may_sign_in(state.owner.as_deref(), state.pending, username)?;
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        let (status, text) = http::request("POST", "/api/login", None, Some(&body)).await?;
        match status {
            200 => {}
            401 => return Err(ClientError::WrongPassword),
            _ => return Err(ClientError::SignInFailed { status, body: text }),
        }
        self.signed_in(&text).await
    }

    /// Signs this phone in with a one-time code from a supervisor's QR code.
    pub(crate) async fn redeem(&self, state: &AppState, code: &str) -> Result<(), ClientError> {
        let body = serde_json::json!({ "code": code }).to_string();
        let (status, text) =
            http::request("POST", "/api/provision/redeem", None, Some(&body)).await?;
        if status != 200 {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            return Err(ClientError::SignInFailed {
                status,
                body: http::error_of(status, &v),
            });
        }
        let session =
            Session::from_login(&text).map_err(|e| ClientError::BadReply(e.to_string()))?;
        may_sign_in(state.owner.as_deref(), state.pending, &session.user)?;
        self.signed_in(&text).await
    }

    async fn signed_in(&self, login: &str) -> Result<(), ClientError> {
        let session =
            Session::from_login(login).map_err(|e| ClientError::BadReply(e.to_string()))?;
        let (reply, answer) = oneshot::channel();
        self.send(Cmd::SignedIn(session, reply));
        answer.await.map_err(|_| ClientError::Stopped)?
    }

    /// Signs out: the phone forgets this user's records once they are synced (a shared
    /// phone), and keeps them while changes wait.
    pub(crate) async fn sign_out(&self) {
        let (reply, answer) = oneshot::channel();
        self.send(Cmd::SignOut(reply));
        let _ = answer.await;
    }

    /// A saved form draft.
    pub(crate) async fn draft(&self, key: &str) -> Option<String> {
        self.db.get(&format!("draft:{key}")).await.ok().flatten()
    }

    /// Saves (or with `None` deletes) a form draft.
    pub(crate) async fn save_draft(
        &self,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), ClientError> {
        self.db.put(&format!("draft:{key}"), value).await
    }
}
