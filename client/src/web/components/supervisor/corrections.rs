//! Records whose merged values break a rule and need correcting (a list for supervisors; the
//! record's own screen says what is wrong).

use yew::prelude::*;

use crate::remote::{self, Fetched};
use crate::view::{self, Summary};
use crate::web::hooks::{use_ctx, use_server_records};
use crate::web::state::Route;

#[component]
pub(crate) fn Corrections() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    // A supervisor's area is not on this device: the server lists what needs correcting.
    let queries = if ctx.state.supervisor() {
        vec![remote::query(&[("status", "corrections")])]
    } else {
        Vec::new()
    };
    let moved = ctx
        .state
        .area
        .as_ref()
        .map_or(0, |a| a.figures.total.needs_correction);
    let fetched = use_server_records(queries, moved);
    let source = match (&fetched, ctx.state.supervisor()) {
        (Fetched::Got(m), true) => std::rc::Rc::new(m.clone()),
        (_, true) => std::rc::Rc::default(),
        (_, false) => ctx.state.summaries.clone(),
    };
    let rows = view::needing_correction(&source);
    html! {
        <ul class="list" data-testid="corrections" data-count={rows.len().to_string()}>
            if rows.is_empty() { <li class="empty">{ lang.t("没有待更正的记录", "Nothing needs correcting") }</li> }
            { for rows.iter().map(|(id, s)| {
                let (kind, title, route) = match s {
                    Summary::Household(h) => (lang.t("住户", "Household"), format!("{} {}", h.label, h.head), Route::Household(*id)),
                    Summary::Visit(v) => (lang.t("走访", "Visit"), v.visitors.join("、"), Route::Visit(*id)),
                    Summary::Issue(i) => (lang.t("事件", "Issue"), i.title.clone(), Route::Issue(*id)),
                    Summary::Review(r) => (lang.t("研判", "Review"), r.title.clone(), Route::Review(*id)),
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
