//! Records in the user's scope: a listing, and one record with its history.

use automerge::Automerge;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::ids::DocumentId;
use shared::model::{Record, RecordMeta, history};
use shared::sync::Principal;

use super::{AppError, User};
use crate::AppState;
use crate::store::{Page, PageQuery, Storage, Wanted};

/// A page of records: `?kind=&grid=&household=&limit=&before=` (`before` is the previous
/// page's `next`; `household`: the visits of one household, older ones included, as a phone
/// fetches them on demand).
#[derive(Deserialize)]
pub(super) struct ListQuery {
    pub(super) kind: Option<String>,
    pub(super) grid: Option<String>,
    pub(super) household: Option<String>,
    /// `summary`: each item is only its list summary (what a drill-down shows).
    view: Option<String>,
    /// `open`, `overdue`, `closed` (issues), `this-week` (visits) or `corrections` (records
    /// that need correcting).
    pub(super) status: Option<String>,
    limit: Option<usize>,
    pub(super) before: Option<u64>,
}

/// Records per page by default and at most.
const PAGE: usize = 100;
const MAX_PAGE: usize = 1_000;

impl ListQuery {
    /// The kind asked for, checked.
    pub(super) fn kind(&self) -> Result<Option<&str>, AppError> {
        match self.kind.as_deref() {
            None => Ok(None),
            Some(k @ ("household" | "visit" | "issue" | "review")) => Ok(Some(k)),
            Some(k) => Err(AppError::BadRequest(format!(
                "unknown kind {k:?}: use household, visit, issue or review"
            ))),
        }
    }

    /// The state asked for, checked.
    pub(super) fn status(&self, now: i64) -> Result<Option<Wanted>, AppError> {
        Ok(match self.status.as_deref() {
            None => None,
            Some("open") => Some(Wanted::Open),
            Some("overdue") => Some(Wanted::Overdue(now)),
            Some("closed") => Some(Wanted::Closed),
            Some("corrections") => Some(Wanted::Corrections),
            Some("this-week") => Some(Wanted::Week(
                shared::time::Calendar::CHINA.week(shared::time::Millis(now)),
            )),
            Some(s) => {
                return Err(AppError::BadRequest(format!(
                    "unknown status {s:?}: use open, overdue, closed, corrections or this-week"
                )));
            }
        })
    }

    /// The household asked about, checked.
    pub(super) fn household(&self) -> Result<Option<DocumentId>, AppError> {
        self.household
            .as_deref()
            .map(|h| DocumentId::parse_any(h).map_err(|e| AppError::BadRequest(e.to_string())))
            .transpose()
    }
}

/// Loads a document from storage (committed state).
pub(super) fn load(store: &dyn Storage, id: &DocumentId) -> Result<Option<Automerge>, AppError> {
    match store.load(id)? {
        None => Ok(None),
        Some(bytes) => Automerge::load(&bytes)
            .map(Some)
            .map_err(|e| AppError::Internal(e.to_string())),
    }
}

/// Runs storage work on a blocking thread, so a large page never stalls the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// One page of `principal`'s documents.
pub(super) fn page(
    store: &dyn Storage,
    principal: &Principal,
    filter: Filter<'_>,
    before: Option<u64>,
    limit: usize,
) -> Result<Page, AppError> {
    Ok(store.page(&PageQuery {
        scope: &principal.scope,
        kind: filter.kind,
        grid: filter.grid,
        household: filter.household,
        status: filter.status,
        before,
        limit,
    })?)
}

/// Which documents a listing wants.
#[derive(Clone, Copy, Default)]
pub(super) struct Filter<'a> {
    pub(super) kind: Option<&'a str>,
    pub(super) grid: Option<&'a str>,
    pub(super) household: Option<DocumentId>,
    pub(super) status: Option<Wanted>,
}

