//! Signing a phone in by QR code (as ODK Central's app-user codes): a supervisor or admin
//! shows a one-time code for a person (short-lived, single use, `supervisor/provision_qr.rs`);
//! the phone's camera opens `<public url>/#/provision/<code>`, and the app signs in with it.

use yew::prelude::*;

use crate::web::hooks::use_ctx;

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
