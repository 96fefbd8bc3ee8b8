//! The app: opens the local store, then shows sign-in, the worker's screens or the
//! supervisor's, under one reducer.

use yew::prelude::*;

use super::common::{Banners, LangSwitch, ProvisionSignIn, SignIn, SignOut, Status};
use super::field::{HouseholdForm, HouseholdView, Households, MyIssues, VisitForm, VisitView};
use crate::web::engine::boot;
use crate::web::handle::{Cmd, EngineHandle};
use crate::web::hooks::Ctx;
use crate::web::persist_storage;
use crate::web::state::{AdminTab, AppState, Route};

/// Opens the local store; shows the app once the first screen's data is read.
#[component]
pub(crate) fn App() -> Html {
    let booted = use_state(|| None::<(EngineHandle, AppState)>);
    let failed = use_state(|| None::<String>);
    {
        let (booted, failed) = (booted.clone(), failed.clone());
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match boot().await {
                    Ok(b) => {
                        booted.set(Some(b));
                        persist_storage().await;
                    }
                    Err(e) => failed.set(Some(e.to_string())),
                }
            });
        });
    }
    if let Some(msg) = &*failed {
        return html! { <div class="fatal" role="alert">{ msg }</div> };
    }
    match &*booted {
        None => html! { <p class="boot">{ "正在打开本机数据… Opening local data…" }</p> },
        Some((engine, initial)) => {
            html! { <Main engine={engine.clone()} initial={initial.clone()} /> }
        }
    }
}

#[derive(Properties)]
struct MainProps {
    engine: EngineHandle,
    initial: AppState,
}

impl PartialEq for MainProps {
    fn eq(&self, other: &Self) -> bool {
        self.engine == other.engine
    }
}

