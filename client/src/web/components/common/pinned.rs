//! Pinning a record to this device (DESIGN decision 10: a supervisor's browser keeps a record
//! it does not hold by default while it is open or pinned). The list of pinned records is the
//! overview's (`supervisor/pinned_list.rs`).

use yew::prelude::*;

use super::IdProps;
use crate::web::handle::Cmd;
use crate::web::hooks::use_ctx;

/// The pin toggle of one record.
#[component]
pub(crate) fn PinButton(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let id = props.id;
    let pinned = ctx.state.pinned.contains(&id);
    let engine = ctx.engine.clone();
    html! {
        <button class="link" data-testid="pin" data-pinned={pinned.to_string()}
            onclick={move |_| engine.send(Cmd::Pin(id, !pinned))}>
            { if pinned { lang.t("取消固定", "Unpin") } else { lang.t("固定到本机（离线可看）", "Pin to this device (offline)") } }
        </button>
    }
}
