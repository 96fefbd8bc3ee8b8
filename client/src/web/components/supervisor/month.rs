//! The month view of an area (每月一次民情研判): the month's headline figures, week-by-week
//! charts, and the tables per part and per worker, each exportable as CSV and Excel; the
//! month's reviews (民情研判) and, for a community or a grid, the form that records one. The
//! figures are the server's stored ones (`GET /api/month`), so no browser holds the records.

use std::rc::Rc;

use serde::Deserialize;
use shared::export::Table;
use shared::ids::DocumentId;
use shared::month::{MonthView, WorkerRow};
use shared::summary::Summary;
use shared::trends::{Month, civil};
use yew::prelude::*;

use super::charts::{bars, pct};
use super::export_buttons::export_buttons;
use super::review::ReviewForm;
use crate::month_tables::{self, md};
use crate::web::components::date_time;
use crate::web::hooks::use_ctx;
use crate::web::http;
use crate::web::now;
use crate::web::state::Route;

#[derive(Clone, PartialEq, Deserialize)]
struct Reply {
    view: MonthView,
    workers: Vec<WorkerRow>,
    #[serde(default)]
    reviews: Vec<Listed>,
}

#[derive(Clone, PartialEq, Deserialize)]
struct Listed {
    id: DocumentId,
    summary: Summary,
}

#[derive(Clone, PartialEq)]
enum Loaded {
    Loading,
    Offline,
    Failed(String),
    Got(Rc<Reply>),
}

#[derive(Properties, PartialEq)]
pub(crate) struct MonthProps {
    /// The area (`""`: the whole scope).
    pub(crate) path: String,
}

fn table_html(t: &Table, testid: &'static str) -> Html {
    html! {
        <div class="table-wrap">
            <table data-testid={testid}>
                <thead><tr>{ for t.headers.iter().map(|h| html! { <th>{ h.clone() }</th> }) }</tr></thead>
                <tbody>{ for t.rows.iter().map(|r| html! {
                    <tr>{ for r.iter().map(|c| html! { <td>{ c.clone() }</td> }) }</tr>
                }) }</tbody>
            </table>
        </div>
    }
}

/// The grids a review recorded from this view may cover: those of its one community (none
/// for a street or the city, whose reviews are each community's).
fn review_grids(v: &MonthView) -> Option<Vec<String>> {
    let mut communities = v
        .grids
        .keys()
        .filter_map(|g| g.parse::<shared::ids::GridId>().ok())
        .map(|g| g.community().to_owned());
    let first = communities.next()?;
    communities
        .all(|c| c == first)
        .then(|| v.grids.keys().cloned().collect())
}

fn reviews_list(ctx: &crate::web::hooks::Ctx, reviews: &[Listed]) -> Html {
    let lang = ctx.lang();
    html! {
        <ul class="list" data-testid="month-reviews" data-count={reviews.len().to_string()}>
            if reviews.is_empty() { <li class="empty">{ lang.t("本月尚无研判记录", "No review this month yet") }</li> }
            { for reviews.iter().filter_map(|l| match &l.summary {
                Summary::Review(r) => Some(html! {
                    <li data-testid="review-row" data-id={l.id.to_string()}>
                        <button class="row" onclick={ctx.go(Route::Review(l.id))}>
                            <span class="badge">{ date_time(r.held_at) }</span>
                            <span class="title">{ r.title.clone() }</span>
                            <span class="deadline">{ format!("{} {}", r.grids.len(), lang.t("个网格", "grids")) }</span>
                        </button>
                    </li>
                }),
                _ => None,
            }) }
        </ul>
    }
}

