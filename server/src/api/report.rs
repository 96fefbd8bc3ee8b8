//! Residents' reports over HTTP, with no account: Open311 GeoReport v2 (what the report page
//! itself posts to, so existing civic-reporting clients work), the status of a report by its
//! tracking code, and the resident's rating once it is closed.
//!
//! - `GET /open311/v2/services.json`: the five areas.
//! - `GET /open311/v2/services/{code}.json`: an area's attributes (`grid`, `kind`).
//! - `POST /open311/v2/requests.json`: a report (form fields or multipart with `media`).
//! - `GET /open311/v2/requests/{code}.json`: its status, for the holder of the code.
//! - `POST /report/status/{code}/rate`: the resident's rating (form `score`, 1–5).

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use shared::ids::DocumentId;
use shared::model::issue::{IssueSource, append_event};
use shared::model::{Area, EventKind, Issue, IssueDraft, IssueEvent, Level};
use shared::org::UnitKind;

use super::photos;
use super::records::blocking;
use super::{AppError, ClientIp};
use crate::AppState;
use crate::engine::{Cmd, Write, now};
use crate::resident::{self, Report, StatusView};
use crate::store::{ReportRow, token_key};

/// Photos one report may carry.
pub(super) const MAX_REPORT_PHOTOS: usize = 3;

/// The five areas as residents read them.
pub(super) fn area_name(a: Area) -> (&'static str, &'static str) {
    match a {
        Area::Needs => ("民需民盼", "Residents' needs"),
        Area::Infrastructure => ("基础设施", "Infrastructure"),
        Area::Employment => ("就业创业", "Jobs and business"),
        Area::Livelihood => ("民生实事", "Daily life"),
        Area::Disputes => ("矛盾纠纷", "Disputes"),
    }
}

pub(super) async fn services() -> Json<Value> {
    Json(Value::Array(
        Area::ALL
            .iter()
            .map(|a| {
                let (zh, en) = area_name(*a);
                json!({
                    "service_code": a.code(),
                    "service_name": format!("{zh} {en}"),
                    "description": format!("{zh}：向网格反映问题或建议 / {en}: report a problem or make a suggestion"),
                    "metadata": true,
                    "type": "realtime",
                    "keywords": "",
                    "group": "网格 grid",
                })
            })
            .collect(),
    ))
}

fn json_file(file: &str) -> Result<&str, AppError> {
    file.strip_suffix(".json")
        .ok_or_else(|| AppError::NotFound("only .json is served / 仅支持 JSON".into()))
}

pub(super) async fn service(Path(file): Path<String>) -> Result<Json<Value>, AppError> {
    let code = json_file(&file)?;
    let area: Area = code
        .parse()
        .map_err(|_| AppError::NotFound(format!("no service {code:?} / 类别不存在")))?;
    Ok(Json(json!({
        "service_code": area.code(),
        "attributes": [
            {
                "variable": true,
                "code": "grid",
                "datatype": "string",
                "required": false,
                "datatype_description": "网格编码，如 s01/c01/g01（网格二维码所示）/ the grid's code, as on its QR code",
                "order": 1,
                "description": "网格 Grid (without one the report goes to the city's dispatch queue / 不填则交市级派单)",
            },
            {
                "variable": true,
                "code": "kind",
                "datatype": "singlevaluelist",
                "required": false,
                "datatype_description": "问题或建议 / problem or suggestion",
                "order": 2,
                "description": "类型 Kind",
                "values": [
                    {"key": "problem", "name": "问题 Problem"},
                    {"key": "suggestion", "name": "建议 Suggestion"},
                ],
            },
        ],
    })))
}

/// The fields of a posted report, from a urlencoded or a multipart body.
async fn read_report(state: &AppState, req: Request) -> Result<Report, AppError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut photos = Vec::new();
    if multipart {
        let mut m = Multipart::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(format!("bad multipart body: {e}")))?;
        while let Some(field) = m
            .next_field()
            .await
            .map_err(|e| AppError::BadRequest(format!("bad multipart body: {e}")))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| AppError::BadRequest(format!("bad multipart field {name}: {e}")))?;
            if name == "media" || name == "media[]" {
                if !bytes.is_empty() {
                    photos.push(bytes.to_vec());
                }
            } else {
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| AppError::BadRequest(format!("field {name} is not UTF-8")))?;
                fields.push((name, text));
            }
        }
    } else {
        let body = axum::body::to_bytes(req.into_body(), 256 * 1024)
            .await
            .map_err(|e| AppError::BadRequest(format!("bad form body: {e}")))?;
        fields = serde_urlencoded::from_bytes(&body)
            .map_err(|e| AppError::BadRequest(format!("bad form body: {e}")))?;
    }
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if photos.len() > MAX_REPORT_PHOTOS {
        return Err(AppError::BadRequest(format!(
            "at most {MAX_REPORT_PHOTOS} photos / 最多 {MAX_REPORT_PHOTOS} 张照片"
        )));
    }
    Ok(Report {
        grid: get("attribute[grid]").or_else(|| get("grid")),
        area: get("service_code").unwrap_or_default(),
        kind: get("attribute[kind]").unwrap_or_default(),
        description: get("description").unwrap_or_default(),
        lat: get("lat"),
        lon: get("long"),
        phone: get("phone").unwrap_or_default(),
        photos,
    })
}

