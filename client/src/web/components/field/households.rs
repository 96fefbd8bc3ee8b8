//! The household list: those due for this week's visit first, searchable.

use shared::time::Calendar;
use yew::prelude::*;

use crate::remote::{self, Fetched};
use crate::view::{self, Due, HouseholdRow};
use crate::web::components::input_value;
use crate::web::hooks::{Ctx, use_ctx, use_server_records};
use crate::web::state::Route;
use crate::web::{mark, now};

#[component]
pub(crate) fn Households() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let query = use_state(String::new);
    // A phone shows a dozen rows: draw 60, and more on request, so the list is up at once.
    let limit = use_state(|| 60usize);
    // A supervisor's area is not on this device: its households are searched on the server.
    let supervisor = ctx.state.supervisor();
    let q = query.trim().to_owned();
    let queries = if supervisor && !q.is_empty() {
        vec![remote::search(&q)]
    } else {
        Vec::new()
    };
    let fetched = use_server_records(queries, 0);
    let (source, note) = match (&fetched, supervisor) {
        (_, false) => (ctx.state.summaries.clone(), None),
        (_, true) if q.is_empty() => (
            std::rc::Rc::default(),
            Some(lang.t(
                "输入地址、户主或电话搜索辖区住户",
                "Type an address, a name or a phone number to search the area's households",
            )),
        ),
        (Fetched::Got(m), true) => (std::rc::Rc::new(m.clone()), None),
        (Fetched::Loading, true) => (
            std::rc::Rc::default(),
            Some(lang.t("正在搜索…", "Searching…")),
        ),
        (Fetched::Offline, true) => (
            std::rc::Rc::default(),
            Some(lang.t(
                "离线：搜索住户需联网",
                "Offline: searching households needs the network",
            )),
        ),
        (Fetched::Failed(_), true) => (
            std::rc::Rc::default(),
            Some(lang.t("搜索失败", "The search failed")),
        ),
    };
    let rows = view::household_rows(&source, None, now(), Calendar::CHINA);
    // When the list is first in the page (the cold-start benchmark reads this mark).
    use_effect_with(rows.is_empty(), |empty| {
        if !*empty {
            mark("gv-list");
        }
    });
    let due = rows.iter().filter(|r| r.due != Due::Visited).count();
    let shown: Vec<&HouseholdRow> = rows
        .iter()
        .filter(|r| {
            supervisor
                || q.is_empty()
                || r.household.label.contains(&q)
                || r.household.head.contains(&q)
        })
        .collect();
    let more = shown.len().saturating_sub(*limit);
    let shown: Vec<&HouseholdRow> = shown.into_iter().take(*limit).collect();
    let grid = ctx
        .state
        .session
        .as_ref()
        .map(|s| crate::view::scope_label(&ctx.state.org, lang, &s.scope))
        .unwrap_or_default();
    html! {
        <section data-testid="households" data-ready={ctx.state.ready.to_string()} data-count={rows.len().to_string()}>
            <p class="grid-name">{ grid }</p>
            <p class="summary">
                { format!("{} {due} {} · {} {}", lang.t("本周待走访", "Due this week:"), lang.t("户", ""), lang.t("共", "total"), rows.len()) }
            </p>
            <input class="search" type="search" placeholder={lang.t("搜索地址或户主", "Search address or name")}
                value={(*query).clone()}
                oninput={let s = query.clone(); move |e: InputEvent| s.set(input_value(&e))} />
            if let Some(n) = note { <p class="muted" data-testid="search-note">{ n }</p> }
            { household_list(&ctx, &shown, true) }
            if more > 0 {
                <button class="more" data-testid="more" onclick={let l = limit.clone(); move |_| l.set(*l + 200)}>
                    { format!("{} ({more})", lang.t("显示更多", "Show more")) }
                </button>
            }
        </section>
    }
}

/// Household rows; with `badges`, this week's visit status, open issues and tags.
pub(crate) fn household_list(ctx: &Ctx, rows: &[&HouseholdRow], badges: bool) -> Html {
    let lang = ctx.lang();
    html! {
        <ul class="list">
            { for rows.iter().map(|r| {
                let (class, badge) = match r.due {
                    Due::Due => ("due", lang.t("本周待走访", "Due")),
                    Due::NotHome => ("not-home", lang.t("未遇，需再访", "Not home")),
                    Due::Visited => ("visited", lang.t("本周已走访", "Visited")),
                };
                html! {
                    <li data-testid="household-row" data-id={r.id.to_string()} data-due={badges.then_some(class)}>
                        <button class="row" onclick={ctx.go(Route::Household(r.id))}>
                            <span class="addr">{ &r.household.label }</span>
                            <span class="head">{ &r.household.head }</span>
                            if badges {
                                <span class={classes!("badge", class)}>{ badge }</span>
                                if r.open_issues > 0 {
                                    <span class="badge issue">{ format!("{} {}", r.open_issues, lang.t("件事件", "issues")) }</span>
                                }
                                { for r.household.tags.iter().map(|t| html! { <span class="tag">{ lang.tag(t) }</span> }) }
                            }
                        </button>
                    </li>
                }
            }) }
        </ul>
    }
}
