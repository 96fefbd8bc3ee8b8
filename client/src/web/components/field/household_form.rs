//! Editing a household: only what changed is written, so others' concurrent edits of other
//! fields merge. The draft survives leaving the form.

use std::rc::Rc;

use shared::ids::DocumentId;
use shared::model::{Household, Record};
use yew::prelude::*;

use crate::forms::{HouseholdFormState, TAGS, household_changes};
use crate::web::components::common::IdProps;
use crate::web::components::input_value;
use crate::web::hooks::{use_ctx, use_draft, use_record};
use crate::web::state::Route;

#[component]
pub(crate) fn HouseholdForm(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let opened = use_record(props.id);
    match opened.as_ref().map(|o| &o.record) {
        Some(Record::Household(h)) => {
            html! { <Form id={props.id} current={Rc::new(h.clone())} /> }
        }
        _ => html! { <p>{ ctx.lang().t("正在打开…", "Opening…") }</p> },
    }
}

#[derive(Properties, PartialEq)]
struct FormProps {
    id: DocumentId,
    /// The household as it was when the form opened.
    current: Rc<Household>,
}

#[component]
fn Form(props: &FormProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let id = props.id;
    let current = (*props.current).clone();
    let start = HouseholdFormState::of(&current);
    let (form, set) = use_draft(format!("household:{id}"), move || start);
    let error = use_state(|| None::<String>);
    let Some(f) = (*form).clone() else {
        return html! { <p>{ lang.t("正在打开…", "Opening…") }</p> };
    };
    let field = |pick: fn(&mut HouseholdFormState) -> &mut String| {
        let (f, set) = (f.clone(), set.clone());
        move |e: InputEvent| {
            let mut next = f.clone();
            *pick(&mut next) = input_value(&e);
            set.emit(next);
        }
    };
    let tag_boxes = TAGS.iter().map(|t| {
        let (f, set) = (f.clone(), set.clone());
        let on = f.tags.iter().any(|x| x == t);
        let toggle = move |_| {
            let mut next = f.clone();
            if on {
                next.tags.retain(|x| x != t);
            } else {
                next.tags.push((*t).to_owned());
            }
            set.emit(next);
        };
        html! {
            <label class="check"><input type="checkbox" name={*t} checked={on} onchange={toggle} />{ lang.tag(t) }</label>
        }
    });
    let label = current.address.label();
    let onsubmit = {
        let (ctx, f, error) = (ctx.clone(), f.clone(), error.clone());
        move |e: SubmitEvent| {
            e.prevent_default();
            let changes = match household_changes(&current, &f) {
                Ok(c) => c,
                Err(e) => return error.set(Some(e.text(lang).into())),
            };
            let (ctx, error) = (ctx.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let intent = crate::intent::Intent::Household { changes };
                match ctx.engine.change(id, intent).await {
                    Ok(()) => {
                        let _ = ctx
                            .engine
                            .save_draft(&format!("household:{id}"), None)
                            .await;
                        ctx.nav(Route::Household(id));
                    }
                    Err(msg) => error.set(Some(msg.to_string())),
                }
            });
        }
    };
    html! {
        <form class="card" data-testid="household-form" {onsubmit}>
            <h2>{ format!("{} {label}", lang.t("修改住户", "Edit household")) }</h2>
            <label>{ lang.t("户主", "Head") }<input name="head" value={f.head.clone()} oninput={field(|s| &mut s.head)} /></label>
            <label>{ lang.t("电话", "Phone") }<input name="contact" type="tel" value={f.contact.clone()} oninput={field(|s| &mut s.contact)} /></label>
            <label>{ lang.t("人数", "Members") }<input name="members" inputmode="numeric" value={f.members.clone()} oninput={field(|s| &mut s.members)} /></label>
            <fieldset class="choices"><legend>{ lang.t("标签", "Tags") }</legend>{ for tag_boxes }</fieldset>
            <label>{ lang.t("备注", "Notes") }<textarea name="notes" value={f.notes.clone()} oninput={field(|s| &mut s.notes)} /></label>
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <div class="actions">
                <button type="submit" class="primary" data-testid="save-household">{ lang.t("保存", "Save") }</button>
                <button type="button" onclick={ctx.go(Route::Household(id))}>{ lang.t("返回（草稿已保存）", "Back (draft kept)") }</button>
            </div>
        </form>
    }
}
