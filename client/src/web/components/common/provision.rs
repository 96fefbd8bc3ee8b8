//! Signing a phone in by QR code (as ODK Central's app-user codes): a supervisor or admin
//! shows a one-time code for a person (short-lived, single use); the phone's camera opens
//! `<public url>/#/provision/<code>`, and the app signs in with it.

use serde_json::{Value, json};
use yew::prelude::*;

use crate::web::hooks::use_ctx;
use crate::web::http;

#[derive(Properties, PartialEq)]
pub(crate) struct ProvisionProps {
    pub(crate) user: String,
}

/// A button that shows a person's one-time sign-in QR code.
#[component]
pub(crate) fn ProvisionQr(props: &ProvisionProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let shown = use_state(|| None::<Result<Value, String>>);
    let onclick = {
        let (shown, user, token) = (
            shown.clone(),
            props.user.clone(),
            ctx.state.session.as_ref().map(|s| s.token.clone()),
        );
        move |_| {
            let (shown, user, token) = (shown.clone(), user.clone(), token.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let body = json!({ "user": user });
                shown.set(Some(
                    match http::json("POST", "/api/provision", token.as_deref(), Some(&body)).await
                    {
                        Ok((200, v)) => Ok(v),
                        Ok((status, v)) => Err(http::error_of(status, &v)),
                        Err(e) => Err(e.to_string()),
                    },
                ));
            });
        }
    };
    let close = {
        let shown = shown.clone();
        move |_| shown.set(None)
    };
    html! {
        <>
            <button class="link" data-testid="provision" {onclick}>{ lang.t("登录二维码", "Sign-in QR code") }</button>
            { match &*shown {
                None => html! {},
                Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
                Some(Ok(v)) => {
                    // The SVG is the server's own drawing of the code, not anyone's text.
                    let svg = Html::from_html_unchecked(AttrValue::from(v["svg"].as_str().unwrap_or_default().to_owned()));
                    let until = crate::web::components::date_time(shared::time::Millis(v["expires_at"].as_i64().unwrap_or(0)));
                    html! {
                        <div class="qr card" data-testid="provision-qr" data-url={v["url"].as_str().unwrap_or_default().to_owned()}
                            data-expires={v["expires_at"].to_string()}>
                            <p>{ format!("{} {}", lang.t("请用手机扫码登录：", "Scan with the phone to sign in:"), v["name"].as_str().unwrap_or_default()) }</p>
                            { svg }
                            <p class="hint">{ format!("{} {until}", lang.t("仅可使用一次，有效期至", "Single use, valid until")) }</p>
                            <button onclick={close}>{ lang.t("关闭", "Close") }</button>
                        </div>
                    }
                }
            } }
        </>
    }
}

#[derive(Properties, PartialEq)]
pub(crate) struct CodeProps {
    pub(crate) code: String,
}

/// Signs this phone in with the code of the address it was opened at.
#[component]
pub(crate) fn ProvisionSignIn(props: &CodeProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let error = use_state(|| None::<String>);
    {
        let (ctx, error) = (ctx.clone(), error.clone());
        use_effect_with(props.code.clone(), move |code| {
            let code = code.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = ctx.engine.redeem(&ctx.state, &code).await;
                // The code is spent either way: the address no longer carries it.
                crate::web::clear_hash();
                error.set(r.err().map(|e| e.to_string()));
            });
        });
    }
    html! {
        <div class="card" data-testid="provision-signin">
            <h2>{ lang.t("扫码登录", "Signing in by QR code") }</h2>
            { match &*error {
                None => html! { <p>{ lang.t("正在登录…", "Signing in…") }</p> },
                Some(e) => html! { <p class="error" role="alert">{ e.clone() }</p> },
            } }
        </div>
    }
}