/// `POST /open311/v2/requests.json`: a resident's report becomes an issue in its grid (or
/// the city's dispatch queue); the answer is its tracking code.
pub(super) async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    req: Request,
) -> Result<Response, AppError> {
    let report = read_report(&state, req).await?;
    let store = state.store.clone();
    let org = blocking(move || Ok(store.org()?)).await?;
    let checked = resident::check(&report, |g| {
        org.get(g.as_str())
            .is_some_and(|u| u.kind == UnitKind::Grid)
    })
    .map_err(AppError::BadRequest)?;
    let instant = std::time::Instant::now();
    state
        .desk
        .admit(&state.settings, &ip, &checked.grid, instant)
        .map_err(|wait| AppError::TooMany {
            message: "too many reports from this address: please wait / 提交过于频繁，请稍后再试"
                .into(),
            retry_after: wait,
        })?;
    let mut checked = checked;
    let t = now();
    for bytes in &report.photos {
        let hash = photos::store(&state, bytes, resident::RESIDENT, &checked.grid, t).await?;
        checked.detail.photos.push(hash);
    }
    let code = resident::new_code().map_err(|e| AppError::Internal(e.to_string()))?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| AppError::Internal(e.to_string()))?;
    let doc = DocumentId::from_bytes(id);
    let repeat = state.desk.repeat_of(&checked, doc, instant);
    let mut event = IssueEvent::new(
        resident::event_id(t).map_err(|e| AppError::Internal(e.to_string()))?,
        EventKind::Report,
        t,
        resident::RESIDENT.into(),
        None,
    );
    event.level = (checked.level != Level::Grid).then_some(checked.level);
    let draft = IssueDraft {
        grid: checked.grid.clone(),
        source: IssueSource::Qr,
        area: checked.area,
        description: checked.description.clone(),
        household: None,
        location: String::new(),
        detail: checked.detail.clone(),
        report: event,
    };
    write(
        &state,
        doc,
        true,
        Box::new(move |tx| {
            draft.write(tx)?;
            if let Some(first) = repeat {
                automerge::transaction::Transactable::put(
                    tx,
                    automerge::ROOT,
                    "duplicateOf",
                    first.to_string(),
                )?;
            }
            Ok(())
        }),
    )
    .await?;
    let row = ReportRow {
        doc,
        grid: checked.grid.to_string(),
        at: t.0,
    };
    let store = state.store.clone();
    let key = token_key(&code);
    blocking(move || Ok(store.put_reports(&[(key, row)])?)).await?;
    state
        .metrics
        .reports
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!([{
            "service_request_id": code,
            "token": code,
            "service_notice": "已收到，可凭查询码查看办理进度 / Received: follow it with your tracking code",
            "status_url": format!("/report/status/{code}"),
        }])),
    )
        .into_response())
}

/// Makes one server write as the resident and waits until it is durable.
async fn write(
    state: &AppState,
    doc: DocumentId,
    create: bool,
    edit: crate::engine::EditFn,
) -> Result<(), AppError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    state
        .engine
        .send(Cmd::Write {
            user: resident::RESIDENT.into(),
            writes: vec![Write { doc, create, edit }],
            reply: tx,
        })
        .map_err(|_| AppError::Unavailable {
            message: "the server is shutting down / 服务器正在停止".into(),
            retry_after: std::time::Duration::from_secs(5),
        })?;
    let results = rx
        .await
        .map_err(|_| AppError::Internal("the engine stopped".into()))?;
    results
        .into_iter()
        .next()
        .unwrap_or_else(|| Err("no result".into()))
        .map_err(AppError::BadRequest)
}

