//! The issue queue of the supervisor's level, with the other views one tap away.

use std::rc::Rc;

use shared::export::Table;
use shared::model::Status;
use yew::prelude::*;

use super::corrections::Corrections;
use super::export_buttons::export_buttons;
use crate::remote::{self, Fetched};
use crate::view;
use crate::web::components::common::issue_list;
use crate::web::components::date_time;
use crate::web::hooks::{use_ctx, use_server_records};
use crate::web::now;

/// Which issues the queue shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    MyLevel,
    Open,
    Overdue,
    Closed,
    Corrections,
}

/// The issue queue of the supervisor's level, with the other views one tap away.
#[component]
pub(crate) fn Queue() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let filter = use_state(|| Filter::MyLevel);
    let mine = ctx
        .state
        .session
        .as_ref()
        .and_then(|s| s.role())
        .and_then(|r| r.level());
    let now = now();
    let f = *filter;
    // The queue of my level is replicated here; the other views are the server's lists of
    // the whole area (DESIGN decision 10), fetched again as the area's figures move.
    let status = match f {
        Filter::MyLevel | Filter::Corrections => None,
        Filter::Open => Some("open"),
        Filter::Overdue => Some("overdue"),
        Filter::Closed => Some("closed"),
    };
    let queries = status
        .map(|s| vec![remote::query(&[("kind", "issue"), ("status", s)])])
        .unwrap_or_default();
    let moved = ctx.state.area.as_ref().map_or(0, |a| {
        let t = &a.figures.total;
        t.open() * 1_000_000 + t.closed() * 1_000 + t.overdue
    });
    let fetched = use_server_records(queries, moved);
    let (source, note) = match (&fetched, status) {
        (_, None) => (ctx.state.summaries.clone(), None),
        (Fetched::Got(m), Some(_)) => (Rc::new(m.clone()), None),
        (Fetched::Loading, Some(_)) => (
            Rc::default(),
            Some(
                lang.t("正在从服务器读取…", "Loading from the server…")
                    .to_owned(),
            ),
        ),
        (Fetched::Offline, Some(_)) => (
            Rc::default(),
            Some(
                lang.t(
                    "离线：本级待办之外的事件需联网查看",
                    "Offline: issues beyond my level need the network",
                )
                .to_owned(),
            ),
        ),
        (Fetched::Failed(e), Some(_)) => (
            Rc::default(),
            Some(format!("{} {e}", lang.t("读取失败：", "Could not load:"))),
        ),
    };
    let issues = view::issues_where(&source, now, |i| {
        let open = i.status != Status::Closed;
        match f {
            Filter::MyLevel => open && Some(i.level) == mine,
            Filter::Open => open,
            Filter::Overdue => open && i.deadline.is_some_and(|d| now > d),
            Filter::Closed | Filter::Corrections => !open,
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
            <button class="primary" data-testid="new-issue-button" onclick={ctx.go(crate::web::state::Route::NewIssue)}>
                { lang.t("登记来电或巡查事件", "Enter a phone complaint or a patrol issue") }
            </button>
            <div class="chips">
                { tab(Filter::MyLevel, "本级待办", "My level") }
                { tab(Filter::Open, "全部未结", "All open") }
                { tab(Filter::Overdue, "超时督办", "Overdue") }
                { tab(Filter::Closed, "已结案", "Closed") }
                { tab(Filter::Corrections, "待更正", "Needs correction") }
            </div>
            if f == Filter::Corrections {
                <Corrections />
            } else {
                if let Some(n) = note { <p class="muted" data-testid="queue-note">{ n }</p> }
                { issue_list(&ctx, &issues) }
                { export_buttons(lang, table, "gridvisit-issues") }
            }
        </section>
    }
}
