//! The JSON HTTP API: login, current user, records with history, aggregates (and their live
//! stream), quarantine, CSV export, health and metrics. Errors are JSON `{status, error}`.

use std::convert::Infallible;
use std::time::Duration;

use automerge::Automerge;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::aggregate::Figures;
use shared::ids::DocumentId;
use shared::model::{Record, RecordMeta};
use shared::sync::{Principal, Role};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;

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
        let (status, message) = match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Self::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        };
        (
            status,
            Json(json!({ "status": status.as_u16(), "error": message })),
        )
            .into_response()
    }
}

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/records", get(records))
        .route("/api/records/{id}", get(record))
        .route("/api/aggregates", get(aggregates))
        .route("/api/live", get(live))
        .route("/api/quarantine", get(quarantine))
        .route("/api/export.csv", get(export_csv))
}

/// The token from `Authorization: Bearer` or the `gridvisit_token` cookie.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_owned());
    }
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

struct User(Account);

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

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LoginReply {
    token: String,
    expires_at: i64,
    user: UserView,
}

#[derive(Serialize)]
struct UserView {
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

async fn login(
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

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, AppError> {
    let token =
        token_from(&headers).ok_or(AppError::Unauthorized("sign in first: no token".into()))?;
    auth::revoke(state.store.as_ref(), &token)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(User(a): User) -> Json<UserView> {
    Json(view(&a))
}

#[derive(Deserialize)]
struct ListQuery {
    kind: Option<String>,
    grid: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Loads a document from storage (committed state).
fn load(state: &AppState, id: &DocumentId) -> Result<Option<Automerge>, AppError> {
    match state.store.load(id)? {
        None => Ok(None),
        Some(bytes) => Automerge::load(&bytes)
            .map(Some)
            .map_err(|e| AppError::Internal(e.to_string())),
    }
}

fn readable(p: &Principal, meta: &RecordMeta) -> bool {
    p.scope.contains(&meta.grid)
}

async fn records(
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

async fn record(
    State(state): State<AppState>,
    User(a): User,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = DocumentId::parse_any(&id).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let not_found = || AppError::NotFound(format!("no record {id}"));
    let doc = load(&state, &id)?.ok_or_else(not_found)?;
    // Outside the scope looks exactly like missing.
    let meta = RecordMeta::read(&doc).map_err(|_| not_found())?;
    if !readable(&a.principal, &meta) {
        return Err(not_found());
    }
    let record = Record::read(&doc).map_err(|e| e.to_string());
    let history: Vec<Value> = doc
        .get_changes(&[])
        .iter()
        .map(|c| {
            json!({
                "hash": c.hash().to_string(),
                "actor": c.actor_id().to_hex_string(),
                "user": c.message(),
                "time": c.timestamp() * 1000,
                "seq": c.seq(),
                "deps": c.deps().iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    let heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
    Ok(Json(json!({
        "id": id, "url": id.url(), "kind": meta.kind, "grid": meta.grid,
        "record": record.as_ref().ok(), "invalid": record.as_ref().err(),
        "heads": heads, "history": history,
    })))
}

fn figures(state: &AppState, p: &Principal) -> Figures {
    let dashboard = state.dashboard.lock().unwrap_or_else(|e| e.into_inner());
    dashboard.figures(now(), &p.scope)
}

async fn aggregates(State(state): State<AppState>, User(a): User) -> Json<Value> {
    let f = figures(&state, &a.principal);
    Json(json!({ "scope": a.principal.scope.to_string(), "at": now().0, "figures": f }))
}

async fn live(
    State(state): State<AppState>,
    User(a): User,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let p = a.principal;
    // End the stream on shutdown, so a graceful stop does not wait for supervisors' tabs.
    let mut stop = state.shutdown.clone();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let stream = WatchStream::new(state.changed.clone())
        .throttle(Duration::from_millis(100))
        .map(move |version| {
            let f = figures(&state, &p);
            let data = json!({ "version": version, "at": now().0, "figures": f }).to_string();
            Ok(SseEvent::default().event("figures").data(data))
        });
    let stream = futures_util::StreamExt::take_until(stream, stopped);
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn quarantine(State(state): State<AppState>, User(a): User) -> Result<Json<Value>, AppError> {
    if a.principal.role != Role::Admin {
        return Err(AppError::Forbidden(
            "only an admin may list the quarantine".into(),
        ));
    }
    Ok(Json(json!({ "items": state.store.quarantine(500)? })))
}

fn csv_field(s: &str) -> String {
    // Quote every field; neutralise formula injection for spreadsheet users.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn export_csv(
    State(state): State<AppState>,
    User(a): User,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let kind = q.kind.unwrap_or_else(|| "household".into());
    let header_row = match kind.as_str() {
        "household" => "id,grid,building,unit,room,head,contact,members,tags",
        "visit" => "id,grid,household,started_at,outcome,items,visitors",
        "issue" => "id,grid,area,source,status,level,assignee,deadline,overdue,description",
        other => return Err(AppError::BadRequest(format!("unknown kind {other:?}"))),
    };
    let mut out = String::from(header_row);
    out.push('\n');
    let t = now();
    let mut rows = state.store.rows(&a.principal.scope, Some(&kind))?;
    if let Some(g) = &q.grid {
        rows.retain(|(_, r)| r.grid.as_deref() == Some(g.as_str()));
    }
    for (id, _) in rows {
        let Some(doc) = load(&state, &id)? else {
            continue;
        };
        let fields: Vec<String> = match Record::read(&doc) {
            Ok(Record::Household(h)) => vec![
                id.to_string(),
                h.grid.to_string(),
                h.address.building.value.clone(),
                h.address.unit.value.clone(),
                h.address.room.value.clone(),
                h.head.value.clone(),
                h.masked_contact(),
                h.members.value.to_string(),
                h.tags.join(" "),
            ],
            Ok(Record::Visit(v)) => vec![
                id.to_string(),
                v.grid.to_string(),
                v.household.to_string(),
                v.started_at.0.to_string(),
                v.outcome.value.code().to_owned(),
                v.items.len().to_string(),
                v.visitors.join(" "),
            ],
            Ok(Record::Issue(i)) => vec![
                id.to_string(),
                i.grid.to_string(),
                i.area.code().to_owned(),
                i.source.code().to_owned(),
                i.state.status.code().to_owned(),
                i.state.level.code().to_owned(),
                i.state.assignee.clone().unwrap_or_default(),
                i.state
                    .deadline
                    .map(|d| d.0.to_string())
                    .unwrap_or_default(),
                i.state.overdue(t).to_string(),
                i.description.clone(),
            ],
            Err(_) => continue,
        };
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"gridvisit-{kind}.csv\""),
            ),
        ],
        out,
    )
        .into_response())
}
