//! A supervisor's team: the people of their scope, each with a one-time QR code that signs
//! their phone in.

use serde_json::Value;
use yew::prelude::*;

use super::ProvisionQr;
use crate::web::hooks::use_ctx;
use crate::web::http;

#[component]
pub(crate) fn Team() -> Html {
    let ctx = use_ctx();
    // The communities of the supervisor's area, each with a printable sheet of its grids' codes.
    let scope: Option<shared::ids::Scope> = ctx
        .state
        .session
        .as_ref()
        .and_then(|s| s.scope.parse().ok());
    let qr_communities: Vec<(String, String)> = ctx
        .state
        .org
        .of_kind(shared::org::UnitKind::Community)
        .filter(|u| {
            scope
                .as_ref()
                .is_some_and(|s| s.covers(&shared::ids::Scope::Community(u.code.clone())))
        })
        .map(|u| (u.code.clone(), u.name.clone()))
        .collect();
    let lang = ctx.lang();
    let people = use_state(|| None::<Result<Vec<Value>, String>>);
    {
        let (people, token) = (
            people.clone(),
            ctx.state.session.as_ref().map(|s| s.token.clone()),
        );
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                people.set(Some(
                    match http::json("GET", "/api/people?limit=200", token.as_deref(), None).await {
                        Ok((200, v)) => Ok(v["people"].as_array().cloned().unwrap_or_default()),
                        Ok((status, v)) => Err(http::error_of(status, &v)),
                        Err(e) => Err(e.to_string()),
                    },
                ));
            });
        });
    }
    let list = match &*people {
        None => html! { <p>{ lang.t("正在读取…", "Loading…") }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok(people)) => html! {
            <ul class="list" data-testid="team">
                { for people.iter().filter(|p| matches!(p["role"].as_str(), Some("worker" | "volunteer"))).map(|p| {
                    let user = p["user"].as_str().unwrap_or_default().to_owned();
                    html! {
                        <li data-user={user.clone()}>
                            <span class="title">{ p["name"].as_str().unwrap_or_default().to_owned() }</span>
                            <span class="badge">{ crate::view::role_label(lang, p["role"].as_str().unwrap_or_default()) }</span>
                            <span class="hint">{ crate::view::scope_label(&ctx.state.org, lang, p["scope"].as_str().unwrap_or_default()) }</span>
                            <ProvisionQr user={user} />
                        </li>
                    }
                }) }
            </ul>
        },
    };
    html! {
        <div class="card">
            <h2>{ lang.t("网格员与志愿者", "Workers and volunteers") }</h2>
            <h3>{ lang.t("网格二维码（居民扫码反映）", "Grid QR codes (residents scan to report)") }</h3>
            <ul class="list" data-testid="qr-sheets">
                { for qr_communities.iter().map(|(code, name)| html! {
                    <li><a href={format!("/qr-sheet/{code}")} target="_blank" rel="noopener">
                        { format!("{name} · {}", lang.t("打印二维码", "print QR codes")) }
                    </a></li>
                }) }
            </ul>
            <p class="hint">{ lang.t("为新手机发放一次性登录二维码（10 分钟内有效，只能用一次）。", "Give a new phone a one-time sign-in QR code (valid for minutes, single use).") }</p>
            { list }
        </div>
    }
}
