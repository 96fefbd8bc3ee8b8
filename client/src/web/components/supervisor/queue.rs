//! The issue queue of the supervisor's level, with the other views one tap away.

use std::rc::Rc;

use shared::export::Table;
use shared::model::Status;
use yew::prelude::*;

use super::corrections::Corrections;
use super::export_buttons::export_buttons;
use crate::view;
use crate::web::components::common::issue_list;
use crate::web::components::date_time;
use crate::web::hooks::use_ctx;
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
    let issues = view::issues_where(&ctx.state.summaries, now, |i| {
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
                { issue_list(&ctx, &issues) }
                { export_buttons(lang, table, "gridvisit-issues") }
            }
        </section>
    }
}
