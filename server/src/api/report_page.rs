//! The pages residents see (served by the server, no wasm, a few KB): the report form of a
//! grid (what its QR code opens), the status of a report by its tracking code, and the
//! printable sheet of a community's grid QR codes for supervisors and admins. Every text a
//! resident wrote is escaped here and set with `textContent` in the page's script: it stays
//! text.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use shared::ids::{GridId, Scope};
use shared::model::Area;
use shared::org::{Org, UnitKind};

use super::provision::{public_base, qr_svg};
use super::records::blocking;
use super::report::{area_name, find};
use super::{AppError, User};
use crate::AppState;
use crate::resident::{self, StatusView};

const SCRIPT: &str = include_str!("../../assets/report/report.js");
const STYLE: &str = include_str!("../../assets/report/report.css");
const WORKER: &str = include_str!("../../assets/report/sw.js");

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/report/", get(form_city))
        .route("/report/{street}/{community}/{grid}", get(form))
        .route("/report/assets/report.js", get(script))
        .route("/report/assets/report.css", get(style))
        .route("/report/sw.js", get(worker))
        .route("/report/lookup", get(lookup))
        .route("/report/status/{code}", get(status))
        .route("/qr-sheet/{street}/{community}", get(sheet))
}

/// `text` with `& < > " '` escaped, for HTML text and attribute values.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn worker() -> Response {
    asset("text/javascript; charset=utf-8", WORKER)
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/report/assets/report.css">
</head><body>{body}</body></html>"#,
        title = esc(title)
    ))
}

async fn org_of(state: &AppState) -> Result<Org, AppError> {
    let store = state.store.clone();
    blocking(move || Ok(store.org()?)).await
}

async fn form_city() -> Html<String> {
    form_page(None, "市级受理 City dispatch")
}

async fn form(
    State(state): State<AppState>,
    Path((street, community, grid)): Path<(String, String, String)>,
) -> Result<Html<String>, AppError> {
    let code = format!("{street}/{community}/{grid}");
    let grid: GridId = code
        .parse()
        .map_err(|_| AppError::NotFound(format!("no grid {code} / 网格不存在")))?;
    let org = org_of(&state).await?;
    if org
        .get(grid.as_str())
        .is_none_or(|u| u.kind != UnitKind::Grid)
    {
        return Err(AppError::NotFound(format!("no grid {code} / 网格不存在")));
    }
    Ok(form_page(Some(&grid), &org.grid_label(&grid)))
}

