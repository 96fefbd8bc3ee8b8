//! Online / offline / syncing, the number of changes waiting, and "sync now".

use yew::prelude::*;

use crate::link::Link;
use crate::web::handle::Cmd;
use crate::web::hooks::use_ctx;

#[component]
pub(crate) fn Status() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let pending = ctx.state.pending;
    let (state, label) = match ctx.state.link {
        Link::Online => ("online", lang.t("在线", "Online")),
        Link::Offline => ("offline", lang.t("离线", "Offline")),
        Link::Syncing => ("syncing", lang.t("同步中", "Syncing")),
        Link::SignIn => ("signin", lang.t("需重新登录", "Sign in")),
    };
    let waiting = if pending == 0 {
        lang.t("已全部同步", "all synced").to_owned()
    } else {
        format!("{pending} {}", lang.t("条待同步", "waiting"))
    };
    let engine = ctx.engine.clone();
    html! {
        <div class="status-box">
            <span class={classes!("status", state)} data-testid="sync-status" data-state={state}>{ label }</span>
            <span class="pending" data-testid="pending" data-count={pending.to_string()}>{ waiting }</span>
            <button class="sync-now" data-testid="sync-now" onclick={move |_| engine.send(Cmd::SyncNow)}>
                { lang.t("立即同步", "Sync now") }
            </button>
        </div>
    }
}
