//! The error and notice banners, and sign-in again when the login expired.

use yew::prelude::*;

use super::SignIn;
use crate::link::Link;
use crate::web::handle::Cmd;
use crate::web::hooks::use_ctx;

#[component]
pub(crate) fn Banners() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let error = ctx.state.error.clone().map(|msg| {
        let engine = ctx.engine.clone();
        html! {
            <div class="banner error" role="alert" data-testid="error">
                <span>{ msg }</span>
                <button onclick={move |_| engine.send(Cmd::Error(None))}>{ lang.t("知道了", "Dismiss") }</button>
            </div>
        }
    });
    let notice = ctx.state.notice.clone().map(|msg| {
        let engine = ctx.engine.clone();
        html! {
            <div class="banner notice" role="status" data-testid="notice">
                <span>{ msg }</span>
                <button onclick={move |_| engine.send(Cmd::Notice(None))}>{ "×" }</button>
            </div>
        }
    });
    let relogin = (ctx.state.link == Link::SignIn).then(|| html! { <SignIn /> });
    html! { <>{ for error }{ for notice }{ for relogin }</> }
}