/// The report a tracking code names, and the issue it became (as stored now).
pub(super) async fn find(
    state: &AppState,
    typed: &str,
) -> Result<(String, ReportRow, Issue), AppError> {
    let unknown = || AppError::NotFound("no report has this code / 查询码无效".into());
    let code = resident::canonical_code(typed).ok_or_else(unknown)?;
    let store = state.store.clone();
    let key = token_key(&code);
    let found = blocking(move || {
        let Some(row) = store.report(&key)? else {
            return Ok(None);
        };
        let Some(bytes) = store.load(&row.doc)? else {
            return Ok(None);
        };
        let doc =
            automerge::Automerge::load(&bytes).map_err(|e| AppError::Internal(e.to_string()))?;
        let issue = Issue::read(&doc).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(Some((row, issue)))
    })
    .await?
    .ok_or_else(unknown)?;
    Ok((code, found.0, found.1))
}

/// `GET /open311/v2/requests/{code}.json`.
pub(super) async fn request(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Json<Value>, AppError> {
    let (code, row, issue) = find(&state, json_file(&file)?).await?;
    let view = resident::status_of(&code, &issue);
    let note = view
        .steps
        .iter()
        .rev()
        .find(|s| !s.note.is_empty())
        .map(|s| s.note.clone())
        .unwrap_or_default();
    let (zh, en) = area_name(issue.area);
    let iso = |ms: i64| {
        let (y, m, d) = shared::trends::civil(ms.div_euclid(86_400_000));
        let s = ms.rem_euclid(86_400_000) / 1000;
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    };
    let updated = issue.events.iter().map(|e| e.at.0).max().unwrap_or(row.at);
    Ok(Json(json!([{
        "service_request_id": code,
        "status": if view.status == "closed" { "closed" } else { "open" },
        "status_notes": note,
        "service_name": format!("{zh} {en}"),
        "service_code": issue.area.code(),
        "description": issue.description,
        "requested_datetime": iso(row.at),
        "updated_datetime": iso(updated),
        "lat": issue.detail.geo.map(|g| g.lat),
        "long": issue.detail.geo.map(|g| g.lon),
        "media_url": issue.detail.photos.first().map(|h| format!("/report/status/{code}/photo/{h}")),
        "gridvisit": view,
    }])))
}

/// The status of a report, as JSON (what the status page shows).
pub(super) async fn status_json(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<StatusView>, AppError> {
    let (code, _, issue) = find(&state, &code).await?;
    Ok(Json(resident::status_of(&code, &issue)))
}

#[derive(serde::Deserialize)]
pub(super) struct RateForm {
    score: u8,
}

/// `POST /report/status/{code}/rate`: the resident's rating of a closed report, once.
pub(super) async fn rate(
    State(state): State<AppState>,
    Path(code): Path<String>,
    form: Result<axum::Form<RateForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, AppError> {
    let axum::Form(form) =
        form.map_err(|e| AppError::BadRequest(format!("expected score=1..5: {e}")))?;
    if !(1..=5).contains(&form.score) {
        return Err(AppError::BadRequest(
            "a rating is 1 to 5 / 评分为1至5".into(),
        ));
    }
    let (code, row, issue) = find(&state, &code).await?;
    if issue.state.status != shared::model::Status::Closed {
        return Err(AppError::BadRequest(
            "it can be rated once it is closed / 办结后才能评价".into(),
        ));
    }
    if issue.state.rating.is_some() {
        return Err(AppError::BadRequest("it is rated already / 已评价".into()));
    }
    let t = now();
    let mut event = IssueEvent::new(
        resident::event_id(t).map_err(|e| AppError::Internal(e.to_string()))?,
        EventKind::Rate,
        t,
        resident::RESIDENT.into(),
        None,
    );
    event.score = Some(form.score);
    write(
        &state,
        row.doc,
        false,
        Box::new(move |tx| append_event(tx, &event)),
    )
    .await?;
    Ok(Redirect::to(&format!("/report/status/{code}")).into_response())
}

/// `GET /report/status/{code}/photo/{hash}`: a photo of the holder's own report.
pub(super) async fn own_photo(
    State(state): State<AppState>,
    Path((code, hash)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (_, _, issue) = find(&state, &code).await?;
    if !issue.detail.photos.contains(&hash) {
        return Err(AppError::NotFound(
            "no such photo on this report / 无此照片".into(),
        ));
    }
    let store = state.store.clone();
    let found = blocking(move || Ok(store.photo(&hash)?)).await?;
    let (bytes, _) = found.ok_or_else(|| AppError::NotFound("photo not stored".into()))?;
    Ok(photos::image_response(bytes))
}
