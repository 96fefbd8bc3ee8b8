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
    let progress = ctx.state.progress.map(|(received, total)| {
        let text = match lang {
            crate::i18n::Lang::Zh => format!("首次同步：已收到 {received} / 共 {total} 条记录"),
            crate::i18n::Lang::En => format!("First sync: {received} of {total} records received"),
        };
        html! {
            <span class="first-sync" data-testid="first-sync" role="status"
                data-received={received.to_string()} data-total={total.to_string()}>
                <progress max={total.to_string()} value={received.to_string()}></progress>
                { text }
            </span>
        }
    });
    html! {
        <div class="status-box">
            <span class={classes!("status", state)} data-testid="sync-status" data-state={state}>{ label }</span>
            { for progress }
            <span class="pending" data-testid="pending" data-count={pending.to_string()}>{ waiting }</span>
            <button class="sync-now" data-testid="sync-now" onclick={move |_| engine.send(Cmd::SyncNow)}>
                { lang.t("立即同步", "Sync now") }
            </button>
        </div>
    }
}