/// The month view of an area.
#[component]
pub(crate) fn MonthScreen(props: &MonthProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let path = props.path.clone();
    let today = shared::time::Calendar::CHINA.day(now());
    let month = use_state(|| Month::of_day(today));
    let loaded = use_state(|| Loaded::Loading);
    // Bumped to ask again: once a review saved here has reached the server.
    let reload = use_state(|| 0u32);
    let saved = use_state(|| None::<DocumentId>);
    let writing = use_state(|| false);
    {
        let loaded = loaded.clone();
        let token = ctx.state.session.as_ref().map(|s| s.token.clone());
        use_effect_with((path.clone(), *month, *reload), move |(path, month, _)| {
            loaded.set(Loaded::Loading);
            let q = format!("/api/month?area={}&month={month}", path.replace('/', "%2F"));
            wasm_bindgen_futures::spawn_local(async move {
                let r = match http::request("GET", &q, token.as_deref(), None).await {
                    Err(_) => Loaded::Offline,
                    Ok((200, body)) => match serde_json::from_str::<Reply>(&body) {
                        Ok(r) => Loaded::Got(Rc::new(r)),
                        Err(e) => Loaded::Failed(e.to_string()),
                    },
                    Ok((status, body)) => Loaded::Failed(format!("{status}: {body}")),
                };
                loaded.set(r);
            });
        });
    }
    {
        // A review saved here: once nothing waits to be sent, ask until the server lists it.
        let got = match &*loaded {
            Loaded::Got(r) => Some(saved.is_some_and(|id| r.reviews.iter().any(|l| l.id == id))),
            _ => None,
        };
        let online = ctx.state.pending == 0 && ctx.state.link == crate::link::Link::Online;
        let (saved, reload) = (saved.clone(), reload.clone());
        use_effect_with((*saved, got, online), move |(id, got, online)| {
            match (id, got) {
                (Some(_), Some(true)) => saved.set(None),
                (Some(_), Some(false)) if *online => {
                    let n = *reload;
                    wasm_bindgen_futures::spawn_local(async move {
                        crate::web::sleep(300).await;
                        reload.set(n + 1);
                    });
                }
                _ => {}
            }
        });
    }
    let step = |by: i64| {
        let month = month.clone();
        move |_| {
            let (first, last) = month.days();
            let day = if by < 0 { first - 1 } else { last + 1 };
            month.set(Month::of_day(day));
        }
    };
    let nav = html! {
        <div class="actions month-nav">
            <button data-testid="month-prev" onclick={step(-1)}>{ lang.t("‹ 上月", "‹ Previous") }</button>
            <b data-testid="month-name">{ month.to_string() }</b>
            <button data-testid="month-next" disabled={*month >= Month::of_day(today)} onclick={step(1)}>
                { lang.t("下月 ›", "Next ›") }</button>
            <button class="link" onclick={ctx.go(Route::Area(path.clone()))}>{ lang.t("返回总览", "Overview") }</button>
        </div>
    };
    let body = match &*loaded {
        Loaded::Loading => html! { <p class="muted">{ lang.t("正在读取…", "Loading…") }</p> },
        Loaded::Offline => {
            html! { <p class="muted" data-testid="month-note">{ lang.t("离线：月度数据需联网查看", "Offline: the month view needs the network") }</p> }
        }
        Loaded::Failed(e) => {
            html! { <p class="error">{ format!("{} {e}", lang.t("读取失败：", "Could not load:")) }</p> }
        }
        Loaded::Got(r) => {
            let v = &r.view;
            let t = &v.total;
            let closed: i64 = t.counts.closed.iter().sum();
            let headline = [
                (
                    "visits",
                    lang.t("走访次数", "Visits"),
                    t.counts.visits.to_string(),
                ),
                (
                    "met",
                    lang.t("见面次数", "Met in person"),
                    t.counts.met.to_string(),
                ),
                (
                    "visited",
                    lang.t("走访户数", "Households visited"),
                    format!("{} / {} ({})", t.visited, t.households, pct(t.coverage())),
                ),
                (
                    "opened",
                    lang.t("新增事件", "Issues reported"),
                    t.counts.opened.to_string(),
                ),
                ("closed", lang.t("结案", "Closed"), closed.to_string()),
                (
                    "on-time",
                    lang.t("按时结案率", "Closed on time"),
                    pct(t.on_time()),
                ),
                (
                    "on-the-spot",
                    lang.t("当场解决率", "Solved on the spot"),
                    pct(t.on_the_spot()),
                ),
                (
                    "overdue",
                    lang.t("期末超时事件", "Overdue at the end"),
                    t.overdue.to_string(),
                ),
                (
                    "reviewed",
                    lang.t("开展民情研判的网格", "Grids that held a review"),
                    format!("{} / {} ({})", t.reviewed, t.grids, pct(t.review_share())),
                ),
            ];
            let week_label = |first: i64| md(first);
            let visits_chart: Vec<(String, f64, String)> = v
                .weeks
                .iter()
                .map(|w| {
                    (
                        week_label(w.first_day),
                        w.figures.counts.visits as f64,
                        w.figures.counts.visits.to_string(),
                    )
                })
                .collect();
            let coverage_chart: Vec<(String, f64, String)> = v
                .weeks
                .iter()
                .map(|w| {
                    (
                        week_label(w.first_day),
                        w.figures.coverage(),
                        pct(w.figures.coverage()),
                    )
                })
                .collect();
            let issues_chart: Vec<(String, f64, String)> = v
                .weeks
                .iter()
                .map(|w| {
                    let c: i64 = w.figures.counts.closed.iter().sum();
                    (
                        week_label(w.first_day),
                        c as f64,
                        format!("{} / {}", w.figures.counts.opened, c),
                    )
                })
                .collect();
            let weeks = Rc::new(month_tables::weeks(lang, v));
            let parts = Rc::new(month_tables::parts(lang, v, &ctx.state.org));
            let workers = Rc::new(month_tables::workers(lang, &r.workers));
            let tags = Rc::new(month_tables::tags(lang, v));
            let (y, m, _) = civil(v.first_day);
            let name = format!(
                "gridvisit-{}-{y}{m:02}",
                if path.is_empty() {
                    "all".to_owned()
                } else {
                    path.replace('/', "-")
                }
            );
            html! {
                <>
                    <div class="cards">
                        { for headline.iter().map(|(id, label, value)| html! {
                            <div class="card-figure" data-testid={format!("month-{id}")}>
                                <span class="label">{ *label }</span>
                                <b class="value">{ value.clone() }</b>
                            </div>
                        }) }
                    </div>
                    <div class="charts">
                        { bars(lang.t("每周走访次数", "Visits per week"), &visits_chart, "visits") }
                        { bars(lang.t("每周走访覆盖率", "Coverage per week"), &coverage_chart, "coverage") }
                        { bars(lang.t("每周新增 / 结案", "Reported / closed per week"), &issues_chart, "closed") }
                    </div>
                    <h3>{ lang.t("逐周", "Week by week") }</h3>
                    { table_html(&weeks, "month-weeks") }
                    { export_buttons(lang, weeks.clone(), &format!("{name}-weeks")) }
                    <h3>{ lang.t("分区域", "By area") }</h3>
                    { table_html(&parts, "month-parts") }
                    { export_buttons(lang, parts.clone(), &format!("{name}-areas")) }
                    <h3>{ lang.t("重点人群走访", "Visits to special households") }</h3>
                    { table_html(&tags, "month-tags") }
                    { export_buttons(lang, tags.clone(), &format!("{name}-special")) }
                    <h3>{ lang.t("网格员", "Workers") }</h3>
                    { table_html(&workers, "month-workers") }
                    { export_buttons(lang, workers.clone(), &format!("{name}-workers")) }
                    <h3>{ lang.t("民情研判", "Monthly reviews") }</h3>
                    { reviews_list(&ctx, &r.reviews) }
                    if let Some(grids) = review_grids(v) {
                        if *writing {
                            <ReviewForm area={path.clone()} {grids} on_saved={
                                let (saved, writing) = (saved.clone(), writing.clone());
                                Callback::from(move |id| { saved.set(Some(id)); writing.set(false); })
                            } />
                        } else {
                            <button data-testid="new-review" onclick={
                                let writing = writing.clone();
                                move |_| writing.set(true)
                            }>{ lang.t("记录民情研判", "Record a review") }</button>
                        }
                    }
                    if saved.is_some() {
                        <p class="muted" data-testid="review-pending">{ lang.t("研判已保存，联网后计入", "Review saved; counted once it reaches the server") }</p>
                    }
                </>
            }
        }
    };
    let state = match &*loaded {
        Loaded::Got(_) => "ready",
        Loaded::Loading => "loading",
        _ => "failed",
    };
    html! {
        <section data-testid="month" data-path={path.clone()} data-month={month.to_string()} data-state={state}>
            <h2>{ format!("{} {}", lang.t("月度研判", "Month view"), if path.is_empty() { lang.t("全部", "All").to_owned() } else { path.clone() }) }</h2>
            { nav }
            { body }
        </section>
    }
}
