//! The admin's screens: the setup guide of an empty city, the organisation, people, the
//! household import, the step deadlines and the audit log. Only an admin's app shows them; the server checks
//! every request again.

mod audit;
mod guide;
mod import;
mod limits;
mod org;
mod people;

use yew::prelude::*;

use crate::web::hooks::use_ctx;
use crate::web::state::{AdminTab, Route};

#[derive(Properties, PartialEq)]
pub(crate) struct AdminProps {
    pub(crate) tab: AdminTab,
}

/// The admin's screen: a tab bar of its parts and the open part.
#[component]
pub(crate) fn AdminScreen(props: &AdminProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let tab = |t: AdminTab, zh: &'static str, en: &'static str| {
        html! {
            <button class={classes!("tab", (props.tab == t).then_some("on"))}
                data-testid={format!("admin-{}", t.code())} onclick={ctx.go(Route::Admin(t))}>
                { lang.t(zh, en) }
            </button>
        }
    };
    let body = match props.tab {
        AdminTab::Guide => html! { <guide::Guide /> },
        AdminTab::Org => html! { <org::OrgScreen /> },
        AdminTab::People => html! { <people::PeopleScreen /> },
        AdminTab::Import => html! { <import::ImportScreen /> },
        AdminTab::Audit => html! { <audit::AuditLog /> },
        AdminTab::Limits => html! { <limits::LimitsScreen /> },
    };
    html! {
        <section class="admin" data-testid="admin">
            <nav class="tabs sub">
                { tab(AdminTab::Guide, "设置引导", "Setup") }
                { tab(AdminTab::Org, "组织架构", "Organisation") }
                { tab(AdminTab::People, "人员", "People") }
                { tab(AdminTab::Import, "导入住户", "Import households") }
                { tab(AdminTab::Limits, "办理时限", "Step deadlines") }
                { tab(AdminTab::Audit, "操作日志", "Audit log") }
            </nav>
            { body }
        </section>
    }
}