fn form_page(grid: Option<&GridId>, label: &str) -> Html<String> {
    let mut areas = String::new();
    for a in Area::ALL {
        let (zh, en) = area_name(a);
        let _ = write!(areas, r#"<option value="{}">{zh} {en}</option>"#, a.code());
    }
    let body = format!(
        r#"<main data-testid="report-page">
<h1>大家管 · 码上办 <span class="en">Report to your grid</span></h1>
<p class="grid-name" data-testid="grid-name">{label}</p>
<form id="report" data-grid="{grid}">
<label>类型 <span class="en">Kind</span></label>
<div class="choice"><label><input type="radio" name="kind" value="problem" checked>问题 <span class="en">Problem</span></label>
<label><input type="radio" name="kind" value="suggestion">建议 <span class="en">Suggestion</span></label></div>
<label for="area">类别 <span class="en">Area</span></label>
<select id="area" name="area">{areas}</select>
<label for="description">描述 <span class="en">What is it?</span></label>
<textarea id="description" name="description" maxlength="{max}" required placeholder="请写明地点和情况 / Where and what"></textarea>
<label for="photos">照片（最多3张） <span class="en">Photos (up to 3)</span></label>
<input id="photos" type="file" accept="image/*" multiple>
<div id="thumbs" class="thumbs"></div>
<label><input id="locate" type="checkbox"> 附上我的位置 <span class="en">Add my location</span> <span id="where" class="en"></span></label>
<label for="phone">联系电话（选填） <span class="en">Phone (optional)</span></label>
<input id="phone" name="phone" type="tel" inputmode="tel" maxlength="20" autocomplete="tel">
<button type="submit">提交 <span class="en">Send</span></button>
</form>
<div id="notice" class="notice" hidden role="status" aria-live="polite"></div>
<div id="sent-box" hidden><h2>我的反映 <span class="en">My reports</span></h2><ul id="sent" class="sent"></ul></div>
<form action="/report/lookup" method="get"><label for="code">查询进度 <span class="en">Follow a report</span></label>
<input id="code" name="code" type="text" placeholder="XXXX-XXXX-XXXXX" autocomplete="off"><button class="secondary" type="submit">查询 <span class="en">Look up</span></button></form>
</main><script src="/report/assets/report.js"></script>"#,
        label = esc(label),
        grid = esc(grid.map_or("", GridId::as_str)),
        max = resident::MAX_TEXT,
    );
    page("网格反映 Report", &body)
}

#[derive(serde::Deserialize)]
struct Lookup {
    code: String,
}

async fn lookup(Query(q): Query<Lookup>) -> Result<Redirect, AppError> {
    let code = resident::canonical_code(&q.code)
        .ok_or_else(|| AppError::NotFound("this is not a tracking code / 查询码格式不对".into()))?;
    Ok(Redirect::to(&format!("/report/status/{code}")))
}

fn china_time(ms: i64) -> String {
    let cal = shared::time::Calendar::CHINA;
    let day = cal.day(shared::time::Millis(ms));
    let (y, m, d) = shared::trends::civil(day);
    let minutes = (ms + 8 * 3_600_000).rem_euclid(86_400_000) / 60_000;
    format!("{y}-{m:02}-{d:02} {:02}:{:02}", minutes / 60, minutes % 60)
}

fn step_name(step: &str) -> (&'static str, &'static str) {
    match step {
        "received" => ("已受理登记", "Received"),
        "accepted" => ("已受理", "Accepted"),
        "dispatched" => ("已派遣", "Dispatched"),
        "handled" => ("已处置", "Handled"),
        "verified" => ("已核查", "Verified"),
        "followup" => ("已回访", "Followed up"),
        "closed" => ("已办结", "Closed"),
        "reopened" => ("重新办理", "Reopened"),
        _ => ("", ""),
    }
}

async fn status(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Html<String>, AppError> {
    let (code, _, issue) = find(&state, &code).await?;
    Ok(status_page(&resident::status_of(&code, &issue)))
}

fn status_page(v: &StatusView) -> Html<String> {
    let (now_zh, now_en) = step_name(v.status);
    let (area_zh, area_en) = area_name(v.area);
    let mut steps = String::new();
    for s in &v.steps {
        let (zh, en) = step_name(s.step);
        let _ = write!(
            steps,
            r#"<li class="done" data-step="{step}"><strong>{zh}</strong> <span class="en">{en}</span><time>{at}</time>{note}</li>"#,
            step = s.step,
            at = china_time(s.at),
            note = if s.note.is_empty() {
                String::new()
            } else {
                format!(r#"<div class="note">{}</div>"#, esc(&s.note))
            },
        );
    }
    let mut photos = String::new();
    for h in &v.photos {
        let _ = write!(
            photos,
            r#"<img src="/report/status/{code}/photo/{h}" alt="照片 photo">"#,
            code = esc(&v.code),
            h = esc(h)
        );
    }
    let follow = match v.satisfied {
        Some(true) => {
            r#"<p data-testid="satisfied">回访：满意 <span class="en">Follow-up: satisfied</span></p>"#
        }
        Some(false) => {
            r#"<p data-testid="satisfied">回访：不满意，重新办理 <span class="en">Follow-up: not satisfied, handled again</span></p>"#
        }
        None => "",
    };
    let rating = match (v.rating, v.can_rate) {
        (Some(n), _) => format!(
            r#"<p data-testid="rating">您的评价：{n} / 5 <span class="en">Your rating</span></p>"#
        ),
        (None, true) => {
            let mut stars = String::new();
            for n in 1..=5 {
                let _ = write!(
                    stars,
                    r#"<button type="submit" name="score" value="{n}" data-score="{n}">{n}★</button>"#
                );
            }
            format!(
                r#"<form method="post" action="/report/status/{code}/rate" data-testid="rate"><label>请为办理结果评分 <span class="en">Rate the result</span></label><div class="stars">{stars}</div></form>"#,
                code = esc(&v.code)
            )
        }
        (None, false) => String::new(),
    };
    let body = format!(
        r#"<main data-testid="status-page" data-status="{status}">
<h1>办理进度 <span class="en">Progress</span></h1>
<p>查询码 <span class="en">Tracking code</span></p><p class="code">{code}</p>
<p><strong>{now_zh}</strong> <span class="en">{now_en}</span> · {area_zh} <span class="en">{area_en}</span></p>
<ol class="steps">{steps}</ol>{follow}{rating}
<h2>您的反映 <span class="en">Your report</span></h2>
<div class="mine" data-testid="description">{description}</div>
<div class="thumbs">{photos}</div>
{phone}
<p><a href="/report/">再反映一件 / Report something else</a></p>
</main>"#,
        status = v.status,
        code = esc(&v.code),
        description = esc(&v.description),
        phone = if v.phone.is_empty() {
            String::new()
        } else {
            format!(
                r#"<p>联系电话 <span class="en">Phone</span>: {}</p>"#,
                esc(&v.phone)
            )
        },
    );
    page("办理进度 Progress", &body)
}

/// A printable sheet of a community's grid QR codes, each with its name and code under it.
async fn sheet(
    State(state): State<AppState>,
    user: User,
    headers: axum::http::HeaderMap,
    Path((street, community)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let me = &user.0.principal;
    let code = format!("{street}/{community}");
    if !me.role.is_supervisor() {
        return Err(AppError::Forbidden(
            "only supervisors and admins print QR codes / 仅管理人员可打印二维码".into(),
        ));
    }
    if !me.scope.covers(&Scope::Community(code.clone())) {
        return Err(AppError::Forbidden(format!(
            "{code} is outside your scope / 不在您的管辖范围"
        )));
    }
    let org = org_of(&state).await?;
    let base = public_base(&state, &headers);
    let mut cards = String::new();
    let prefix = format!("{code}/");
    for g in org
        .of_kind(UnitKind::Grid)
        .filter(|u| u.code.starts_with(&prefix))
    {
        let url = format!("{}/report/{}", base.trim_end_matches('/'), g.code);
        let _ = write!(
            cards,
            r#"<div class="card" data-grid="{grid}">{svg}<div class="name">{name}</div><div class="code">{grid}</div><div class="en">扫码反映问题 · Scan to report</div></div>"#,
            svg = qr_svg(&url)?,
            name = esc(&g.name),
            grid = esc(&g.code),
        );
    }
    if cards.is_empty() {
        return Err(AppError::NotFound(format!(
            "{code} has no grids / 该社区没有网格"
        )));
    }
    let body = format!(
        r#"<div class="noprint"><main><h1>{name} · 网格二维码 <span class="en">Grid QR codes</span></h1><p>用浏览器打印本页 / Print this page from the browser.</p></main></div><div class="sheet" data-testid="qr-sheet">{cards}</div>"#,
        name = esc(org.name(&code)),
    );
    Ok(page("网格二维码 QR codes", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
