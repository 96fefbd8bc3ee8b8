//! EN / 中文.

use yew::prelude::*;

use crate::web::handle::Cmd;
use crate::web::hooks::use_ctx;

#[component]
pub(crate) fn LangSwitch() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let engine = ctx.engine.clone();
    html! {
        <button class="lang" data-testid="lang" onclick={move |_| engine.send(Cmd::Lang(lang.other()))}>
            { lang.t("EN", "中文") }
        </button>
    }
}
