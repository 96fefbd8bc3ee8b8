//! One visit: outcome, visitors, location, notes and items.

use shared::model::Record;
use yew::prelude::*;

use crate::web::components::common::{IdProps, Photos, RecordExtras};
use crate::web::components::date_time;
use crate::web::hooks::{use_ctx, use_record};
use crate::web::state::Route;

#[component]
pub(crate) fn VisitView(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let id = props.id;
    let opened = use_record(id);
    let Some(Record::Visit(v)) = opened.as_ref().map(|o| &o.record) else {
        return html! { <p>{ lang.t("正在打开…", "Opening…") }</p> };
    };
    html! {
        <section data-testid="visit" data-id={id.to_string()}>
            <button class="back" onclick={ctx.go(Route::Household(v.household))}>{ lang.t("‹ 返回住户", "‹ Household") }</button>
            <h2>{ format!("{} · {}", lang.t("走访", "Visit"), lang.outcome(v.outcome.value)) }</h2>
            <dl class="fields">
                <dt>{ lang.t("时间", "Time") }</dt><dd>{ date_time(v.started_at) }</dd>
                <dt>{ lang.t("走访人", "Visitors") }</dt><dd>{ v.visitors.join("、") }</dd>
                if let Some(l) = v.location {
                    <dt>{ lang.t("位置", "Location") }</dt><dd>{ format!("{:.5}, {:.5} (±{:.0} m)", l.lat, l.lon, l.accuracy) }</dd>
                }
                <dt>{ lang.t("备注", "Notes") }</dt><dd class="notes" data-testid="visit-notes">{ &v.notes }</dd>
            </dl>
            <h3>{ lang.t("事项", "Items") }</h3>
            <ul class="list">
                { for v.items.iter().map(|item| html! {
                    <li>
                        <span class="badge">{ lang.area(item.area) }</span>
                        <span class="title">{ &item.description }</span>
                        if item.solved { <span class="badge visited">{ lang.t("当场解决", "Solved") }</span> }
                        if let Some(issue) = item.issue {
                            <button class="link" onclick={ctx.go(Route::Issue(issue))}>{ lang.t("查看事件", "Open issue") }</button>
                        }
                    </li>
                }) }
            </ul>
            <Photos id={id} grid={v.grid.to_string()} photos={v.photos.clone()} />
            <RecordExtras id={id} />
        </section>
    }
}
