//! The city's step deadlines (办理时限): hours to respond, days per level to handle a
//! dispatched issue, hours to verify. Saved as a setting; each device writes the rule in force
//! into the event that starts a step, so steps already under way keep theirs.

use std::rc::Rc;

use shared::model::lifecycle::StepLimits;
use yew::prelude::*;

use crate::web::components::input_value;
use crate::web::hooks::use_ctx;
use crate::web::http;
use crate::web::state::Action;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn number(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
}

#[component]
pub(super) fn LimitsScreen() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let now = ctx.state.org.limits;
    let respond = use_state(|| (now.respond_ms / HOUR).to_string());
    let handled = use_state(|| (now.handled_ms / HOUR).to_string());
    let dispatched = use_state(|| {
        now.dispatched_ms
            .map(|d| (d as f64 / DAY as f64).to_string())
    });
    let message = use_state(|| None::<(bool, String)>);
    let onsubmit = {
        let (ctx, respond, handled, dispatched, message) = (
            ctx.clone(),
            respond.clone(),
            handled.clone(),
            dispatched.clone(),
            message.clone(),
        );
        move |e: SubmitEvent| {
            e.prevent_default();
            let parsed = (|| {
                let mut d = [0i64; 4];
                for (i, t) in dispatched.iter().enumerate() {
                    d[i] = (number(t)? * DAY as f64) as i64;
                }
                Some(StepLimits {
                    respond_ms: (number(&respond)? * HOUR as f64) as i64,
                    dispatched_ms: d,
                    handled_ms: (number(&handled)? * HOUR as f64) as i64,
                })
            })();
            let Some(limits) = parsed.filter(StepLimits::is_valid) else {
                message.set(Some((
                    false,
                    lang.t(
                        "每项时限应在 1 小时到 90 天之间",
                        "Each limit is between one hour and 90 days",
                    )
                    .into(),
                )));
                return;
            };
            let (ctx, message) = (ctx.clone(), message.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let token = ctx.state.session.as_ref().map(|s| s.token.clone());
                let body = serde_json::json!({ "limits": limits });
                match http::json("PUT", "/api/admin/settings", token.as_deref(), Some(&body)).await
                {
                    Ok((200, _)) => {
                        let mut org = (*ctx.state.org).clone();
                        org.limits = limits;
                        crate::web::save_org(&org);
                        ctx.state.dispatch(Action::Org(Rc::new(org)));
                        message.set(Some((
                            true,
                            lang.t(
                                "已保存：新开始的环节按新时限计算",
                                "Saved: steps that start from now use them",
                            )
                            .into(),
                        )));
                    }
                    Ok((status, v)) => message.set(Some((false, http::error_of(status, &v)))),
                    Err(e) => message.set(Some((false, e.to_string()))),
                }
            });
        }
    };
    let levels = [
        lang.t("网格", "Grid"),
        lang.t("社区", "Community"),
        lang.t("街道", "Street"),
        lang.t("市级/部门", "City / department"),
    ];
    html! {
        <div class="card" data-testid="limits">
            <h2>{ lang.t("办理时限", "Step deadlines") }</h2>
            <form class="form" data-testid="limits-form" {onsubmit}>
                <label>{ lang.t("受理、核查时限（小时）", "Accept and verify within (hours)") }
                    <input name="respond" inputmode="decimal" value={(*respond).clone()}
                        oninput={let s = respond.clone(); move |e: InputEvent| s.set(input_value(&e))} />
                </label>
                { for levels.iter().enumerate().map(|(i, l)| {
                    let d = dispatched.clone();
                    html! {
                        <label>{ format!("{} {}", l, lang.t("派遣后处置时限（天）", "handles a dispatched issue within (days)")) }
                            <input name={format!("dispatched-{i}")} inputmode="decimal" value={dispatched[i].clone()}
                                oninput={move |e: InputEvent| { let mut v = (*d).clone(); v[i] = input_value(&e); d.set(v); }} />
                        </label>
                    }
                }) }
                <label>{ lang.t("处置后核查时限（小时）", "Verify a handled issue within (hours)") }
                    <input name="handled" inputmode="decimal" value={(*handled).clone()}
                        oninput={let s = handled.clone(); move |e: InputEvent| s.set(input_value(&e))} />
                </label>
                if let Some((ok, m)) = &*message {
                    <p class={if *ok { "notice" } else { "error" }} role="status" data-testid="limits-message">{ m.clone() }</p>
                }
                <button type="submit" class="primary">{ lang.t("保存", "Save") }</button>
            </form>
        </div>
    }
}
