//! The sign-in form.

use yew::prelude::*;

use crate::web::components::input_value;
use crate::web::hooks::use_ctx;

#[component]
pub(crate) fn SignIn() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let user = use_state(|| {
        ctx.state
            .session
            .as_ref()
            .map(|s| s.user.clone())
            .unwrap_or_default()
    });
    let password = use_state(String::new);
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let onsubmit = {
        let (ctx, user, password, error, busy) = (
            ctx.clone(),
            user.clone(),
            password.clone(),
            error.clone(),
            busy.clone(),
        );
        move |e: SubmitEvent| {
            e.prevent_default();
            let (ctx, u, p, error, busy) = (
                ctx.clone(),
                (*user).clone(),
                (*password).clone(),
                error.clone(),
                busy.clone(),
            );
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let r = ctx.engine.sign_in(&ctx.state, u.trim(), &p).await;
                busy.set(false);
                error.set(r.err().map(|e| e.to_string()));
            });
        }
    };
    html! {
        <form class="card signin" data-testid="signin" {onsubmit}>
            <h2>{ lang.t("登录", "Sign in") }</h2>
            <label>{ lang.t("用户名", "Username") }
                <input name="username" autocomplete="username" value={(*user).clone()}
                    oninput={let s = user.clone(); move |e: InputEvent| s.set(input_value(&e))} />
            </label>
            <label>{ lang.t("密码", "Password") }
                <input name="password" type="password" autocomplete="current-password" value={(*password).clone()}
                    oninput={let s = password.clone(); move |e: InputEvent| s.set(input_value(&e))} />
            </label>
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <button type="submit" class="primary" disabled={*busy}>{ lang.t("登录", "Sign in") }</button>
        </form>
    }
}
