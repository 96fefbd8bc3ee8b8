//! A department's inbox: the open issues dispatched to it, as the server lists them (its
//! browser holds none by default), fetched again when the figures move.

use shared::summary::Summary;
use yew::prelude::*;

use super::issue_list;
use crate::remote::Fetched;
use crate::web::hooks::{use_ctx, use_server_records};

#[component]
pub(crate) fn Assigned() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let fetched = use_server_records(vec!["/api/assigned".to_owned()], ctx.state.version);
    let body = match fetched {
        Fetched::Loading => html! { <p>{ lang.t("正在读取…", "Loading…") }</p> },
        Fetched::Offline => {
            html! { <p class="muted">{ lang.t("离线：待办列表需要网络", "Offline: the inbox needs the network") }</p> }
        }
        Fetched::Failed(e) => html! { <p class="error" role="alert">{ e }</p> },
        Fetched::Got(all) => {
            let issues: Vec<_> = all
                .into_iter()
                .filter_map(|(id, s)| match s {
                    Summary::Issue(i) => Some((id, i)),
                    _ => None,
                })
                .collect();
            issue_list(&ctx, &issues)
        }
    };
    html! {
        <section data-testid="assigned">
            <h2>{ lang.t("派给本部门的事件", "Issues dispatched to us") }</h2>
            { body }
        </section>
    }
}
