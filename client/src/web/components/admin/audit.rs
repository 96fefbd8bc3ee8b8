//! The audit log: every admin action with who and when, newest first.

use serde_json::Value;
use yew::prelude::*;

use crate::web::components::date_time;
use crate::web::hooks::use_ctx;
use crate::web::http;

#[component]
pub(super) fn AuditLog() -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let items = use_state(Vec::<Value>::new);
    {
        let (items, token) = (
            items.clone(),
            ctx.state.session.as_ref().map(|s| s.token.clone()),
        );
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok((200, v)) =
                    http::json("GET", "/api/admin/audit?limit=200", token.as_deref(), None).await
                {
                    items.set(v["items"].as_array().cloned().unwrap_or_default());
                }
            });
        });
    }
    html! {
        <div class="card" data-testid="audit">
            <h2>{ lang.t("操作日志", "Audit log") }</h2>
            <table class="table" data-testid="audit-list" data-count={items.len().to_string()}>
                <thead><tr>
                    <th>{ lang.t("时间", "When") }</th><th>{ lang.t("操作人", "Who") }</th>
                    <th>{ lang.t("操作", "Action") }</th><th>{ lang.t("对象", "Target") }</th><th>{ lang.t("内容", "Detail") }</th>
                </tr></thead>
                <tbody>
                    { for items.iter().map(|e| html! {
                        <tr data-action={e["action"].as_str().unwrap_or_default().to_owned()}>
                            <td>{ date_time(shared::time::Millis(e["at"].as_i64().unwrap_or(0))) }</td>
                            <td>{ e["by"].as_str().unwrap_or_default().to_owned() }</td>
                            <td>{ crate::view::audit_action(lang, e["action"].as_str().unwrap_or_default()) }</td>
                            <td>{ e["target"].as_str().unwrap_or_default().to_owned() }</td>
                            <td>{ e["detail"].as_str().unwrap_or_default().to_owned() }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        </div>
    }
}
