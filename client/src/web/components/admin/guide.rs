//! The admin's first screen: what is set up, and the next step (organisation, then people,
//! then households).

use yew::prelude::*;

use crate::web::hooks::use_ctx;
use crate::web::http;
use crate::web::state::{AdminTab, Route};

#[derive(Clone, Default, PartialEq)]
struct Counts {
    grids: usize,
    people: usize,
    households: usize,
}

#[component]
pub(super) fn Guide() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let counts = use_state(|| None::<Counts>);
    {
        let (counts, token) = (
            counts.clone(),
            ctx.state.session.as_ref().map(|s| s.token.clone()),
        );
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let t = token.as_deref();
                let grids = ctx_grids(t).await;
                let people = match http::json("GET", "/api/admin/people?limit=2", t, None).await {
                    Ok((200, v)) => v["items"].as_array().map_or(0, Vec::len),
                    _ => 0,
                };
                let households = match http::json(
                    "GET",
                    "/api/records?kind=household&limit=1&summaries=true",
                    t,
                    None,
                )
                .await
                {
                    Ok((200, v)) => v["items"].as_array().map_or(0, Vec::len),
                    _ => 0,
                };
                counts.set(Some(Counts {
                    grids,
                    people,
                    households,
                }));
            });
        });
    }
    let Some(c) = (*counts).clone() else {
        return html! { <p>{ lang.t("正在读取…", "Loading…") }</p> };
    };
    let step = |n: u8,
                done: bool,
                zh: &'static str,
                en: &'static str,
                tab: AdminTab,
                hint_zh: &'static str,
                hint_en: &'static str| {
        html! {
            <li class={classes!("step", done.then_some("done"))} data-testid={format!("guide-step-{n}")} data-done={done.to_string()}>
                <span class="badge">{ if done { "✓".to_owned() } else { n.to_string() } }</span>
                <div>
                    <strong>{ lang.t(zh, en) }</strong>
                    <p class="hint">{ lang.t(hint_zh, hint_en) }</p>
                </div>
                <button onclick={ctx.go(Route::Admin(tab))}>{ lang.t("去设置", "Set up") }</button>
            </li>
        }
    };
    html! {
        <div class="card guide" data-testid="guide">
            <h2>{ lang.t("设置您的城市", "Set up your city") }</h2>
            <ol class="steps">
                { step(1, c.grids > 0, "组织架构", "Organisation", AdminTab::Org,
                    "先建街道，再建社区，最后建网格：编码不变，名称可改。",
                    "Streets first, then communities, then grids: codes stay, names can change.") }
                { step(2, c.people > 1, "人员", "People", AdminTab::People,
                    "为网格员、志愿者和社区书记建账号，并指定管辖范围。",
                    "Accounts for grid workers, volunteers and secretaries, each with a scope.") }
                { step(3, c.households > 0, "住户", "Households", AdminTab::Import,
                    "从 Excel（.xlsx）或 CSV 导入住户名册。",
                    "Import the household register from Excel (.xlsx) or CSV.") }
            </ol>
        </div>
    }
}

async fn ctx_grids(token: Option<&str>) -> usize {
    match http::json("GET", "/api/org", token, None).await {
        Ok((200, v)) => v["units"]
            .as_array()
            .map_or(0, |u| u.iter().filter(|u| u["kind"] == "grid").count()),
        _ => 0,
    }
}
