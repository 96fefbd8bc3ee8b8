//! Records in the user's scope: a listing, and one record with its history.

use automerge::Automerge;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::ids::DocumentId;
use shared::model::{Record, RecordMeta, history};

use super::{AppError, User};
use crate::AppState;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    pub(super) kind: Option<String>,
    pub(super) grid: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Loads a document from storage (committed state).
pub(super) fn load(state: &AppState, id: &DocumentId) -> Result<Option<Automerge>, AppError> {
    match state.store.load(id)? {
        None => Ok(None),
        Some(bytes) => Automerge::load(&bytes)
            .map(Some)
            .map_err(|e| AppError::Internal(e.to_string())),
    }
}

pub(super) async fn records(
    State(state): State<AppState>,
    User(a): User,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, AppError> {
    if let Some(k) = &q.kind
        && !["household", "visit", "issue"].contains(&k.as_str())
    {
        return Err(AppError::BadRequest(format!(
            "unknown kind {k:?}: use household, visit or issue"
        )));
    }
    let mut rows = state.store.rows(&a.principal.scope, q.kind.as_deref())?;
    if let Some(g) = &q.grid {
        rows.retain(|(_, r)| r.grid.as_deref() == Some(g.as_str()));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.seq));
    let total = rows.len();
    let limit = q.limit.unwrap_or(100).min(1000);
    let mut items = Vec::new();
    for (id, _) in rows.into_iter().skip(q.offset.unwrap_or(0)).take(limit) {
        if let Some(doc) = load(&state, &id)? {
            match Record::read(&doc) {
                Ok(record) => items.push(json!({ "id": id, "url": id.url(), "record": record })),
                Err(e) => {
                    items.push(json!({ "id": id, "url": id.url(), "invalid": e.to_string() }))
                }
            }
        }
    }
    Ok(Json(json!({ "total": total, "items": items })))
}

pub(super) async fn record(
    State(state): State<AppState>,
    User(a): User,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = DocumentId::parse_any(&id).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let not_found = || AppError::NotFound(format!("no record {id}"));
    let doc = load(&state, &id)?.ok_or_else(not_found)?;
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
}
