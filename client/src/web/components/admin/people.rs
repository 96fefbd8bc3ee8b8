//! People: the accounts in pages with a search, a form that creates one, and per person:
//! disable or enable, a new password, and a one-time QR code that signs their phone in.

use serde_json::{Value, json};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::web::components::supervisor::ProvisionQr;
use crate::web::components::{input_value, value_of};
use crate::web::hooks::use_ctx;
use crate::web::http;

const ROLES: [(&str, &str, &str); 6] = [
    ("worker", "网格员", "Grid worker"),
    ("volunteer", "志愿者", "Volunteer"),
    ("community_supervisor", "社区书记", "Community secretary"),
    ("street_supervisor", "街道负责人", "Street supervisor"),
    ("city_supervisor", "市级指挥中心", "City supervisor"),
    (
        "department",
        "职能部门（用户名即部门编码）",
        "Department (username = its code)",
    ),
];

#[component]
pub(super) fn PeopleScreen() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let token = ctx.state.session.as_ref().map(|s| s.token.clone());
    let q = use_state(String::new);
    let page = use_state(|| None::<Value>);
    let after = use_state(|| None::<String>);
    let refresh = use_state(|| 0u32);
    let message = use_state(|| None::<String>);
    // The password the server generated for the account just made (shown once).
    let created = use_state(|| None::<(String, String)>);
    {
        let (page, token) = (page.clone(), token.clone());
        use_effect_with(
            ((*q).clone(), (*after).clone(), *refresh),
            move |(q, after, _)| {
                let mut path = format!(
                    "/api/admin/people?limit=50&q={}",
                    js_sys::encode_uri_component(q)
                );
                if let Some(a) = after {
                    path.push_str(&format!("&after={}", js_sys::encode_uri_component(a)));
                }
                wasm_bindgen_futures::spawn_local(async move {
                    if let Ok((200, v)) = http::json("GET", &path, token.as_deref(), None).await {
                        page.set(Some(v));
                    }
                });
            },
        );
    }
    // The form.
    let user = use_state(String::new);
    let name = use_state(String::new);
    let role = use_state(|| "worker".to_owned());
    let scope = use_state(String::new);
    let onsubmit = {
        let (user, name, role, scope, message, refresh, token, created) = (
            user.clone(),
            name.clone(),
            role.clone(),
            scope.clone(),
            message.clone(),
            refresh.clone(),
            token.clone(),
            created.clone(),
        );
        move |e: SubmitEvent| {
            e.prevent_default();
            let body = json!({ "user": user.trim(), "name": name.trim(), "role": *role, "scope": scope.trim() });
            let (user, name, message, refresh, token, created) = (
                user.clone(),
                name.clone(),
                message.clone(),
                refresh.clone(),
                token.clone(),
                created.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match http::json("POST", "/api/admin/people", token.as_deref(), Some(&body)).await {
                    Ok((200, v)) => {
                        created.set(Some((
                            v["user"].as_str().unwrap_or_default().to_owned(),
                            v["password"].as_str().unwrap_or_default().to_owned(),
                        )));
                        message.set(Some(format!(
                            "{} {} · {} {}",
                            lang.t("已创建", "Created"),
                            v["user"].as_str().unwrap_or_default(),
                            lang.t("初始密码", "first password"),
                            v["password"].as_str().unwrap_or_default()
                        )));
                        user.set(String::new());
                        name.set(String::new());
                        refresh.set(*refresh + 1);
                    }
                    Ok((status, v)) => message.set(Some(http::error_of(status, &v))),
                    Err(e) => message.set(Some(e.to_string())),
                }
            });
        }
    };
    let act = {
        let (message, refresh, token, created) = (
            message.clone(),
            refresh.clone(),
            token.clone(),
            created.clone(),
        );
        Callback::from(move |(method, path, body): (&'static str, String, Value)| {
            let (message, refresh, token, created) = (
                message.clone(),
                refresh.clone(),
                token.clone(),
                created.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match http::json(method, &path, token.as_deref(), Some(&body)).await {
                    Ok((200, v)) => {
                        if let Some(p) = v["password"].as_str() {
                            created.set(Some((
                                v["user"].as_str().unwrap_or_default().to_owned(),
                                p.to_owned(),
                            )));
                            message.set(Some(format!(
                                "{} {}: {p}",
                                lang.t("新密码", "New password"),
                                v["user"].as_str().unwrap_or_default()
                            )));
                        }
                        refresh.set(*refresh + 1);
                    }
                    Ok((status, v)) => message.set(Some(http::error_of(status, &v))),
                    Err(e) => message.set(Some(e.to_string())),
                }
            });
        })
    };
    let items: Vec<Value> = page
        .as_ref()
        .and_then(|p| p["items"].as_array().cloned())
        .unwrap_or_default();
    let next = page
        .as_ref()
        .and_then(|p| p["next"].as_str().map(str::to_owned));
    html! {
        <div class="card" data-testid="people">
            <h2>{ lang.t("人员", "People") }</h2>
            <form class="form" data-testid="person-form" {onsubmit}>
                <label>{ lang.t("用户名", "Username") }
                    <input name="user" value={(*user).clone()} oninput={let s = user.clone(); move |e: InputEvent| s.set(input_value(&e))} />
                </label>
                <label>{ lang.t("姓名", "Name") }
                    <input name="name" value={(*name).clone()} oninput={let s = name.clone(); move |e: InputEvent| s.set(input_value(&e))} />
                </label>
                <label>{ lang.t("角色", "Role") }
                    <select name="role" onchange={let r = role.clone(); move |e: Event| {
                        if let Some(s) = value_of::<HtmlSelectElement>(&e) { r.set(s.value()); }
                    }}>
                        { for ROLES.iter().map(|(code, zh, en)| html! {
                            <option value={*code} selected={*role == *code}>{ lang.t(zh, en) }</option>
                        }) }
                    </select>
                </label>
                <label>{ lang.t("管辖范围", "Scope") }
                    <input name="scope" placeholder="grids:s01/c01/g01 · community:s01/c01 · street:s01 · city"
                        value={(*scope).clone()} oninput={let s = scope.clone(); move |e: InputEvent| s.set(input_value(&e))} />
                </label>
                <button type="submit" class="primary">{ lang.t("新建账号", "Create account") }</button>
            </form>
            if let Some(m) = &*message {
                <p class="notice" role="status" data-testid="people-message"
                    data-user={created.as_ref().map(|c| c.0.clone())} data-password={created.as_ref().map(|c| c.1.clone())}>{ m.clone() }</p>
            }
            <label>{ lang.t("搜索", "Search") }
                <input type="search" name="q" value={(*q).clone()} oninput={let s = q.clone(); let a = after.clone(); move |e: InputEvent| { a.set(None); s.set(input_value(&e)); }} />
            </label>
            <table class="table" data-testid="people-list">
                <thead><tr>
                    <th>{ lang.t("用户名", "Username") }</th><th>{ lang.t("姓名", "Name") }</th>
                    <th>{ lang.t("角色", "Role") }</th><th>{ lang.t("管辖范围", "Scope") }</th><th></th>
                </tr></thead>
                <tbody>
                    { for items.iter().map(|p| {
                        let u = p["user"].as_str().unwrap_or_default().to_owned();
                        let disabled = p["disabled"].as_bool().unwrap_or(false);
                        let toggle = {
                            let (act, u) = (act.clone(), u.clone());
                            move |_| act.emit(("PATCH", format!("/api/admin/people/{u}"), json!({ "disabled": !disabled })))
                        };
                        let reset = {
                            let (act, u) = (act.clone(), u.clone());
                            move |_| act.emit(("POST", format!("/api/admin/people/{u}/password"), json!({})))
                        };
                        html! {
                            <tr data-user={u.clone()} data-disabled={disabled.to_string()}>
                                <td><code>{ u.clone() }</code></td>
                                <td>{ p["name"].as_str().unwrap_or_default().to_owned() }</td>
                                <td>{ crate::view::role_label(lang, p["role"].as_str().unwrap_or_default()) }</td>
                                <td>{ crate::view::scope_label(&ctx.state.org, lang, p["scope"].as_str().unwrap_or_default()) }</td>
                                <td class="actions">
                                    <button class="link" data-testid="toggle-person" onclick={toggle}>
                                        { if disabled { lang.t("启用", "Enable") } else { lang.t("停用", "Disable") } }
                                    </button>
                                    <button class="link" data-testid="reset-password" onclick={reset}>{ lang.t("重置密码", "New password") }</button>
                                    if !disabled { <ProvisionQr user={u.clone()} /> }
                                </td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            if let Some(n) = next {
                <button data-testid="people-next" onclick={let a = after.clone(); move |_| a.set(Some(n.clone()))}>{ lang.t("下一页", "Next page") }</button>
            }
        </div>
    }
}
