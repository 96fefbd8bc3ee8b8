//! A person's one-time sign-in QR code, as a supervisor or admin shows it (the phone's side
//! is `common/provision.rs`).

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
