//! The overview of an area: headline figures, charts, and the table of its parts, drilling
//! down street → community → grid → households. A supervisor's figures are the server's
//! (`shared`'s dashboard fold over every record), pushed for the area on screen as they change
//! and cached for opening offline; a grid's households and issues are the server's paged
//! lists. No browser replicates an area (DESIGN decision 10).

use std::rc::Rc;

use shared::aggregate::{Figures, Tally};
use shared::export::Table;
use yew::prelude::*;

use super::charts::{bars, cells, header, pct, sort_key};
use super::export_buttons::export_buttons;
use crate::remote::{self, Fetched};
use crate::view;
use crate::web::components::common::issue_list;
use crate::web::components::field::household_list;
use crate::web::handle::Cmd;
use crate::web::hooks::use_ctx;
use crate::web::hooks::use_server_records;
use crate::web::now;
use crate::web::state::Route;

#[derive(Properties, PartialEq)]
pub(crate) struct AreaProps {
    /// `""` for the whole scope, then `street`, `street/community`, `street/community/grid`.
    pub(crate) path: String,
}

/// The overview of an area: headline figures, charts, and the table of its parts.
#[component]
pub(crate) fn Overview(props: &AreaProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let sort = use_state(|| (0usize, false));
    let path = props.path.clone();
    let supervisor = ctx.state.supervisor();
    {
        let engine = ctx.engine.clone();
        use_effect_with(path.clone(), move |p| {
            if supervisor {
                engine.send(Cmd::WatchArea(p.clone()));
            }
        });
    }
    let area = ctx.state.area.clone().filter(|a| a.area == path);
    let figures = match (&area, supervisor) {
        (Some(a), true) => Rc::new(a.figures.clone()),
        (None, true) => Rc::new(Figures::default()),
        (_, false) => ctx.state.figures.clone(),
    };
    let as_of = area.as_ref().map(|a| (a.as_of(lang), a.live, a.at.0));
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
        rows: rows
            .iter()
            .map(|(k, t)| {
                let mut row = cells(k, t).to_vec();
                // The unit's name, with its code (the stable identity) after it.
                let name = ctx.state.org.name(k);
                if name != k.as_str() {
                    row[0] = format!("{name} ({k})");
                }
                row
            })
            .collect(),
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
            let short = match ctx.state.org.name(k) {
                n if n == k.as_str() => k.rsplit('/').next().unwrap_or(k).to_owned(),
                n => n.to_owned(),
            };
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
            items.push((acc.clone(), ctx.state.org.name(&acc).to_owned()));
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
        (
            "satisfaction",
            lang.t("回访满意率", "Satisfied on follow-up"),
            format!(
                "{} ({}/{})",
                pct(total.satisfaction()),
                total.satisfied,
                total.followed_up
            ),
        ),
        (
            "rating",
            lang.t("居民评分", "Residents' rating"),
            if total.ratings == 0 {
                "—".to_owned()
            } else {
                format!("{:.1} / 5 ({})", total.mean_rating(), total.ratings)
            },
        ),
        (
            "corrections",
            lang.t("待更正记录", "Need correction"),
            total.needs_correction.to_string(),
        ),
    ];
    let drill = |key: String| ctx.go(Route::Area(key));
    // A grid's records: the server's lists for a supervisor (fetched again when the grid's
    // figures move), this device's own for anyone else.
    let queries = if supervisor && depth >= 3 {
        // The households, this week's visits (who is due) and the open issues: the same
        // work however much history the grid has.
        vec![
            remote::query(&[("kind", "household"), ("grid", &path)]),
            remote::query(&[("kind", "visit"), ("grid", &path), ("status", "this-week")]),
            remote::query(&[("kind", "issue"), ("grid", &path), ("status", "open")]),
        ]
    } else {
        Vec::new()
    };
    let moved = total.visits_today * 1_000_000 + total.open() * 1_000 + total.closed();
    let fetched = use_server_records(queries, moved);
    let grid_detail = (depth >= 3).then(|| {
        let summaries = match (&fetched, supervisor) {
            (Fetched::Got(m), true) => Rc::new(m.clone()),
            (_, true) => Rc::default(),
            (_, false) => ctx.state.summaries.clone(),
        };
        let note = match (&fetched, supervisor) {
            (Fetched::Loading, true) => Some(
                lang.t("正在从服务器读取…", "Loading from the server…")
                    .to_owned(),
            ),
            (Fetched::Offline, true) => Some(
                lang.t(
                    "离线：网格住户需联网查看",
                    "Offline: a grid's households need the network",
                )
                .to_owned(),
            ),
            (Fetched::Failed(e), true) => {
                Some(format!("{} {e}", lang.t("读取失败：", "Could not load:")))
            }
            _ => None,
        };
        let households = view::household_rows(
            &summaries,
            Some(&path),
            now(),
            shared::time::Calendar::CHINA,
        );
        let rows: Vec<&view::HouseholdRow> = households.iter().collect();
        let issues = view::issues_where(&summaries, now(), |i| i.grid == path);
        html! {
            <>
                <h3>{ lang.t("住户", "Households") }</h3>
                if let Some(n) = note { <p class="muted" data-testid="grid-note">{ n }</p> }
                <div data-testid="grid-households" data-count={rows.len().to_string()}>
                    { household_list(&ctx, &rows, false) }
                </div>
                <h3>{ lang.t("事件", "Issues") }</h3>
                { issue_list(&ctx, &issues) }
            </>
        }
    });
    html! {
        <section data-testid="overview" data-path={path.clone()} data-open={total.open().to_string()}
            data-today={total.visits_today.to_string()}>
            if let Some((text, live, at)) = as_of.clone() {
                <p class={if live { "as-of live" } else { "as-of" }} data-testid="figures-as-of"
                    data-live={live.to_string()} data-at={at.to_string()}>{ text }</p>
            } else if supervisor {
                <p class="as-of" data-testid="figures-as-of" data-live="false">
                    { lang.t("正在读取数据…", "Loading figures…") }</p>
            }
            <div class="actions">
                <button data-testid="open-month" onclick={ctx.go(Route::Month(path.clone()))}>
                    { lang.t("本月研判数据", "This month") }</button>
            </div>
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
            <super::PinnedList />
        </section>
    }
}
