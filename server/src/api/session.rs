//! Signing in and out, and who is signed in.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::sync::Role;

use std::sync::atomic::Ordering;

use super::{AppError, ClientIp, User, token_from};
use crate::AppState;
use crate::auth;
use crate::engine::now;
use crate::limits::Ended;
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
    /// Days of visits and closed issues a phone holds.
    window_days: i64,
}

fn view(a: &Account, window_days: i64) -> UserView {
    UserView {
        user: a.principal.user.to_string(),
        name: a.name.clone(),
        role: a.principal.role,
        scope: a.principal.scope.to_string(),
        window_days,
    }
}

/// How a login failed.
enum Failed {
    /// Wrong username or password (the same answer, in the same time, for both).
    Wrong,
    /// The published demo password, off loopback.
    DemoPassword,
    /// An admin disabled the account.
    Disabled,
}

pub(super) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AppError> {
    let Json(body) = body.map_err(|e| {
        AppError::BadRequest(format!("expected {{\"username\", \"password\"}}: {e}"))
    })?;
    let at = std::time::Instant::now();
    if let Err(wait) = state.throttle.check(&body.username, &ip, at) {
        state.metrics.throttled.fetch_add(1, Ordering::Relaxed);
        return Err(AppError::TooMany {
            message: "too many failed sign-ins: wait and try again / 登录失败次数过多，请稍后再试"
                .into(),
            retry_after: wait,
        });
    }
    let store = state.store.clone();
    let ttl = state.settings.token_ttl_ms;
    let demo_allowed = state.settings.demo_password_allowed;
    let dummy = state.dummy_hash.clone();
    let user = body.username.clone();
    let result = state
        .hasher
        .run(
            move || -> Result<Result<(Account, String, i64), Failed>, StoreError> {
                let account = store.account(&body.username)?;
                // An unknown user costs one argon2 run too, so timing tells nothing.
                let hash = account
                    .as_ref()
                    .map_or(dummy.as_str(), |a| &a.password_hash);
                let ok = auth::verify_password(&body.password, hash);
                let Some(account) = account.filter(|_| ok) else {
                    return Ok(Err(Failed::Wrong));
                };
                if account.disabled {
                    return Ok(Err(Failed::Disabled));
                }
                if !demo_allowed && body.password == crate::demo::DEMO_PASSWORD {
                    return Ok(Err(Failed::DemoPassword));
                }
                let (token, expires_at) =
                    auth::issue_token(store.as_ref(), &account.principal, now().0, ttl)?;
                Ok(Ok((account, token, expires_at)))
            },
        )
        .await
        .ok_or_else(|| AppError::Internal("password hasher stopped".into()))??;
    let (account, token, expires_at) = match result {
        Ok(ok) => ok,
        Err(failed) => {
            state.metrics.unauthorized.fetch_add(1, Ordering::Relaxed);
            state.throttle.failed(&user, &ip, at);
            return Err(AppError::Unauthorized(match failed {
                Failed::Wrong => "wrong username or password / 用户名或密码错误".into(),
                Failed::Disabled => "this account is disabled: ask your admin / 账号已停用，请联系管理员".into(),
                Failed::DemoPassword => "the published demo password signs in only on a loopback \
                    address: use the password printed in the start banner / 公开的演示密码仅限本机使用"
                    .into(),
            }));
        }
    };
    state
        .metrics
        .logins
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let cookie = cookie(&state, &token);
    let mut resp = Json(login_reply(&state, &account, token, expires_at)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// What a sign-in answers: the token and who it signs in.
pub(super) fn login_reply(
    state: &AppState,
    account: &Account,
    token: String,
    expires_at: i64,
) -> LoginReply {
    LoginReply {
        token,
        expires_at,
        user: view(account, state.settings.window_days),
    }
}

/// The session cookie a sign-in sets.
pub(super) fn cookie(state: &AppState, token: &str) -> String {
    format!(
        "gridvisit_token={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        state.settings.token_ttl_ms / 1000,
        if state.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    )
}

pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let token =
        token_from(&headers).ok_or(AppError::Unauthorized("sign in first: no token".into()))?;
    let store = state.store.clone();
    let key = tokio::task::spawn_blocking(move || auth::revoke(store.as_ref(), &token))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    // Its open sockets close now, not at their next reconnect.
    state.sessions.end(Ended::Token(key));
    // The browser forgets the cookie too.
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("gridvisit_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

pub(super) async fn me(State(state): State<AppState>, User(a): User) -> Json<UserView> {
    Json(view(&a, state.settings.window_days))
}
