//! Signing in and out, and who is signed in.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::sync::Role;

use super::{AppError, User, token_from};
use crate::AppState;
use crate::auth;
use crate::engine::now;
use crate::store::{Account, StoreError};

#[derive(Deserialize)]
pub(super) struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize)]
pub(super) struct LoginReply {
    token: String,
    expires_at: i64,
    user: UserView,
}

#[derive(Serialize)]
pub(super) struct UserView {
    user: String,
    name: String,
    role: Role,
    scope: String,
}

fn view(a: &Account) -> UserView {
    UserView {
        user: a.principal.user.to_string(),
        name: a.name.clone(),
        role: a.principal.role,
        scope: a.principal.scope.to_string(),
    }
}

pub(super) async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(body) = body.map_err(|e| {
        AppError::BadRequest(format!("expected {{\"username\", \"password\"}}: {e}"))
    })?;
    let store = state.store.clone();
    let ttl = state.settings.token_ttl_ms;
    let result = state
        .hasher
        .run(
            move || -> Result<Option<(Account, String, i64)>, StoreError> {
                let Some(account) = store.account(&body.username)? else {
                    return Ok(None);
                };
                if !auth::verify_password(&body.password, &account.password_hash) {
                    return Ok(None);
                }
                let (token, expires_at) =
                    auth::issue_token(store.as_ref(), &account.principal, now().0, ttl)?;
                Ok(Some((account, token, expires_at)))
            },
        )
        .await
        .ok_or_else(|| AppError::Internal("password hasher stopped".into()))??;
    let Some((account, token, expires_at)) = result else {
        state
            .metrics
            .unauthorized
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(AppError::Unauthorized("wrong username or password".into()));
    };
    state
        .metrics
        .logins
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let cookie = format!(
        "gridvisit_token={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        ttl / 1000
    );
    let mut resp = Json(LoginReply {
        token,
        expires_at,
        user: view(&account),
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let token =
        token_from(&headers).ok_or(AppError::Unauthorized("sign in first: no token".into()))?;
    auth::revoke(state.store.as_ref(), &token)?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn me(User(a): User) -> Json<UserView> {
    Json(view(&a))
}
