//! The worker's issues: those they hold or reported, and every open one at grid level.

use yew::prelude::*;

use crate::view;
use crate::web::components::common::issue_list;
use crate::web::hooks::use_ctx;
use crate::web::now;

#[component]
pub(crate) fn MyIssues() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let issues = view::my_issues(&ctx.state.summaries, &ctx.state.user(), now());
    html! {
        <section data-testid="my-issues">
            <h2>{ lang.t("我的事件", "My issues") }</h2>
            <button class="primary" data-testid="new-issue-button" onclick={ctx.go(crate::web::state::Route::NewIssue)}>
                { lang.t("上报事件（巡查发现）", "Report an issue (patrol)") }
            </button>
            { issue_list(&ctx, &issues) }
        </section>
    }
}
