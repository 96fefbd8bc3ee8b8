//! What only an admin may do: review the quarantine of refused changes (each decoded: who,
//! which record, which fields, why), discard one, and end a user's sessions.

use automerge::Automerge;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use shared::model::history;
use shared::sync::Role;

use super::records::blocking;
use super::{AppError, User};
use crate::AppState;
use crate::engine::Cmd;
use crate::limits::Ended;
use crate::store::{QuarantineRow, Storage};

fn admin_only(user: &User, what: &str) -> Result<(), AppError> {
    if user.0.principal.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("only an admin may {what}")))
    }
}

/// Quarantined changes kept per page of the review.
const REVIEW: usize = 500;

pub(super) async fn quarantine(
    State(state): State<AppState>,
    user: User,
) -> Result<Json<Value>, AppError> {
    admin_only(&user, "list the quarantine")?;
    let store = state.store.clone();
    let dropped = state
        .metrics
        .quarantine_dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    blocking(move || {
        let rows = store.quarantine(REVIEW)?;
        let items: Vec<Value> = rows.iter().map(|r| decoded(store.as_ref(), r)).collect();
        Ok(Json(json!({ "items": items, "dropped": dropped })))
    })
    .await
}

/// A quarantined change as an admin reads it: the row, plus each refused change's author,
/// time and the fields it writes, read by applying it to a copy of the stored record.
fn decoded(store: &dyn Storage, row: &QuarantineRow) -> Value {
    let mut base = store
        .load(&row.doc)
        .ok()
        .flatten()
        .and_then(|b| Automerge::load(&b).ok())
        .unwrap_or_default();
    let known: std::collections::HashSet<String> = base
        .get_changes(&[])
        .iter()
        .map(|c| c.hash().to_string())
        .collect();
    let chunk = shared::hex::decode(&row.chunk_hex).unwrap_or_default();
    let loaded = shared::sync::untrusted(|| base.load_incremental(&chunk).map(|_| ()));
    let changes: Vec<Value> = match loaded.map_err(|e| e.to_string()) {
        Ok(Ok(())) => history::history(&base)
            .into_iter()
            .filter(|e| !known.contains(&e.hash))
            .map(|e| json!({ "hash": e.hash, "user": e.user, "at": e.at, "fields": e.what }))
            .collect(),
        Ok(Err(e)) => vec![json!({ "undecodable": e.to_string() })],
        Err(e) => vec![json!({ "undecodable": e })],
    };
    let mut v = serde_json::to_value(row).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("changes".into(), Value::Array(changes));
    }
    v
}

pub(super) async fn discard(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<u64>,
) -> Result<StatusCode, AppError> {
    admin_only(&user, "discard a quarantined change")?;
    let store = state.store.clone();
    let removed = blocking(move || Ok(store.discard_quarantine(id)?)).await?;
    let row = removed.ok_or_else(|| AppError::NotFound(format!("no quarantined change {id}")))?;
    tracing::info!(id, by = %user.0.principal.user, doc = %row.doc, "quarantined change discarded");
    // The writer's quarantine has room again.
    let _ = state.engine.send(Cmd::Discarded { user: row.user });
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn end_sessions(
    State(state): State<AppState>,
    user: User,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    admin_only(&user, "end a user's sessions")?;
    let store = state.store.clone();
    let who = name.clone();
    let ended = blocking(move || Ok(store.revoke_user_tokens(&who)?)).await?;
    state.sessions.end(Ended::User(name.clone()));
    tracing::info!(user = %name, by = %user.0.principal.user, ended, "sessions ended");
    Ok(Json(json!({ "user": name, "ended": ended })))
}
