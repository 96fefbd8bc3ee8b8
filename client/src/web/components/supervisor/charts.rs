//! The overview's charts and its table's columns: SVG bars drawn by the app, and one table
//! layout for every level of the drill-down.

use shared::aggregate::Tally;
use yew::prelude::*;

use crate::i18n::Lang;

pub(super) fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A horizontal bar chart: one labelled bar per value, scaled to the largest.
pub(super) fn bars(title: &str, items: &[(String, f64, String)], class: &'static str) -> Html {
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

pub(super) const COLUMNS: usize = 9;

pub(super) fn header(lang: Lang) -> [&'static str; COLUMNS] {
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

pub(super) fn cells(name: &str, t: &Tally) -> [String; COLUMNS] {
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

pub(super) fn sort_key(t: &Tally, column: usize) -> f64 {
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
