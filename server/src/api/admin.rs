//! What only an admin may see: the quarantine of refused changes.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use shared::sync::Role;

use super::{AppError, User};
use crate::AppState;

pub(super) async fn quarantine(
    State(state): State<AppState>,
    User(a): User,
) -> Result<Json<Value>, AppError> {
    if a.principal.role != Role::Admin {
        return Err(AppError::Forbidden(
            "only an admin may list the quarantine".into(),
        ));
    }
    Ok(Json(json!({ "items": state.store.quarantine(500)? })))
}
