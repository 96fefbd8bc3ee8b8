//! Records whose merged values break a rule and need correcting (a list for supervisors; the
//! record's own screen says what is wrong).

use yew::prelude::*;

use crate::view::{self, Summary};
use crate::web::hooks::use_ctx;
use crate::web::state::Route;

#[component]
pub(crate) fn Corrections() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let rows = view::needing_correction(&ctx.state.summaries);
    html! {
        <ul class="list" data-testid="corrections" data-count={rows.len().to_string()}>
            if rows.is_empty() { <li class="empty">{ lang.t("没有待更正的记录", "Nothing needs correcting") }</li> }
            { for rows.iter().map(|(id, s)| {
                let (kind, title, route) = match s {
                    Summary::Household(h) => (lang.t("住户", "Household"), format!("{} {}", h.label, h.head), Route::Household(*id)),
                    Summary::Visit(v) => (lang.t("走访", "Visit"), v.visitors.join("、"), Route::Visit(*id)),
                    Summary::Issue(i) => (lang.t("事件", "Issue"), i.title.clone(), Route::Issue(*id)),
                };
                html! {
                    <li data-testid="correction-row" data-id={id.to_string()}>
                        <button class="row" onclick={ctx.go(route)}>
                            <span class="badge">{ kind }</span>
                            <span class="title">{ title }</span>
                            <span class="badge overdue">{ format!("{} {}", s.problems(), lang.t("处待更正", "to correct")) }</span>
                            <span class="deadline">{ s.grid() }</span>
                        </button>
                    </li>
                }
            }) }
        </ul>
    }
}
