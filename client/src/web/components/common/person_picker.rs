//! Picking whom to dispatch an issue to: the people of the supervisor's scope and the city's
//! departments, searched by name or username.

use serde_json::Value;
use yew::prelude::*;

use crate::web::components::input_value;
use crate::web::hooks::use_ctx;
use crate::web::http;

#[derive(Properties, PartialEq)]
pub(crate) struct PickerProps {
    /// The username (or department code) picked.
    pub(crate) value: String,
    pub(crate) onpick: Callback<String>,
}

#[component]
pub(crate) fn PersonPicker(props: &PickerProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let q = use_state(String::new);
    let found = use_state(|| None::<Result<Vec<Value>, String>>);
    {
        let (found, token) = (
            found.clone(),
            ctx.state.session.as_ref().map(|s| s.token.clone()),
        );
        use_effect_with((*q).clone(), move |q| {
            let path = format!("/api/people?limit=30&q={}", js_sys::encode_uri_component(q));
            wasm_bindgen_futures::spawn_local(async move {
                found.set(Some(
                    match http::json("GET", &path, token.as_deref(), None).await {
                        Ok((200, v)) => Ok(v["people"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .chain(v["departments"].as_array().into_iter().flatten())
                            .cloned()
                            .collect()),
                        Ok((status, v)) => Err(http::error_of(status, &v)),
                        Err(_) => Err(lang
                            .t(
                                "离线：无法列出人员，可直接输入用户名",
                                "Offline: type the username",
                            )
                            .into()),
                    },
                ));
            });
        });
    }
    let list = match &*found {
        None => html! {},
        Some(Err(e)) => html! { <p class="hint">{ e.clone() }</p> },
        Some(Ok(people)) => html! {
            <ul class="list picker" data-testid="person-picker">
                { for people.iter().map(|p| {
                    let user = p["user"].as_str().unwrap_or_default().to_owned();
                    let on = user == props.value;
                    let onpick = props.onpick.clone();
                    let pick = user.clone();
                    let role = p["role"].as_str().unwrap_or_default();
                    let role = if role == "department" {
                        lang.t("职能部门", "Department").to_owned()
                    } else {
                        crate::view::role_label(lang, role)
                    };
                    html! {
                        <li data-user={user.clone()}>
                            <button type="button" class={classes!("row", on.then_some("on"))} aria-pressed={on.to_string()}
                                onclick={move |_| onpick.emit(pick.clone())}>
                                <span class="title">{ p["name"].as_str().unwrap_or_default().to_owned() }</span>
                                <span class="badge">{ role }</span>
                                <span class="hint">{ user }</span>
                            </button>
                        </li>
                    }
                }) }
            </ul>
        },
    };
    html! {
        <div class="picker">
            <label>{ lang.t("派遣给（搜索姓名或用户名）", "Dispatch to (search a name or username)") }
                <input type="search" name="assignee-search" value={(*q).clone()}
                    oninput={let s = q.clone(); move |e: InputEvent| s.set(input_value(&e))} />
            </label>
            { list }
            <label>{ lang.t("已选", "Picked") }
                <input name="assignee" value={props.value.clone()}
                    oninput={let p = props.onpick.clone(); move |e: InputEvent| p.emit(input_value(&e))} />
            </label>
        </div>
    }
}