/// The reducer, the context, the tabs and the screen of the current route.
#[component]
fn Main(props: &MainProps) -> Html {
    let initial = props.initial.clone();
    let state = use_reducer(move || initial);
    {
        let (engine, dispatcher) = (props.engine.clone(), state.dispatcher());
        use_effect_with((), move |_| engine.send(Cmd::Attach(dispatcher)));
    }
    let ctx = Ctx {
        version: state.version,
        state: state.clone(),
        engine: props.engine.clone(),
    };
    let lang = state.lang;
    // A phone opened from a supervisor's QR code signs in with it (another account's waiting
    // changes still block it, as a password sign-in).
    let code = use_memo((), |_| crate::web::provision_code());
    {
        // The organisation's names, fetched once per sign-in (kept for offline use).
        let (state, user) = (
            state.clone(),
            state
                .session
                .as_ref()
                .map(|s| (s.user.clone(), s.token.clone())),
        );
        use_effect_with(user, move |user| {
            if let Some((_, token)) = user.clone() {
                wasm_bindgen_futures::spawn_local(async move {
                    if let Ok((200, v)) =
                        crate::web::http::json("GET", "/api/org", Some(&token), None).await
                        && let Ok(org) = serde_json::from_value::<shared::org::Org>(v)
                    {
                        crate::web::save_org(&org);
                        state.dispatch(crate::web::state::Action::Org(std::rc::Rc::new(org)));
                    }
                });
            }
        });
    }
    if state.session.is_none() {
        return html! {
            <ContextProvider<Ctx> context={ctx}>
                <div class="app" lang={lang.t("zh-CN", "en")}>
                    <header class="bar"><h1>{ lang.t("网格走访", "Grid visits") }</h1><LangSwitch /></header>
                    <main>
                        if let Some(code) = (*code).clone() { <ProvisionSignIn code={code} /> }
                        <SignIn />
                    </main>
                </div>
            </ContextProvider<Ctx>>
        };
    }
    let supervisor = state.supervisor();
    let admin = state.session.as_ref().is_some_and(|s| s.role == "admin");
    let department = state
        .session
        .as_ref()
        .is_some_and(|s| s.role == "department");
    // Supervisors and admins run the desk module, everyone else the field module: a device
    // signed in to a role of the other one reloads into it (sign-in is kept).
    let wants_desk = supervisor || admin;
    if wants_desk != cfg!(feature = "desk") {
        return html! { <SwitchModule desk={wants_desk} /> };
    }
    let route = state.route.clone();
    let screen = super::desk::screen(&route, admin, supervisor).unwrap_or_else(|| match &route {
        Route::Home | Route::Issues | Route::Households if department => {
            html! { <super::common::Assigned /> }
        }
        Route::Visit(id) => html! { <VisitView id={*id} /> },
        Route::Household(id) => html! { <HouseholdView id={*id} /> },
        Route::EditHousehold(id) => html! { <HouseholdForm id={*id} /> },
        Route::RecordVisit(id) => html! { <VisitForm household={*id} /> },
        Route::Issues => html! { <MyIssues /> },
        Route::Issue(id) => html! { <super::common::IssueView id={*id} /> },
        Route::NewIssue => html! { <super::common::NewIssue /> },
        _ => html! { <Households /> },
    });
    let current = match &route {
        Route::Home if admin => Route::Admin(AdminTab::Guide),
        Route::Home | Route::Households if department => Route::Issues,
        Route::Home if supervisor => Route::Area(String::new()),
        Route::Home => Route::Households,
        r => r.clone(),
    };
    let tab = |target: Route, zh: &'static str, en: &'static str| {
        let on = matches!(
            (&current, &target),
            (
                Route::Households
                    | Route::Household(_)
                    | Route::EditHousehold(_)
                    | Route::RecordVisit(_)
                    | Route::Visit(_),
                Route::Households
            ) | (
                Route::Issues | Route::Issue(_) | Route::NewIssue,
                Route::Issues
            ) | (Route::Queue | Route::Issue(_), Route::Queue)
                | (Route::Area(_), Route::Area(_))
                | (Route::Month(_) | Route::Review(_), Route::Month(_))
                | (Route::Team, Route::Team)
                | (Route::Admin(_), Route::Admin(_))
        );
        html! {
            <button class={classes!("tab", on.then_some("on"))} onclick={ctx.go(target)}>
                { lang.t(zh, en) }
            </button>
        }
    };
    html! {
        <ContextProvider<Ctx> context={ctx.clone()}>
            <div class="app" lang={lang.t("zh-CN", "en")}>
                <header class="bar">
                    <h1>{ lang.t("网格走访", "Grid visits") }</h1>
                    <Status />
                    <LangSwitch />
                    <SignOut />
                </header>
                <Banners />
                <nav class="tabs">
                    if admin {
                        { tab(Route::Admin(AdminTab::Guide), "管理", "Admin") }
                    }
                    if supervisor {
                        { tab(Route::Area(String::new()), "总览", "Overview") }
                        { tab(Route::Queue, "事件办理", "Issues") }
                        { tab(Route::Households, "住户", "Households") }
                        { tab(Route::Month(String::new()), "月度", "Month") }
                        { tab(Route::Team, "人员", "Team") }
                    } else if department {
                        { tab(Route::Issues, "待办", "Inbox") }
                    } else {
                        { tab(Route::Households, "住户", "Households") }
                        { tab(Route::Issues, "事件", "Issues") }
                    }
                </nav>
                <main>{ screen }</main>
            </div>
        </ContextProvider<Ctx>>
    }
}

#[derive(Properties, PartialEq)]
struct SwitchProps {
    desk: bool,
}

/// Reloads into the other module; says so when it cannot (the desk module never loaded on
/// this device and there is no network).
#[component]
fn SwitchModule(props: &SwitchProps) -> Html {
    let stuck = use_state(|| false);
    {
        let (stuck, desk) = (stuck.clone(), props.desk);
        use_effect_with((), move |_| {
            if !crate::web::switch_module(desk) {
                stuck.set(true);
            }
        });
    }
    if *stuck {
        html! {
            <div class="fatal" role="alert" data-testid="module-stuck">
                <p>{ "主管界面尚未下载到本机，请联网后重试。" }</p>
                <p>{ "The supervisor's screens are not on this device yet: connect to the network and retry." }</p>
                <button onclick={|_| crate::web::retry_desk()}>{ "重试 · Retry" }</button>
            </div>
        }
    } else {
        html! { <p class="boot" data-testid="module-switch">{ "正在加载… Loading…" }</p> }
    }
}