pub(super) async fn records(
    State(state): State<AppState>,
    User(a): User,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, AppError> {
    let kind = q.kind()?.map(str::to_owned);
    let household = q.household()?;
    let status = q.status(crate::engine::now().0)?;
    let summaries_only = match q.view.as_deref() {
        None | Some("full") => false,
        Some("summary") => true,
        Some(v) => {
            return Err(AppError::BadRequest(format!(
                "unknown view {v:?}: use summary or full"
            )));
        }
    };
    let limit = q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let store = state.store.clone();
    blocking(move || {
        let filter = Filter {
            kind: kind.as_deref(),
            grid: q.grid.as_deref(),
            household,
            status,
        };
        let p = page(store.as_ref(), &a.principal, filter, q.before, limit)?;
        let mut items = Vec::with_capacity(p.rows.len());
        for (id, _) in p.rows {
            if let Some(doc) = load(store.as_ref(), &id)? {
                items.push(match Record::read(&doc) {
                    Ok(record) if summaries_only => json!({
                        "id": id, "summary": shared::summary::Summary::of(&record),
                    }),
                    Ok(record) => json!({
                        "id": id, "url": id.url(),
                        "summary": shared::summary::Summary::of(&record), "record": record,
                    }),
                    Err(e) => json!({ "id": id, "url": id.url(), "invalid": e.to_string() }),
                });
            }
        }
        Ok(Json(json!({ "items": items, "next": p.next })))
    })
    .await
}

pub(super) async fn record(
    State(state): State<AppState>,
    User(a): User,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = DocumentId::parse_any(&id).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let store = state.store.clone();
    blocking(move || {
        let not_found = || AppError::NotFound(format!("no record {id}"));
        let doc = load(store.as_ref(), &id)?.ok_or_else(not_found)?;
        // Outside the scope looks exactly like missing.
        let meta = RecordMeta::read(&doc).map_err(|_| not_found())?;
        if !a.principal.can_read(&meta) {
            return Err(not_found());
        }
        let record = Record::read(&doc).map_err(|e| e.to_string());
        let history = history::history(&doc);
        let heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
        Ok(Json(json!({
            "id": id, "url": id.url(), "kind": meta.kind, "grid": meta.grid,
            "record": record.as_ref().ok(), "invalid": record.as_ref().err(),
            "heads": heads, "history": history,
        })))
    })
    .await
}

/// `?q=&limit=`: households of the user's scope by address, head or phone.
#[derive(Deserialize)]
pub(super) struct SearchQuery {
    q: String,
    limit: Option<usize>,
}

/// Households whose address, head or contact contains `q` (case-insensitive), as summaries:
/// how a supervisor finds a household it does not hold.
pub(super) async fn search(
    State(state): State<AppState>,
    User(a): User,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Value>, AppError> {
    let needle = q.q.trim().to_lowercase();
    if needle.is_empty() || needle.chars().count() > 100 {
        return Err(AppError::BadRequest(
            "q: between 1 and 100 characters of an address, a name or a phone number".into(),
        ));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let store = state.store.clone();
    blocking(move || {
        let ids = store.search_households(&a.principal.scope, &needle, limit)?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(doc) = load(store.as_ref(), &id)?
                && let Ok(record) = Record::read(&doc)
            {
                items.push(json!({ "id": id, "summary": shared::summary::Summary::of(&record) }));
            }
        }
        Ok(Json(json!({ "items": items, "next": null })))
    })
    .await
}

/// Open issues whose assignee is the signed-in user (a department's inbox; a worker's
/// dispatched work), as summaries.
pub(super) async fn assigned(
    State(state): State<AppState>,
    User(a): User,
) -> Result<Json<Value>, AppError> {
    let store = state.store.clone();
    blocking(move || {
        let me = a.principal.user.as_str().to_owned();
        let mut items = Vec::new();
        let mut before = None;
        loop {
            let filter = Filter {
                kind: Some("issue"),
                status: Some(Wanted::Open),
                ..Filter::default()
            };
            let p = page(store.as_ref(), &a.principal, filter, before, MAX_PAGE)?;
            for (id, _) in &p.rows {
                if let Some(doc) = load(store.as_ref(), id)?
                    && let Ok(record @ Record::Issue(_)) = Record::read(&doc)
                    && matches!(&record, Record::Issue(i) if i.state.assignee.as_deref() == Some(me.as_str()))
                {
                    items.push(json!({ "id": id, "summary": shared::summary::Summary::of(&record) }));
                }
            }
            match p.next {
                Some(n) => before = Some(n),
                None => break,
            }
        }
        Ok(Json(json!({ "items": items, "next": null })))
    })
    .await
}
