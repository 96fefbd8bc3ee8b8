//! The organisation: streets, communities, grids and departments with their names. A unit
//! is created or renamed with one form (the code is its identity).

use std::rc::Rc;

use shared::org::{Org, UnitKind};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::web::components::{input_value, value_of};
use crate::web::hooks::use_ctx;
use crate::web::http;
use crate::web::state::Action;

fn kind_label(lang: crate::i18n::Lang, k: UnitKind) -> &'static str {
    match k {
        UnitKind::Street => lang.t("街道", "Street"),
        UnitKind::Community => lang.t("社区", "Community"),
        UnitKind::Grid => lang.t("网格", "Grid"),
        UnitKind::Department => lang.t("职能部门", "Department"),
    }
}

#[component]
pub(super) fn OrgScreen() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let kind = use_state(|| UnitKind::Street);
    let code = use_state(String::new);
    let name = use_state(String::new);
    let error = use_state(|| None::<String>);
    let refresh = use_state(|| 0u32);
    {
        let (ctx, refresh) = (ctx.clone(), *refresh);
        use_effect_with(refresh, move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let token = ctx.state.session.as_ref().map(|s| s.token.clone());
                if let Ok((200, v)) = http::json("GET", "/api/org", token.as_deref(), None).await
                    && let Ok(org) = serde_json::from_value::<Org>(v)
                {
                    crate::web::save_org(&org);
                    ctx.state.dispatch(Action::Org(Rc::new(org)));
                }
            });
        });
    }
    let onsubmit = {
        let (ctx, kind, code, name, error, refresh) = (
            ctx.clone(),
            kind.clone(),
            code.clone(),
            name.clone(),
            error.clone(),
            refresh.clone(),
        );
        move |e: SubmitEvent| {
            e.prevent_default();
            let body = serde_json::json!({ "kind": kind.code(), "code": code.trim(), "name": name.trim() });
            let (ctx, code, name, error, refresh) = (
                ctx.clone(),
                code.clone(),
                name.clone(),
                error.clone(),
                refresh.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                let token = ctx.state.session.as_ref().map(|s| s.token.clone());
                match http::json("POST", "/api/admin/org", token.as_deref(), Some(&body)).await {
                    Ok((200, _)) => {
                        error.set(None);
                        code.set(String::new());
                        name.set(String::new());
                        refresh.set(*refresh + 1);
                    }
                    Ok((status, v)) => error.set(Some(http::error_of(status, &v))),
                    Err(e) => error.set(Some(e.to_string())),
                }
            });
        }
    };
    let placeholder = match *kind {
        UnitKind::Street => "s01",
        UnitKind::Community => "s01/c01",
        UnitKind::Grid => "s01/c01/g01",
        UnitKind::Department => "d-housing",
    };
    let org = ctx.state.org.clone();
    let kinds = [
        UnitKind::Street,
        UnitKind::Community,
        UnitKind::Grid,
        UnitKind::Department,
    ];
    html! {
        <div class="card" data-testid="org">
            <h2>{ lang.t("组织架构", "Organisation") }</h2>
            <form class="form" data-testid="org-form" {onsubmit}>
                <label>{ lang.t("类型", "Kind") }
                    <select name="kind" onchange={let k = kind.clone(); move |e: Event| {
                        if let Some(s) = value_of::<HtmlSelectElement>(&e) {
                            k.set(kinds.into_iter().find(|x| x.code() == s.value()).unwrap_or(UnitKind::Street));
                        }
                    }}>
                        { for kinds.iter().map(|k| html! {
                            <option value={k.code()} selected={*k == *kind}>{ kind_label(lang, *k) }</option>
                        }) }
                    </select>
                </label>
                <label>{ lang.t("编码（不可更改）", "Code (permanent)") }
                    <input name="code" placeholder={placeholder} value={(*code).clone()}
                        oninput={let s = code.clone(); move |e: InputEvent| s.set(input_value(&e))} />
                </label>
                <label>{ lang.t("名称", "Name") }
                    <input name="name" value={(*name).clone()}
                        oninput={let s = name.clone(); move |e: InputEvent| s.set(input_value(&e))} />
                </label>
                if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
                <button type="submit" class="primary">{ lang.t("保存（新建或改名）", "Save (create or rename)") }</button>
            </form>
            <table class="table" data-testid="org-units">
                <thead><tr><th>{ lang.t("类型", "Kind") }</th><th>{ lang.t("编码", "Code") }</th><th>{ lang.t("名称", "Name") }</th></tr></thead>
                <tbody>
                    { for org.units.iter().map(|u| html! {
                        <tr data-code={u.code.clone()}>
                            <td>{ kind_label(lang, u.kind) }</td>
                            <td><code>{ u.code.clone() }</code></td>
                            <td>{ if u.kind == UnitKind::Department { u.name.clone() } else { org.area_label(&u.code) } }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        </div>
    }
}
