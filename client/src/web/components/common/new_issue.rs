//! Reporting an issue with no household (issues anywhere): what a worker sees on patrol, or a
//! complaint a supervisor takes by phone; with photos taken for it.

use shared::ids::{DocumentId, Scope};
use shared::model::{Area, Role};
use shared::org::UnitKind;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::issue_form::{IssueFormState, plan_issue};
use crate::web::components::{input_value, value_of};
use crate::web::hooks::use_ctx;
use crate::web::state::Route;
use crate::web::{now, random_bytes};

#[component]
pub(crate) fn NewIssue() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let session = ctx.state.session.clone();
    let scope: Option<Scope> = session.as_ref().and_then(|s| s.scope.parse().ok());
    let role = session
        .as_ref()
        .and_then(|s| s.role())
        .unwrap_or(Role::Worker);
    // The grids the user may report in: a worker's own, a supervisor's area's.
    let grids: Vec<(String, String)> = match &scope {
        Some(Scope::Grids(gs)) => gs
            .iter()
            .map(|g| (g.to_string(), ctx.state.org.grid_label(g)))
            .collect(),
        Some(scope) => ctx
            .state
            .org
            .of_kind(UnitKind::Grid)
            .filter_map(|u| u.code.parse().ok().map(|g| (u, g)))
            .filter(|(_, g)| scope.contains(g))
            .map(|(u, g)| (u.code.clone(), ctx.state.org.grid_label(&g)))
            .collect(),
        None => Vec::new(),
    };
    let form = use_state(|| IssueFormState {
        grid: grids.first().map(|g| g.0.clone()).unwrap_or_default(),
        area: Area::Infrastructure.code().into(),
        ..IssueFormState::default()
    });
    let error = use_state(|| None::<String>);
    let edit = |f: fn(&mut IssueFormState, String)| {
        let form = form.clone();
        move |v: String| {
            let mut next = (*form).clone();
            f(&mut next, v);
            form.set(next);
        }
    };
    let on_grid = {
        let set = edit(|s, v| s.grid = v);
        move |e: Event| {
            set(value_of::<HtmlSelectElement>(&e)
                .map(|s| s.value())
                .unwrap_or_default())
        }
    };
    let on_area = {
        let set = edit(|s, v| s.area = v);
        move |e: Event| {
            set(value_of::<HtmlSelectElement>(&e)
                .map(|s| s.value())
                .unwrap_or_default())
        }
    };
    let on_desc = {
        let set = edit(|s, v| s.description = v);
        move |e: InputEvent| set(input_value(&e))
    };
    let on_place = {
        let set = edit(|s, v| s.place = v);
        move |e: InputEvent| set(input_value(&e))
    };
    let on_photo = {
        let (form, error) = (form.clone(), error.clone());
        move |e: Event| {
            let Some(input) = value_of::<web_sys::HtmlInputElement>(&e) else {
                return;
            };
            let grid = form.grid.clone();
            let (form, error) = (form.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match crate::web::photos::take(&input, &grid).await {
                    Ok(hashes) => {
                        let mut next = (*form).clone();
                        next.photos.extend(hashes);
                        next.photos.truncate(shared::model::issue::MAX_PHOTOS);
                        form.set(next);
                    }
                    Err(msg) => error.set(Some(msg)),
                }
            });
        }
    };
    let submit = {
        let (ctx, form, error) = (ctx.clone(), form.clone(), error.clone());
        move |e: SubmitEvent| {
            e.prevent_default();
            let lang = ctx.lang();
            let draft = match plan_issue(
                &form,
                (&ctx.state.user(), role),
                now(),
                shared::hex::encode(&random_bytes::<8>()),
            ) {
                Ok(d) => d,
                Err(e) => return error.set(Some(e.text(lang).into())),
            };
            let id = DocumentId::from_bytes(random_bytes());
            let (ctx, error) = (ctx.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ctx.engine.create(id, move |tx| draft.write(tx)).await {
                    Ok(()) => ctx.nav(Route::Issue(id)),
                    Err(msg) => error.set(Some(msg.to_string())),
                }
            });
        }
    };
    let back = if ctx.state.supervisor() {
        Route::Queue
    } else {
        Route::Issues
    };
    html! {
        <section data-testid="new-issue">
            <button class="back" onclick={ctx.go(back)}>{ lang.t("‹ 返回", "‹ Back") }</button>
            <h2>{ lang.t("上报事件", "Report an issue") }</h2>
            <form onsubmit={submit}>
                <label>{ lang.t("网格", "Grid") }
                    <select name="grid" onchange={on_grid}>
                        { for grids.iter().map(|(code, label)| html! {
                            <option value={code.clone()} selected={form.grid == *code}>{ label }</option>
                        }) }
                    </select>
                </label>
                <label>{ lang.t("领域", "Area") }
                    <select name="area" onchange={on_area}>
                        { for Area::ALL.iter().map(|a| html! {
                            <option value={a.code()} selected={form.area == a.code()}>{ lang.area(*a) }</option>
                        }) }
                    </select>
                </label>
                <label>{ lang.t("描述", "What is it") }
                    <textarea name="description" value={form.description.clone()} oninput={on_desc}
                        placeholder={lang.t("巡查所见或来电内容", "What you saw, or what the caller said")} />
                </label>
                <label>{ lang.t("地点", "Place") }
                    <input name="place" value={form.place.clone()} oninput={on_place}
                        placeholder={lang.t("如：3号楼北侧路灯", "e.g. the lamp north of building 3")} />
                </label>
                <label>{ lang.t("照片", "Photos") }
                    <input type="file" name="photo" accept="image/*" multiple=true onchange={on_photo} />
                </label>
                if !form.photos.is_empty() {
                    <div class="thumbs" data-testid="photos">
                        { for form.photos.iter().map(|h| html! { <super::Photo hash={h.clone()} /> }) }
                    </div>
                }
                if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
                <button type="submit" class="primary">{ lang.t("上报", "Report") }</button>
            </form>
        </section>
    }
}
