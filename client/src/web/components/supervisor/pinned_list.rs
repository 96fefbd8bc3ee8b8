//! The records pinned to this device (DESIGN decision 10), listed on the overview.

use shared::ids::DocumentId;
use shared::summary::Summary;
use yew::prelude::*;

use crate::web::hooks::use_ctx;
use crate::web::state::Route;

fn route_of(id: DocumentId, s: Option<&Summary>) -> Route {
    match s {
        Some(Summary::Household(_)) => Route::Household(id),
        Some(Summary::Visit(_)) => Route::Visit(id),
        Some(Summary::Review(_)) => Route::Review(id),
        Some(Summary::Issue(_)) | None => Route::Issue(id),
    }
}

/// The records pinned to this device, when there are any.
#[component]
pub(crate) fn PinnedList() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    if ctx.state.pinned.is_empty() {
        return html! {};
    }
    html! {
        <>
            <h3>{ lang.t("已固定的记录", "Pinned records") }</h3>
            <ul class="list" data-testid="pinned" data-count={ctx.state.pinned.len().to_string()}>
                { for ctx.state.pinned.iter().map(|id| {
                    let s = ctx.state.summaries.get(id);
                    let (kind, title) = match s {
                        Some(Summary::Household(h)) => (lang.t("住户", "Household"), format!("{} {}", h.label, h.head)),
                        Some(Summary::Visit(v)) => (lang.t("走访", "Visit"), v.visitors.join("、")),
                        Some(Summary::Issue(i)) => (lang.t("事件", "Issue"), i.title.clone()),
                        Some(Summary::Review(r)) => (lang.t("研判", "Review"), r.title.clone()),
                        None => (lang.t("记录", "Record"), lang.t("尚未下载", "Not downloaded yet").to_owned()),
                    };
                    html! {
                        <li data-testid="pinned-row" data-id={id.to_string()}>
                            <button class="row" onclick={ctx.go(route_of(*id, s))}>
                                <span class="badge">{ kind }</span>
                                <span class="title">{ title }</span>
                            </button>
                        </li>
                    }
                }) }
            </ul>
        </>
    }
}
