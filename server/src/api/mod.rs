//! The JSON HTTP API. Errors are JSON `{status, error}` through one [`AppError`].
//!
//! - `session.rs`: login, logout, the current user.
//! - `records.rs`: records in scope, one record with its history.
//! - `figures.rs`: dashboard figures, once and live (SSE).
//! - `export.rs`: CSV export.
//! - `admin.rs`: the quarantine.
//! - `org.rs`: the organisation and the step deadlines (and the admin check and audit entry).
//! - `people.rs`: people, the audit log, the dispatch picker.
//! - `provision.rs`: one-time codes that sign a phone in.
//! - `import.rs`: households imported from a spreadsheet, with progress.
//! - `backup.rs`: a consistent backup of the running server.
//! - `report.rs`: residents' reports (Open311 GeoReport v2), their status and rating.
//! - `report_page.rs`: the resident's report and status pages, and the sheet of grid QR codes.
//! - `photos.rs`: photos by SHA-256: upload, existence, access by scope.
//! - here: the error type, the token extractor, health and metrics.

mod admin;
mod backup;
mod export;
mod figures;
pub mod import;
mod month;
mod org;
mod people;
mod photos;
mod provision;
mod records;
mod report;
mod report_page;
mod session;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{self, TokenError};
use crate::engine::now;
use crate::store::{Account, StoreError};

/// An error answered to the client as JSON. Internal errors are logged and hidden.
#[derive(Debug)]
pub enum AppError {
    /// 400.
    BadRequest(String),
    /// 401.
    Unauthorized(String),
    /// 403.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 413: too big, or a quota is used up.
    TooLarge(String),
    /// 429 with `Retry-After`: this user or address is at a limit.
    TooMany {
        /// What the limit is.
        message: String,
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// 503 with `Retry-After`: the server is at a limit.
    Unavailable {
        /// What the limit is.
        message: String,
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// 500.
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<TokenError> for AppError {
    fn from(e: TokenError) -> Self {
        Self::Unauthorized(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut retry = None;
        let (status, message) = match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Self::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            Self::TooMany {
                message,
                retry_after,
            } => {
                retry = Some(retry_after);
                (StatusCode::TOO_MANY_REQUESTS, message)
            }
            Self::Unavailable {
                message,
                retry_after,
            } => {
                retry = Some(retry_after);
                (StatusCode::SERVICE_UNAVAILABLE, message)
            }
            Self::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        };
        let mut resp = (
            status,
            Json(json!({ "status": status.as_u16(), "error": message })),
        )
            .into_response();
        if let Some(wait) = retry {
            // Whole seconds, rounded up: a client that waits that long is let in.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, secs.max(1).into());
        }
        resp
    }
}

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/ca.pem", get(ca_cert))
        .route("/metrics", get(metrics))
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/me", get(session::me))
        .route("/api/records", get(records::records))
        .route("/api/records/{id}", get(records::record))
        .route("/api/households", get(records::search))
        .route("/api/assigned", get(records::assigned))
        .route("/api/aggregates", get(figures::aggregates))
        .route("/api/month", get(month::month))
        .route("/api/live", get(figures::live))
        .route("/api/quarantine", get(admin::quarantine))
        .route("/api/org", get(org::org))
        .route("/api/people", get(people::picker))
        .route("/api/provision", post(provision::provision))
        .route("/api/provision/redeem", post(provision::redeem))
        .route("/api/admin/org", post(org::put_unit))
        .route("/api/admin/settings", axum::routing::put(org::put_settings))
        .route(
            "/api/admin/people",
            get(people::people).post(people::create_person),
        )
        .route(
            "/api/admin/people/{user}",
            axum::routing::patch(people::edit_person),
        )
        .route(
            "/api/admin/people/{user}/password",
            post(people::reset_password),
        )
        .route("/api/admin/audit", get(people::audit_log))
        .route(
            "/api/admin/import",
            post(import::start).layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024)),
        )
        .route("/api/admin/import/{job}", get(import::progress))
        .route("/api/backup", post(backup::backup))
        .route(
            "/api/quarantine/{id}",
            axum::routing::delete(admin::discard),
        )
        .route(
            "/api/admin/users/{user}/end-sessions",
            post(admin::end_sessions),
        )
        .route("/api/export.csv", get(export::export_csv))
        .route(
            "/api/photos/{hash}",
            get(photos::fetch)
                .head(photos::exists)
                .put(photos::upload)
                .layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024)),
        )
        .route("/open311/v2/services.json", get(report::services))
        .route("/open311/v2/services/{file}", get(report::service))
        .route(
            "/open311/v2/requests.json",
            post(report::submit).layer(axum::extract::DefaultBodyLimit::max(
                report::MAX_REPORT_PHOTOS * 4 * 1024 * 1024 + 64 * 1024,
            )),
        )
        .route("/open311/v2/requests/{file}", get(report::request))
        .route("/api/report/{code}", get(report::status_json))
        .route("/report/status/{code}/rate", post(report::rate))
        .route("/report/status/{code}/photo/{hash}", get(report::own_photo))
        .merge(report_page::routes())
}

