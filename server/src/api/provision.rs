//! One-time codes that sign a phone in (as ODK Central's app-user QR codes): a supervisor or
//! admin asks for one for a person of their scope (`POST /api/provision`, a QR code of
//! `<public url>/#/provision/<code>`), and the phone redeems it once
//! (`POST /api/provision/redeem`) before it expires.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::sync::Role;

use super::org::audit;
use super::records::blocking;
use super::{AppError, User};
use crate::AppState;
use crate::auth;
use crate::engine::now;
use crate::store::{AuditEntry, ProvisionRow, Redeem};

#[derive(Deserialize)]
pub(super) struct ProvisionBody {
    user: String,
}

/// A one-time code that signs `user`'s phone in: short-lived, single use, shown as a QR code
/// of `<public url>/#/provision/<code>` (as ODK Central's app-user codes).
pub(super) async fn provision(
    State(state): State<AppState>,
    user: User,
    headers: axum::http::HeaderMap,
    body: Result<Json<ProvisionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, AppError> {
    let Json(b) = body.map_err(|e| AppError::BadRequest(format!("expected {{\"user\"}}: {e}")))?;
    let me = user.0.principal.clone();
    if !me.role.is_supervisor() {
        return Err(AppError::Forbidden(
            "only supervisors and admins provision phones / 仅管理人员可发放登录码".into(),
        ));
    }
    let store = state.store.clone();
    let who = b.user.clone();
    let target = blocking(move || Ok(store.account(&who)?))
        .await?
        .filter(|a| !a.disabled)
        .ok_or_else(|| {
            AppError::NotFound(format!("no active account {} / 账号不存在或已停用", b.user))
        })?;
    if !me.scope.covers(&target.principal.scope)
        || (target.principal.role.is_supervisor() && me.role != Role::Admin)
    {
        return Err(AppError::Forbidden(format!(
            "{} is outside your scope / 不在您的管辖范围",
            b.user
        )));
    }
    let code = auth::new_token()?[..32].to_owned();
    let expires_at = now().0 + state.settings.provision_ttl_ms;
    let row = ProvisionRow {
        user: target.principal.user.to_string(),
        by: me.user.to_string(),
        expires_at,
        used: false,
    };
    let store = state.store.clone();
    let key = auth::token_key(&code);
    blocking(move || Ok(store.put_provision(&key, &row)?)).await?;
    audit(
        &state,
        &user,
        "person.provision",
        target.principal.user.as_str(),
        "one-time sign-in code issued".into(),
    )?;
    let base = public_base(&state, &headers);
    let url = format!("{}/#/provision/{code}", base.trim_end_matches('/'));
    let svg = qr_svg(&url)?;
    Ok(Json(json!({
        "user": target.principal.user.as_str(),
        "name": target.name,
        "code": code,
        "url": url,
        "expires_at": expires_at,
        "svg": svg,
    })))
}

/// The address phones reach this server at: `--public-url`, else the scheme and host the
/// request came to.
pub(super) fn public_base(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    state.settings.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1:8080");
        let scheme = if state.settings.secure_cookies {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    })
}

/// A QR code of `text` as an SVG image.
pub(super) fn qr_svg(text: &str) -> Result<String, AppError> {
    let code =
        qrcode::QrCode::new(text.as_bytes()).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

#[derive(Deserialize)]
pub(super) struct RedeemBody {
    code: String,
}

/// Signs a phone in with a one-time code: a login token, as `POST /api/login` answers.
pub(super) async fn redeem(
    State(state): State<AppState>,
    body: Result<Json<RedeemBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(b) = body.map_err(|e| AppError::BadRequest(format!("expected {{\"code\"}}: {e}")))?;
    let store = state.store.clone();
    let key = auth::token_key(b.code.trim());
    let ttl = state.settings.token_ttl_ms;
    let redeemed = blocking(move || {
        let t = now().0;
        let row = match store.redeem_provision(&key, t)? {
            Ok(row) => row,
            Err(r) => return Ok(Err(r)),
        };
        let Some(account) = store.account(&row.user)?.filter(|a| !a.disabled) else {
            return Ok(Err(Redeem::Unknown));
        };
        let (token, expires_at) = auth::issue_token(store.as_ref(), &account.principal, t, ttl)?;
        store.append_audit(&[AuditEntry {
            seq: 0,
            at: t,
            by: row.user.clone(),
            action: "person.provisioned".into(),
            target: row.user.clone(),
            detail: format!("phone signed in with the code issued by {}", row.by),
        }])?;
        Ok(Ok((account, token, expires_at)))
    })
    .await?;
    let (account, token, expires_at) = redeemed.map_err(|r| {
        state.metrics.unauthorized.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        AppError::Unauthorized(
            match r {
                Redeem::Unknown => "this sign-in code is not valid / 登录码无效",
                Redeem::Used => "this sign-in code was used already: ask for a new one / 登录码已使用，请重新获取",
                Redeem::Expired => "this sign-in code expired: ask for a new one / 登录码已过期，请重新获取",
            }
            .into(),
        )
    })?;
    let mut resp = Json(super::session::login_reply(
        &state,
        &account,
        token.clone(),
        expires_at,
    ))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&super::session::cookie(&state, &token)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}
