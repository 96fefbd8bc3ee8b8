//! Recording a visit: outcome, items by the five areas (each solved on the spot or reported as
//! an issue), notes, location. The draft survives leaving the form, a reload, a closed tab.

use std::rc::Rc;

use shared::ids::{DocumentId, GridId};
use shared::model::{Area, Outcome};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::error::ClientError;
use crate::forms::{FormError, VisitContext, VisitFormState, plan_visit};
use crate::view::Summary;
use crate::web::components::{input_value, value_of};
use crate::web::handle::EngineHandle;
use crate::web::hooks::{use_ctx, use_draft};
use crate::web::state::Route;
use crate::web::{locate, now, random_bytes};

#[derive(Properties, PartialEq)]
pub(crate) struct HouseholdProps {
    pub(crate) household: DocumentId,
}

#[component]
pub(crate) fn VisitForm(props: &HouseholdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let household = props.household;
    let opened_at = now();
    let (form, set) = use_draft(format!("visit:{household}"), move || {
        VisitFormState::new(opened_at)
    });
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let Some(f) = (*form).clone() else {
        return html! { <p>{ lang.t("正在打开草稿…", "Opening draft…") }</p> };
    };
    let (grid, tags) = match ctx.state.summaries.get(&household) {
        Some(Summary::Household(h)) => (h.grid.clone(), h.tags.clone()),
        _ => return html! { <p>{ lang.t("找不到该住户", "Household not found") }</p> },
    };
    let update = |change: Rc<dyn Fn(&mut VisitFormState)>| {
        let (f, set) = (f.clone(), set.clone());
        move || {
            let mut next = f.clone();
            change(&mut next);
            set.emit(next);
        }
    };
    let outcome_buttons = [Outcome::Met, Outcome::NotHome, Outcome::Declined].map(|o| {
        let pick = update(Rc::new(move |s: &mut VisitFormState| {
            s.outcome = o.code().to_owned()
        }));
        html! {
            <label class={classes!("choice", (f.outcome == o.code()).then_some("on"))}>
                <input type="radio" name="outcome" value={o.code()} checked={f.outcome == o.code()}
                    onchange={move |_| pick()} />
                { lang.outcome(o) }
            </label>
        }
    });
    let items = f.items.iter().enumerate().map(|(n, item)| {
        let (fa, sa) = (f.clone(), set.clone());
        let on_area = move |e: Event| {
            let mut next = fa.clone();
            if let Some(s) = value_of::<HtmlSelectElement>(&e) {
                next.items[n].area = s.value();
            }
            sa.emit(next);
        };
        let (fd, sd) = (f.clone(), set.clone());
        let on_desc = move |e: InputEvent| {
            let mut next = fd.clone();
            next.items[n].description = input_value(&e);
            sd.emit(next);
        };
        let toggle = update(Rc::new(move |s: &mut VisitFormState| s.items[n].solved = !s.items[n].solved));
        let remove = update(Rc::new(move |s: &mut VisitFormState| {
            s.items.remove(n);
        }));
        html! {
            <fieldset class="item" data-testid="item">
                <select name="area" onchange={on_area}>
                    { for Area::ALL.iter().map(|a| html! {
                        <option value={a.code()} selected={item.area == a.code()}>{ lang.area(*a) }</option>
                    }) }
                </select>
                <textarea name="description" placeholder={lang.t("发现了什么", "What was found")}
                    value={item.description.clone()} oninput={on_desc} />
                <label class="check">
                    <input type="checkbox" name="solved" checked={item.solved} onchange={move |_| toggle()} />
                    { lang.t("当场解决（不勾选则上报为事件）", "Solved on the spot (otherwise reported as an issue)") }
                </label>
                <button type="button" class="link" onclick={move |_| remove()}>{ lang.t("删除此项", "Remove") }</button>
            </fieldset>
        }
    });
    let add_item = update(Rc::new(VisitFormState::add_item));
    let toggle_locate = update(Rc::new(|s: &mut VisitFormState| s.locate = !s.locate));
    let on_notes = {
        let (f, set) = (f.clone(), set.clone());
        move |e: InputEvent| {
            let mut next = f.clone();
            next.notes = input_value(&e);
            set.emit(next);
        }
    };
    let onsubmit = {
        let (ctx, f, error, busy) = (ctx.clone(), f.clone(), error.clone(), busy.clone());
        move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            let (ctx, f, error, busy, grid, tags) = (
                ctx.clone(),
                f.clone(),
                error.clone(),
                busy.clone(),
                grid.clone(),
                tags.clone(),
            );
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let user = ctx.state.user();
                let role = ctx
                    .state
                    .session
                    .as_ref()
                    .and_then(|s| s.role())
                    .unwrap_or(shared::model::Role::Volunteer);
                let r = save_visit(&ctx.engine, (household, &tags), &grid, (&user, role), &f).await;
                busy.set(false);
                let lang = ctx.lang();
                match r {
                    Ok(()) => {
                        let _ = ctx
                            .engine
                            .save_draft(&format!("visit:{household}"), None)
                            .await;
                        ctx.notice(Some(
                            lang.t(
                                "走访已保存在本机，联网后自动同步",
                                "Visit saved on this phone; it syncs when online",
                            )
                            .into(),
                        ));
                        ctx.nav(Route::Household(household));
                    }
                    Err(Saving::Form(e)) => error.set(Some(e.text(lang).into())),
                    Err(Saving::Client(e)) => error.set(Some(e.to_string())),
                }
            });
        }
    };
    html! {
        <form class="card visit-form" data-testid="visit-form" {onsubmit}>
            <h2>{ lang.t("记录走访", "Record a visit") }</h2>
            <fieldset class="choices"><legend>{ lang.t("走访结果", "Outcome") }</legend>{ for outcome_buttons }</fieldset>
            <h3>{ lang.t("发现事项（按五项重点任务）", "Items found (by the five areas)") }</h3>
            { for items }
            <button type="button" data-testid="add-item" onclick={move |_| add_item()}>{ lang.t("＋ 添加事项", "+ Add item") }</button>
            <label>{ lang.t("备注", "Notes") }
                <textarea name="notes" value={f.notes.clone()} oninput={on_notes} />
            </label>
            <label class="check">
                <input type="checkbox" name="locate" checked={f.locate} onchange={move |_| toggle_locate()} />
                { lang.t("记录位置（需授权）", "Record my location (asks permission)") }
            </label>
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <div class="actions">
                <button type="submit" class="primary" data-testid="save-visit" disabled={*busy}>{ lang.t("保存", "Save") }</button>
                <button type="button" onclick={ctx.go(Route::Household(household))}>
                    { lang.t("稍后再填（草稿已保存）", "Later (draft kept)") }
                </button>
            </div>
        </form>
    }
}

