//! One household: its details (from its summary until the document is loaded), visits,
//! issues, conflicts and history.

use shared::model::Record;
use yew::prelude::*;

use crate::remote::{self, Fetched};
use crate::view::{self, Summary};
use crate::web::components::common::{IdProps, RecordExtras, issue_list};
use crate::web::components::date_time;
use crate::web::hooks::{use_ctx, use_record, use_server_records};
use crate::web::now;
use crate::web::state::Route;

#[component]
pub(crate) fn HouseholdView(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let id = props.id;
    let opened = use_record(id);
    let summaries = ctx.state.summaries.clone();
    // Visits older than the phone's window are not on it: asked of the server on demand.
    let asked = use_state(|| 0u64);
    let older = *asked > 0;
    let grid = match summaries.get(&id) {
        Some(Summary::Household(h)) => Some(h.grid.clone()),
        _ => None,
    };
    let queries = match (&grid, older) {
        (Some(g), true) => {
            let h = id.to_string();
            vec![remote::query(&[
                ("kind", "visit"),
                ("grid", g),
                ("household", &h),
            ])]
        }
        _ => Vec::new(),
    };
    let fetched = use_server_records(queries, *asked);
    let (visits, older_note) = match (&fetched, older) {
        (Fetched::Got(server), true) => {
            let mut all = (*summaries).clone();
            all.extend(server.iter().map(|(k, v)| (*k, v.clone())));
            (view::visits_of(&all, id), None)
        }
        (Fetched::Offline, true) => (
            view::visits_of(&summaries, id),
            Some(lang.t(
                "离线：更早的走访需联网查看",
                "Offline: older visits need the network",
            )),
        ),
        (Fetched::Failed(_), true) => (
            view::visits_of(&summaries, id),
            Some(lang.t("读取更早的走访失败", "Could not load older visits")),
        ),
        (Fetched::Loading, true) => (
            view::visits_of(&summaries, id),
            Some(lang.t("正在读取更早的走访…", "Loading older visits…")),
        ),
        _ => (view::visits_of(&summaries, id), None),
    };
    let issues = view::issues_where(&summaries, now(), |i| i.household == Some(id));
    let details = match (opened.as_ref().map(|o| &o.record), summaries.get(&id)) {
        (Some(Record::Household(h)), _) => html! {
            <dl class="fields">
                <dt>{ lang.t("地址", "Address") }</dt><dd data-testid="address">{ h.address.label() }</dd>
                <dt>{ lang.t("户主", "Head") }</dt><dd data-testid="head">{ &h.head.value }</dd>
                <dt>{ lang.t("人数", "Members") }</dt>
                <dd data-testid="members">{ h.members.value }
                    if h.members.is_conflicted() {
                        <span class="conflict">{ format!(" ⚠ {} {}", lang.t("并发修改：", "concurrent values:"),
                            h.members.conflicts.iter().map(|c| c.value.to_string()).collect::<Vec<_>>().join(" / ")) }</span>
                    }
                </dd>
                <dt>{ lang.t("电话", "Phone") }</dt><dd data-testid="contact">{ h.masked_contact() }</dd>
                <dt>{ lang.t("标签", "Tags") }</dt>
                <dd data-testid="tags">{ for h.tags.iter().map(|t| html! { <span class="tag">{ lang.tag(t) }</span> }) }</dd>
                <dt>{ lang.t("备注", "Notes") }</dt><dd class="notes" data-testid="notes">{ &h.notes }</dd>
            </dl>
        },
        (_, Some(Summary::Household(h))) => html! {
            <dl class="fields">
                <dt>{ lang.t("地址", "Address") }</dt><dd data-testid="address">{ &h.label }</dd>
                <dt>{ lang.t("户主", "Head") }</dt><dd data-testid="head">{ &h.head }</dd>
                <dt>{ lang.t("人数", "Members") }</dt><dd data-testid="members">{ h.members }</dd>
            </dl>
        },
        _ => html! { <p>{ lang.t("找不到该住户", "Household not found") }</p> },
    };
    html! {
        <section data-testid="household" data-id={id.to_string()}>
            <button class="back" onclick={ctx.go(Route::Households)}>{ lang.t("‹ 返回", "‹ Back") }</button>
            { details }
            <div class="actions">
                <button class="primary" data-testid="record-visit" onclick={ctx.go(Route::RecordVisit(id))}>
                    { lang.t("记录走访", "Record a visit") }
                </button>
                <button data-testid="edit-household" onclick={ctx.go(Route::EditHousehold(id))}>
                    { lang.t("修改住户信息", "Edit household") }
                </button>
            </div>
            <h3>{ lang.t("走访记录", "Visits") }</h3>
            <ul class="list" data-testid="visits">
                if visits.is_empty() { <li class="empty">{ lang.t("暂无走访", "No visits yet") }</li> }
                { for visits.iter().map(|(vid, v)| html! {
                    <li data-testid="visit-row" data-id={vid.to_string()} data-outcome={v.outcome.code()}>
                        <button class="row" onclick={ctx.go(Route::Visit(*vid))}>
                            <span>{ date_time(v.at) }</span>
                            <span class={classes!("badge", v.outcome.code())}>{ lang.outcome(v.outcome) }</span>
                            <span>{ v.visitors.join("、") }</span>
                            if v.items > 0 { <span>{ format!("{} {}", v.items, lang.t("项", "items")) }</span> }
                        </button>
                    </li>
                }) }
            </ul>
            if let Some(n) = older_note { <p class="muted" data-testid="older-note">{ n }</p> }
            if !older || !matches!(fetched, Fetched::Got(_)) {
                <button data-testid="older-visits" onclick={{
                    let asked = asked.clone();
                    move |_| asked.set(*asked + 1)
                }}>
                    { lang.t("查看更早的走访", "Older visits") }
                </button>
            }
            <h3>{ lang.t("事件", "Issues") }</h3>
            { issue_list(&ctx, &issues) }
            <RecordExtras id={id} />
        </section>
    }
}
