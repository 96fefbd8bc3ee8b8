//! A list of issues, overdue ones marked.

use shared::ids::DocumentId;
use shared::model::Status;
use yew::prelude::*;

use crate::view::IssueSummary;
use crate::web::components::date_time;
use crate::web::hooks::Ctx;
use crate::web::now;
use crate::web::state::Route;

pub(crate) fn issue_list(ctx: &Ctx, issues: &[(DocumentId, IssueSummary)]) -> Html {
    let lang = ctx.lang();
    let now = now();
    html! {
        <ul class="list" data-testid="issues">
            if issues.is_empty() { <li class="empty">{ lang.t("暂无事件", "No issues") }</li> }
            { for issues.iter().map(|(id, i)| {
                let overdue = i.status != Status::Closed && i.deadline.is_some_and(|d| now > d);
                html! {
                    <li data-testid="issue-row" data-id={id.to_string()} data-status={i.status.code()}>
                        <button class={classes!("row", overdue.then_some("overdue"))} onclick={ctx.go(Route::Issue(*id))}>
                            if let Some(h) = &i.photo {
                                <img class="thumb small" src={format!("/api/photos/{h}")} loading="lazy" alt="" />
                            }
                            <span class="badge">{ lang.area(i.area) }</span>
                            <span class="title">{ &i.title }</span>
                            <span class="badge status">{ format!("{} · {}", lang.level(i.level), lang.status(i.status)) }</span>
                            if overdue { <span class="badge overdue">{ lang.t("超时", "Overdue") }</span> }
                            if let Some(d) = i.deadline { <span class="deadline">{ format!("{} {}", lang.t("期限", "due"), date_time(d)) }</span> }
                        </button>
                    </li>
                }
            }) }
        </ul>
    }
}