/// Why a visit was not saved.
enum Saving {
    Form(FormError),
    Client(ClientError),
}

/// Saves a visit: the form is checked, the location asked for, then each issue and the visit
/// are made durable on the phone one after the other.
async fn save_visit(
    engine: &EngineHandle,
    (household, tags): (DocumentId, &[String]),
    grid: &str,
    (user, role): (&str, shared::model::Role),
    f: &VisitFormState,
) -> Result<(), Saving> {
    f.check().map_err(Saving::Form)?;
    let grid: GridId = grid
        .parse()
        .map_err(|e: shared::ids::IdError| Saving::Client(ClientError::BadReply(e.to_string())))?;
    let location = if f.locate { locate().await } else { None };
    let at = VisitContext {
        household,
        grid: &grid,
        user,
        role,
        now: now(),
        location,
        tags,
    };
    let plan = plan_visit(
        f,
        &at,
        || DocumentId::from_bytes(random_bytes()),
        || shared::hex::encode(&random_bytes::<8>()),
    )
    .map_err(Saving::Form)?;
    for (id, draft) in plan.issues {
        engine
            .create(id, move |tx| draft.write(tx))
            .await
            .map_err(Saving::Client)?;
    }
    let (id, visit) = plan.visit;
    engine
        .create(id, move |tx| visit.write(tx))
        .await
        .map_err(Saving::Client)
}