/// The token from `Authorization: Bearer` or the `gridvisit_token` cookie.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    bearer_token(headers).or_else(|| cookie_token(headers))
}

/// The token from `Authorization: Bearer`.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

/// The token from the `gridvisit_token` cookie.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix("gridvisit_token=")
                .map(str::to_owned)
        })
}

/// Checks a token; counts refusals.
pub async fn authenticate(state: &AppState, token: Option<&str>) -> Result<Account, AppError> {
    authenticate_row(state, token).await.map(|c| c.account)
}

/// Checks a token and returns what it is (its account, expiry and key); counts refusals.
pub async fn authenticate_row(
    state: &AppState,
    token: Option<&str>,
) -> Result<auth::Checked, AppError> {
    let store = state.store.clone();
    let token = token.map(str::to_owned);
    let result = tokio::task::spawn_blocking(move || {
        auth::check_token(store.as_ref(), token.as_deref(), now().0)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    result.map_err(|e| {
        state
            .metrics
            .unauthorized
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        e.into()
    })
}

/// The client's address (when the server runs with connect info), as the throttle keys it.
pub struct ClientIp(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<crate::PeerAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.0.ip().to_string());
        Ok(Self(ip))
    }
}

/// The signed-in user of a request (from `Authorization: Bearer`, the cookie or `?token=`).
pub(crate) struct User(pub(crate) Account);

impl axum::extract::FromRequestParts<AppState> for User {
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, AppError> {
        let from_query = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token=").map(str::to_owned))
        });
        let token = token_from(&parts.headers).or(from_query);
        authenticate(state, token.as_deref()).await.map(User)
    }
}

/// When the field app is not built: what is running and how to build the app.
pub(crate) async fn index() -> axum::response::Html<&'static str> {
    axum::response::Html(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>gridvisit 网格走访</title>
<link rel="icon" href="data:,"></head><body>
<h1>gridvisit 网格走访同步服务</h1>
<p>同步服务已运行，但现场应用尚未构建：请用 <code>cargo xtask start</code> 启动。<br>
The sync server is running without the field app: start it with <code>cargo xtask start</code>
(or build it with <code>cargo xtask app</code> and pass <code>--app target/app</code>).</p>
<ul><li>WebSocket 同步 / sync: <code>/sync?token=…</code> (automerge-repo protocol "1")</li>
<li>登录 / sign in: <code>POST /api/login</code></li><li>统计 / figures: <code>GET /api/aggregates</code>, <code>GET /api/live</code></li>
<li>健康 / health: <a href="/healthz">/healthz</a>, <a href="/metrics">/metrics</a></li></ul></body></html>"#,
    )
}

/// The local CA's certificate (public by nature): what a phone installs to trust this
/// server's HTTPS on a LAN.
async fn ca_cert(State(state): State<AppState>) -> Result<Response, AppError> {
    let path = state.settings.ca_cert.clone().ok_or_else(|| {
        AppError::NotFound("this server does not use a local CA (--tls-local-ca)".into())
    })?;
    let pem = tokio::fs::read(&path)
        .await
        .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"gridvisit-ca.crt\"",
            ),
        ],
        pem,
    )
        .into_response())
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let docs = state.store.doc_count()?;
    Ok(Json(json!({ "status": "ok", "documents": docs })))
}

async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let docs = state.store.doc_count()?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(docs),
    )
        .into_response())
}
