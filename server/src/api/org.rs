//! The organisation (`/api/org` for everyone, `/api/admin/org` to change it) and the city's
//! step deadlines (`/api/admin/settings`), with the two helpers every admin handler uses:
//! the admin check and the audit entry.
//!
//! Every change an admin makes is written to the audit log with who and when.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::org::Unit;
use shared::sync::Role;

use super::records::blocking;
use super::{AppError, User};
use crate::AppState;
use crate::engine::now;
use crate::store::AuditEntry;

pub(super) fn admin_only(user: &User, what: &str) -> Result<(), AppError> {
    if user.0.principal.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "only an admin may {what} / 仅管理员可操作"
        )))
    }
}

/// Writes one audit entry.
pub(super) fn audit(
    state: &AppState,
    by: &User,
    action: &str,
    target: &str,
    detail: String,
) -> Result<(), AppError> {
    state.store.append_audit(&[AuditEntry {
        seq: 0,
        at: now().0,
        by: by.0.principal.user.to_string(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
    }])?;
    Ok(())
}

/// The organisation, for everyone signed in (names are what people read).
pub(super) async fn org(
    State(state): State<AppState>,
    _user: User,
) -> Result<Json<Value>, AppError> {
    let store = state.store.clone();
    blocking(move || {
        let mut org = store.org()?;
        org.limits = store.step_limits()?;
        Ok(Json(json!(org)))
    })
    .await
}

/// Creates a unit or renames one.
pub(super) async fn put_unit(
    State(state): State<AppState>,
    user: User,
    body: Result<Json<Unit>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Unit>, AppError> {
    admin_only(&user, "change the organisation")?;
    let Json(mut unit) = body.map_err(|e| {
        AppError::BadRequest(format!(
            "expected {{\"kind\": street|community|grid|department, \"code\", \"name\"}}: {e}"
        ))
    })?;
    unit.name = unit.name.trim().to_owned();
    let store = state.store.clone();
    let u = unit.clone();
    let renamed = blocking(move || {
        let org = store.org()?;
        if let Err(e) = u.check(|p| org.get(p).is_some()) {
            return Ok(Err(e.to_string()));
        }
        let old = org.get(&u.code).map(|o| o.name.clone());
        if org.get(&u.code).is_some_and(|o| o.kind != u.kind) {
            return Ok(Err(format!("{} is already a unit of another kind", u.code)));
        }
        store.put_units(std::slice::from_ref(&u))?;
        Ok(Ok(old))
    })
    .await?
    .map_err(AppError::BadRequest)?;
    let detail = match renamed {
        Some(old) => format!("{old} → {}", unit.name),
        None => unit.name.clone(),
    };
    let action = if detail.contains('→') {
        "org.rename"
    } else {
        "org.create"
    };
    audit(
        &state,
        &user,
        action,
        &format!("{}:{}", unit.kind.code(), unit.code),
        detail,
    )?;
    Ok(Json(unit))
}

#[derive(Deserialize)]
pub(super) struct SettingsBody {
    limits: shared::model::lifecycle::StepLimits,
}

/// Sets the city's step deadlines. Devices write the rule in force into each event that
/// starts a step, so steps already under way keep theirs.
pub(super) async fn put_settings(
    State(state): State<AppState>,
    user: User,
    body: Result<Json<SettingsBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, AppError> {
    admin_only(&user, "change the step deadlines")?;
    let Json(b) = body.map_err(|e| {
        AppError::BadRequest(format!(
            "expected {{\"limits\": {{\"respond_ms\", \"dispatched_ms\": [grid, community, street, city], \"handled_ms\"}}}}: {e}"
        ))
    })?;
    if !b.limits.is_valid() {
        return Err(AppError::BadRequest(
            "each step's limit is between one hour and 90 days / 时限应在 1 小时到 90 天之间"
                .into(),
        ));
    }
    let store = state.store.clone();
    let limits = b.limits;
    let old = blocking(move || {
        let old = store.step_limits()?;
        store.put_step_limits(&limits)?;
        Ok(old)
    })
    .await?;
    let days = |l: &shared::model::lifecycle::StepLimits| {
        format!(
            "{}/{:?}/{} h",
            l.respond_ms / 3_600_000,
            l.dispatched_ms.map(|d| d / 3_600_000),
            l.handled_ms / 3_600_000
        )
    };
    audit(
        &state,
        &user,
        "settings.step_limits",
        "step deadlines",
        format!("{} → {}", days(&old), days(&b.limits)),
    )?;
    Ok(Json(json!({ "limits": b.limits })))
}
