//! A record's pin toggle, its conflicts (each value with who set it, and a button that keeps
//! it) and its history (who changed what, when).

use yew::prelude::*;

use super::IdProps;
use crate::view;
use crate::web::components::date_time;
use crate::web::hooks::{use_ctx, use_record};

#[component]
pub(crate) fn RecordExtras(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let id = props.id;
    let opened = use_record(id);
    let error = use_state(|| None::<String>);
    let Some(opened) = opened else {
        return html! {};
    };
    let conflicts = view::conflicts(&opened.record);
    let problems = shared::model::problems(&opened.record);
    let who = |actor: &str| {
        opened
            .users
            .get(actor)
            .cloned()
            .unwrap_or_else(|| actor.chars().take(8).collect())
    };
    html! {
        <>
            <div class="actions"><super::PinButton id={id} /></div>
            if !problems.is_empty() {
                <div class="needs-correction" data-testid="needs-correction" role="status">
                    <h3>{ lang.t("待更正：合并后的数值不符合规则", "Needs correction: the merged values break a rule") }</h3>
                    <ul>
                        { for problems.iter().map(|p| html! {
                            <li data-field={p.field.clone()}><b>{ &p.field }</b>{ " " }{ lang.rule(&p.rule) }</li>
                        }) }
                    </ul>
                </div>
            }
            if !conflicts.is_empty() {
                <div class="conflicts" data-testid="conflicts">
                    <h3>{ lang.t("并发修改冲突", "Conflicting edits") }</h3>
                    { for conflicts.iter().map(|c| {
                        let field = c.field;
                        html! {
                            <div class="conflict-field" data-field={field}>
                                <b>{ field }</b>
                                { for c.candidates.iter().map(|(value, actor)| {
                                    let (engine, error, value) = (ctx.engine.clone(), error.clone(), value.clone());
                                    let shown = value.clone();
                                    html! {
                                        <div class="candidate">
                                            <span class="value">{ shown }</span>
                                            <span class="who">{ format!("{} {}", lang.t("由", "by"), who(actor)) }</span>
                                            <button data-testid="resolve" data-value={value.clone()} onclick={move |_| {
                                                let (engine, error, value) = (engine.clone(), error.clone(), value.clone());
                                                wasm_bindgen_futures::spawn_local(async move {
                                                    let intent = crate::intent::Intent::Resolve { field: field.to_owned(), value };
                                                    let r = engine.change(id, intent).await;
                                                    error.set(r.err().map(|e| e.to_string()));
                                                });
                                            }}>{ lang.t("采用此值", "Keep this") }</button>
                                        </div>
                                    }
                                }) }
                            </div>
                        }
                    }) }
                    if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
                </div>
            }
            <h3>{ lang.t("修改历史", "History") }</h3>
            <ol class="timeline history" data-testid="history">
                { for opened.history.iter().rev().map(|h| {
                    let words = view::history_words(h, lang);
                    html! {
                        <li>
                            <span>{ date_time(h.at) }</span>
                            <b>{ &h.user }</b>
                            <span class="what">{ words.iter().take(6).cloned().collect::<Vec<_>>().join("；") }
                                if words.len() > 6 { { format!(" …(+{})", words.len() - 6) } }
                            </span>
                        </li>
                    }
                }) }
            </ol>
        </>
    }
}
