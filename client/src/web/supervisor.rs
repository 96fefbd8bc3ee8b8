//! The supervisor's screens: the overview of their area with SVG charts and drill-down tables,
//! the issue queue of their level, and every record's history and conflicts.
//!
//! Figures are the shared dashboard fold over the records synced to this browser, so they
//! change the moment a worker's change arrives, and the tables export exactly what they show.

use std::rc::Rc;

use shared::aggregate::Tally;
use shared::ids::DocumentId;
use shared::model::Status;
use yew::prelude::*;

use super::engine::Engine;
use super::ui::{Route, date_time, issue_list, use_ctx};
use crate::export::{self, Table};
use crate::i18n::Lang;
use crate::view;

/// Saves bytes as a file through a temporary link.
fn download(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)
        .map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "not an anchor")?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// CSV and Excel buttons for a table as shown.
fn export_buttons(lang: Lang, table: Rc<Table>, name: &str) -> Html {
    let (t1, n1) = (table.clone(), format!("{name}.csv"));
    let (t2, n2, sheet) = (table, format!("{name}.xlsx"), name.to_owned());
    html! {
        <div class="actions export">
            <button data-testid="export-csv" onclick={move |_| {
                let _ = download(&n1, "text/csv;charset=utf-8", export::csv(&t1).as_bytes());
            }}>{ lang.t("导出 CSV", "Export CSV") }</button>
            <button data-testid="export-xlsx" onclick={move |_| {
                let _ = download(&n2, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &export::xlsx(&t2, &sheet));
            }}>{ lang.t("导出 Excel", "Export Excel") }</button>
        </div>
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A horizontal bar chart: one labelled bar per value, scaled to the largest.
fn bars(title: &str, items: &[(String, f64, String)], class: &'static str) -> Html {
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max).max(1e-9);
    let row = 22.0;
    let height = row * items.len() as f64 + 4.0;
    html! {
        <figure class={classes!("chart", class)}>
            <figcaption>{ title.to_owned() }</figcaption>
            <svg viewBox={format!("0 0 320 {height}")} role="img" aria-label={title.to_owned()}>
                { for items.iter().enumerate().map(|(i, (label, v, shown))| {
                    let y = i as f64 * row + 2.0;
                    let w = (v / max * 170.0).max(if *v > 0.0 { 2.0 } else { 0.0 });
                    html! {
                        <g>
                            <text x="0" y={format!("{}", y + 15.0)} class="label">{ label.clone() }</text>
                            <rect x="96" y={format!("{y}")} width={format!("{w:.1}")} height="16" rx="3" class="bar" />
                            <text x={format!("{:.1}", 100.0 + w)} y={format!("{}", y + 13.0)} class="value">{ shown.clone() }</text>
                        </g>
                    }
                }) }
            </svg>
        </figure>
    }
}

const COLUMNS: usize = 9;

fn header(lang: Lang) -> [&'static str; COLUMNS] {
    [
        lang.t("区域", "Area"),
        lang.t("户数", "Households"),
        lang.t("本周已走访", "Visited this week"),
        lang.t("覆盖率", "Coverage"),
        lang.t("今日走访", "Visits today"),
        lang.t("未结事件", "Open issues"),
        lang.t("超时", "Overdue"),
        lang.t("网格结案占比", "Closed at grid"),
        lang.t("社区内结案占比", "Closed within community"),
    ]
}

fn cells(name: &str, t: &Tally) -> [String; COLUMNS] {
    [
        name.to_owned(),
        t.households.to_string(),
        t.visited_this_week.to_string(),
        pct(t.coverage()),
        t.visits_today.to_string(),
        t.open().to_string(),
        t.overdue.to_string(),
        pct(t.closed_at_grid_share()),
        pct(t.closed_within_community_share()),
    ]
}

fn sort_key(t: &Tally, column: usize) -> f64 {
    match column {
        1 => t.households as f64,
        2 => t.visited_this_week as f64,
        3 => t.coverage(),
        4 => t.visits_today as f64,
        5 => t.open() as f64,
        6 => t.overdue as f64,
        7 => t.closed_at_grid_share(),
        8 => t.closed_within_community_share(),
        _ => 0.0,
    }
}

#[derive(Properties, PartialEq)]
pub(crate) struct AreaProps {
    /// `""` for the whole scope, then `street`, `street/community`, `street/community/grid`.
    pub(crate) path: String,
}

/// The overview of an area: headline figures, charts, and the table of its parts.
#[function_component]
pub(crate) fn Overview(props: &AreaProps) -> Html {
    let ctx = use_ctx();
    let e: &Rc<Engine> = &ctx.engine;
    let lang = e.lang();
    let sort = use_state(|| (0usize, false));
    let figures = e.figures();
    let path = props.path.clone();
    let depth = if path.is_empty() {
        0
    } else {
        path.matches('/').count() + 1
    };
    let (total, parts): (Tally, Vec<(String, Tally)>) = {
        let under = |m: &std::collections::BTreeMap<String, Tally>| -> Vec<(String, Tally)> {
            m.iter()
                .filter(|(k, _)| path.is_empty() || k.starts_with(&format!("{path}/")))
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect()
        };
        match depth {
            0 => (figures.total.clone(), under(&figures.streets)),
            1 => (
                figures.streets.get(&path).cloned().unwrap_or_default(),
                under(&figures.communities),
            ),
            2 => (
                figures.communities.get(&path).cloned().unwrap_or_default(),
                under(&figures.grids),
            ),
            _ => (
                figures.grids.get(&path).cloned().unwrap_or_default(),
                Vec::new(),
            ),
        }
    };
    let mut rows = parts;
    let (column, desc) = *sort;
    rows.sort_by(|a, b| {
        let o = if column == 0 {
            a.0.cmp(&b.0)
        } else {
            sort_key(&a.1, column)
                .partial_cmp(&sort_key(&b.1, column))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.0.cmp(&b.0))
        };
        if desc { o.reverse() } else { o }
    });
    let table = Rc::new(Table {
        headers: header(lang).iter().map(|h| (*h).to_owned()).collect(),
        rows: rows.iter().map(|(k, t)| cells(k, t).to_vec()).collect(),
    });
    let levels = [
        shared::model::Level::Grid,
        shared::model::Level::Community,
        shared::model::Level::Street,
        shared::model::Level::City,
    ];
    let open_chart: Vec<(String, f64, String)> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let n = total.open_by_level[i];
            (lang.level(*l).to_owned(), n as f64, n.to_string())
        })
        .collect();
    let closed_chart: Vec<(String, f64, String)> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let share = if total.closed() == 0 {
                0.0
            } else {
                total.closed_by_level[i] as f64 / total.closed() as f64
            };
            (lang.level(*l).to_owned(), share, pct(share))
        })
        .collect();
    let coverage_chart: Vec<(String, f64, String)> = rows
        .iter()
        .take(15)
        .map(|(k, t)| {
            let short = k.rsplit('/').next().unwrap_or(k).to_owned();
            (short, t.coverage(), pct(t.coverage()))
        })
        .collect();
    let crumbs = {
        let mut acc = String::new();
        let mut items = vec![(String::new(), lang.t("全部", "All").to_owned())];
        for part in path.split('/').filter(|p| !p.is_empty()) {
            acc = if acc.is_empty() {
                part.to_owned()
            } else {
                format!("{acc}/{part}")
            };
            items.push((acc.clone(), part.to_owned()));
        }
        items
    };
    let headline = [
        (
            "coverage",
            lang.t("本周走访覆盖率", "Coverage this week"),
            format!(
                "{} ({}/{})",
                pct(total.coverage()),
                total.visited_this_week,
                total.households
            ),
        ),
        (
            "today",
            lang.t("今日走访", "Visits today"),
            total.visits_today.to_string(),
        ),
        (
            "open",
            lang.t("未结事件", "Open issues"),
            total.open().to_string(),
        ),
        (
            "overdue",
            lang.t("超时事件", "Overdue"),
            total.overdue.to_string(),
        ),
        (
            "closed-grid",
            lang.t("网格结案占比", "Closed at grid"),
            pct(total.closed_at_grid_share()),
        ),
        (
            "closed-community",
            lang.t("社区结案占比", "Closed at community"),
            pct(total.closed_at_community_share()),
        ),
    ];
    let drill = |key: String| {
        let nav = ctx.nav.clone();
        move |_| nav.emit(Route::Area(key.clone()))
    };
    let grid_detail = (depth >= 3).then(|| {
        let summaries = e.summaries();
        let households = view::household_rows(&summaries, Some(&path), e.now(), shared::time::Calendar::CHINA);
        let issues = view::issues_where(&summaries, e.now(), |i| i.grid == path);
        html! {
            <>
                <h3>{ lang.t("住户", "Households") }</h3>
                <ul class="list">
                    { for households.iter().map(|r| {
                        let nav = ctx.nav.clone();
                        let id = r.id;
                        html! {
                            <li data-testid="household-row" data-id={id.to_string()}>
                                <button class="row" onclick={move |_| nav.emit(Route::Household(id))}>
                                    <span class="addr">{ &r.household.label }</span>
                                    <span class="head">{ &r.household.head }</span>
                                </button>
                            </li>
                        }
                    }) }
                </ul>
                <h3>{ lang.t("事件", "Issues") }</h3>
                { issue_list(&ctx, &issues) }
            </>
        }
    });
    html! {
        <section data-testid="overview" data-path={path.clone()} data-open={total.open().to_string()}
            data-today={total.visits_today.to_string()}>
            <nav class="crumbs">
                { for crumbs.into_iter().map(|(key, label)| html! {
                    <button class="link" onclick={drill(key)}>{ label }</button>
                }) }
            </nav>
            <div class="cards">
                { for headline.iter().map(|(id, label, value)| html! {
                    <div class="card-figure" data-testid={format!("fig-{id}")}>
                        <span class="label">{ *label }</span>
                        <b class="value">{ value.clone() }</b>
                    </div>
                }) }
            </div>
            <div class="charts">
                { bars(lang.t("各级未结事件", "Open issues by level"), &open_chart, "open") }
                { bars(lang.t("结案层级占比", "Where issues were closed"), &closed_chart, "closed") }
                if !coverage_chart.is_empty() {
                    { bars(lang.t("本周走访覆盖率", "Coverage this week"), &coverage_chart, "coverage") }
                }
            </div>
            if depth < 3 {
                <div class="table-wrap">
                    <table data-testid="area-table">
                        <thead><tr>
                            { for header(lang).iter().enumerate().map(|(i, h)| {
                                let sort = sort.clone();
                                let mark = if column == i { if desc { " ▼" } else { " ▲" } } else { "" };
                                html! {
                                    <th><button class="link" data-col={i.to_string()} onclick={move |_| {
                                        let (c, d) = *sort;
                                        sort.set((i, if c == i { !d } else { i != 0 }));
                                    }}>{ format!("{h}{mark}") }</button></th>
                                }
                            }) }
                        </tr></thead>
                        <tbody>
                            { for rows.iter().zip(table.rows.iter()).map(|((key, _), shown)| html! {
                                <tr data-key={key.clone()}>
                                    <td><button class="link" onclick={drill(key.clone())}>{ shown[0].clone() }</button></td>
                                    { for shown[1..].iter().map(|c| html! { <td>{ c.clone() }</td> }) }
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
                { export_buttons(lang, table.clone(), &format!("gridvisit-{}", if path.is_empty() { "all".to_owned() } else { path.replace('/', "-") })) }
            }
            { for grid_detail }
        </section>
    }
}

/// Which issues the queue shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    MyLevel,
    Open,
    Overdue,
    Closed,
}

/// The issue queue of the supervisor's level, with the other views one tap away.
#[function_component]
pub(crate) fn Queue() -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let filter = use_state(|| Filter::MyLevel);
    let role = e.session().map(|s| s.role).unwrap_or_default();
    let mine = view::level_of_role(&role);
    let now = e.now();
    let f = *filter;
    let issues = view::issues_where(&e.summaries(), now, |i| {
        let open = i.status != Status::Closed;
        match f {
            Filter::MyLevel => open && Some(i.level) == mine,
            Filter::Open => open,
            Filter::Overdue => open && i.deadline.is_some_and(|d| now > d),
            Filter::Closed => !open,
        }
    });
    let table = Rc::new(Table {
        headers: [
            lang.t("领域", "Area"),
            lang.t("事件", "Issue"),
            lang.t("网格", "Grid"),
            lang.t("层级", "Level"),
            lang.t("状态", "Status"),
            lang.t("处理人", "Assignee"),
            lang.t("期限", "Due"),
        ]
        .iter()
        .map(|h| (*h).to_owned())
        .collect(),
        rows: issues
            .iter()
            .map(|(_, i)| {
                vec![
                    lang.area(i.area).to_owned(),
                    i.title.clone(),
                    i.grid.clone(),
                    lang.level(i.level).to_owned(),
                    lang.status(i.status).to_owned(),
                    i.assignee.clone().unwrap_or_default(),
                    i.deadline.map(date_time).unwrap_or_default(),
                ]
            })
            .collect(),
    });
    let tab = |which: Filter, zh: &'static str, en: &'static str| {
        let filter = filter.clone();
        html! {
            <button class={classes!("chip", (f == which).then_some("on"))} onclick={move |_| filter.set(which)}>
                { lang.t(zh, en) }
            </button>
        }
    };
    html! {
        <section data-testid="queue" data-count={issues.len().to_string()}>
            <h2>{ lang.t("事件办理", "Issue queue") }</h2>
            <div class="chips">
                { tab(Filter::MyLevel, "本级待办", "My level") }
                { tab(Filter::Open, "全部未结", "All open") }
                { tab(Filter::Overdue, "超时督办", "Overdue") }
                { tab(Filter::Closed, "已结案", "Closed") }
            </div>
            { issue_list(&ctx, &issues) }
            { export_buttons(lang, table, "gridvisit-issues") }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub(crate) struct RecordProps {
    pub(crate) id: DocumentId,
}

/// A record's conflicts (each value with who set it, and a button that keeps it) and its
/// history (who changed what, when).
#[function_component]
pub(crate) fn RecordExtras(props: &RecordProps) -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let id = props.id;
    let error = use_state(|| None::<String>);
    let (Some(record), Some((history, users))) = (e.record(&id), e.history(&id)) else {
        return html! {};
    };
    let conflicts = view::conflicts(&record);
    let who = |actor: &str| {
        users
            .get(actor)
            .cloned()
            .unwrap_or_else(|| actor.chars().take(8).collect())
    };
    html! {
        <>
            if !conflicts.is_empty() {
                <div class="conflicts" data-testid="conflicts">
                    <h3>{ lang.t("并发修改冲突", "Conflicting edits") }</h3>
                    { for conflicts.iter().map(|c| {
                        let field = c.field;
                        html! {
                            <div class="conflict-field" data-field={field}>
                                <b>{ field }</b>
                                { for c.candidates.iter().map(|(value, actor)| {
                                    let (engine, error, value) = (ctx.engine.clone(), error.clone(), value.clone());
                                    let shown = value.clone();
                                    html! {
                                        <div class="candidate">
                                            <span class="value">{ shown }</span>
                                            <span class="who">{ format!("{} {}", lang.t("由", "by"), who(actor)) }</span>
                                            <button data-testid="resolve" data-value={value.clone()} onclick={move |_| {
                                                let (engine, error, value) = (engine.clone(), error.clone(), value.clone());
                                                wasm_bindgen_futures::spawn_local(async move {
                                                    let r = engine.edit(id, false, move |tx| view::resolve(tx, field, &value)).await;
                                                    error.set(r.err());
                                                });
                                            }}>{ lang.t("采用此值", "Keep this") }</button>
                                        </div>
                                    }
                                }) }
                            </div>
                        }
                    }) }
                    if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
                </div>
            }
            <h3>{ lang.t("修改历史", "History") }</h3>
            <ol class="timeline history" data-testid="history">
                { for history.iter().rev().map(|h| html! {
                    <li>
                        <span>{ date_time(h.at) }</span>
                        <b>{ &h.user }</b>
                        <span class="what">{ h.what.iter().take(6).cloned().collect::<Vec<_>>().join("；") }
                            if h.what.len() > 6 { { format!(" …(+{})", h.what.len() - 6) } }
                        </span>
                    </li>
                }) }
            </ol>
        </>
    }
}
