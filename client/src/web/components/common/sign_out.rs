//! Signing out, with a warning while changes still wait.

use yew::prelude::*;

use crate::web::hooks::use_ctx;

#[component]
pub(crate) fn SignOut() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let onclick = {
        let ctx = ctx.clone();
        move |_| {
            let pending = ctx.state.pending;
            if pending > 0 {
                let ask = format!(
                    "{pending} {}",
                    lang.t(
                        "条修改还未同步。退出后它们仍保存在本机，重新登录后同步。确定退出？",
                        "changes have not synced yet. They stay on this phone and sync after you sign in again. Sign out?"
                    )
                );
                let ok = web_sys::window()
                    .and_then(|w| w.confirm_with_message(&ask).ok())
                    .unwrap_or(false);
                if !ok {
                    return;
                }
            }
            let engine = ctx.engine.clone();
            wasm_bindgen_futures::spawn_local(async move { engine.sign_out().await });
        }
    };
    html! { <button class="signout" data-testid="sign-out" {onclick}>{ lang.t("退出", "Sign out") }</button> }
}
