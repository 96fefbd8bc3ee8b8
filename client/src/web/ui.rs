//! The screens. Chinese first, English on a switch; laid out for a phone first.
//!
//! Every text a worker or resident wrote is rendered as a text node (Yew escapes it), never
//! as HTML. Forms keep their draft in IndexedDB on every keystroke, so leaving a form, a
//! reload or a closed tab loses nothing.

use std::rc::Rc;

use serde::{Deserialize, Serialize};
use shared::ids::DocumentId;
use shared::model::household::edit;
use shared::model::{
    Area, EventKind, IssueDraft, IssueEvent, IssueSource, Level, Outcome, Record, VisitDraft,
    VisitItem,
};
use shared::time::{Calendar, Millis};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::engine::{Engine, Link};
use super::supervisor::{Overview, Queue, RecordExtras};
use super::{locate, persist_storage, random_bytes};
use crate::view::{self, Due, Summary, hex};

/// Where the worker is in the app.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Route {
    /// The overview for a supervisor, the household list for a worker.
    Home,
    Households,
    /// A supervisor's overview of an area (`""`, a street, a community or a grid).
    Area(String),
    Queue,
    Visit(DocumentId),
    Household(DocumentId),
    EditHousehold(DocumentId),
    RecordVisit(DocumentId),
    Issues,
    Issue(DocumentId),
}

/// What every screen gets: the engine, a version that changes whenever it does, and the way
/// to move between screens.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) engine: Rc<Engine>,
    version: u64,
    route: Route,
    pub(crate) nav: Callback<Route>,
}

impl PartialEq for Ctx {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.engine, &other.engine)
            && self.version == other.version
            && self.route == other.route
    }
}

fn value_of<T: JsCast>(e: &Event) -> Option<T> {
    e.target().and_then(|t| t.dyn_into::<T>().ok())
}

fn input_value(e: &InputEvent) -> String {
    value_of::<HtmlInputElement>(e)
        .map(|i| i.value())
        .or_else(|| value_of::<HtmlTextAreaElement>(e).map(|t| t.value()))
        .unwrap_or_default()
}

pub(crate) fn date_time(t: Millis) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t.0 as f64));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// The app: starts the engine, then shows sign-in or the worker's screens.
#[function_component]
pub(crate) fn App() -> Html {
    let engine = use_state(|| None::<Rc<Engine>>);
    let failed = use_state(|| None::<String>);
    let route = use_state(|| Route::Home);
    let update = use_force_update();
    {
        let engine = engine.clone();
        let failed = failed.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match Engine::start().await {
                    Ok(e) => {
                        let u = update.clone();
                        e.set_listener(Rc::new(move || u.force_update()));
                        engine.set(Some(e));
                        persist_storage().await;
                    }
                    Err(msg) => failed.set(Some(msg)),
                }
            });
        });
    }
    if let Some(msg) = &*failed {
        return html! { <div class="fatal" role="alert">{ msg }</div> };
    }
    let Some(engine) = (*engine).clone() else {
        return html! { <p class="boot">{ "正在打开本机数据… Opening local data…" }</p> };
    };
    let nav = {
        let route = route.clone();
        Callback::from(move |r: Route| {
            route.set(r);
            if let Some(w) = web_sys::window() {
                w.scroll_to_with_x_and_y(0.0, 0.0);
            }
        })
    };
    let ctx = Ctx {
        version: engine.version(),
        engine: engine.clone(),
        route: (*route).clone(),
        nav,
    };
    let lang = engine.lang();
    if engine.session().is_none() {
        return html! {
            <ContextProvider<Ctx> context={ctx}>
                <div class="app" lang={lang.t("zh-CN", "en")}>
                    <header class="bar"><h1>{ lang.t("网格走访", "Grid visits") }</h1><LangSwitch /></header>
                    <main><SignIn /></main>
                </div>
            </ContextProvider<Ctx>>
        };
    }
    let supervisor = engine
        .session()
        .is_some_and(|s| view::level_of_role(&s.role).is_some());
    let screen = match &ctx.route {
        Route::Home if supervisor => html! { <Overview path={String::new()} /> },
        Route::Home | Route::Households => html! { <Households /> },
        Route::Area(path) => html! { <Overview path={path.clone()} /> },
        Route::Queue => html! { <Queue /> },
        Route::Visit(id) => html! { <VisitView id={*id} /> },
        Route::Household(id) => html! { <HouseholdView id={*id} /> },
        Route::EditHousehold(id) => html! { <HouseholdForm id={*id} /> },
        Route::RecordVisit(id) => html! { <VisitForm household={*id} /> },
        Route::Issues => html! { <Issues /> },
        Route::Issue(id) => html! { <IssueView id={*id} /> },
    };
    let tab = |target: Route, zh: &'static str, en: &'static str| {
        let nav = ctx.nav.clone();
        let home = if supervisor {
            Route::Area(String::new())
        } else {
            Route::Households
        };
        let current = if ctx.route == Route::Home {
            home
        } else {
            ctx.route.clone()
        };
        let on = matches!(
            (&current, &target),
            (
                Route::Households
                    | Route::Household(_)
                    | Route::EditHousehold(_)
                    | Route::RecordVisit(_)
                    | Route::Visit(_),
                Route::Households
            ) | (Route::Issues | Route::Issue(_), Route::Issues)
                | (Route::Queue | Route::Issue(_), Route::Queue)
                | (Route::Area(_), Route::Area(_))
        );
        let t = target.clone();
        html! {
            <button class={classes!("tab", on.then_some("on"))} onclick={move |_| nav.emit(t.clone())}>
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
                    if supervisor {
                        { tab(Route::Area(String::new()), "总览", "Overview") }
                        { tab(Route::Queue, "事件办理", "Issues") }
                        { tab(Route::Households, "住户", "Households") }
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

#[hook]
pub(crate) fn use_ctx() -> Ctx {
    use_context::<Ctx>().unwrap_or_else(|| unreachable!("every screen is inside the provider"))
}

#[function_component]
fn LangSwitch() -> Html {
    let ctx = use_ctx();
    let lang = ctx.engine.lang();
    let engine = ctx.engine.clone();
    html! {
        <button class="lang" data-testid="lang" onclick={move |_| engine.set_lang(lang.other())}>
            { lang.t("EN", "中文") }
        </button>
    }
}

#[function_component]
fn SignOut() -> Html {
    let ctx = use_ctx();
    let lang = ctx.engine.lang();
    let engine = ctx.engine.clone();
    let onclick = move |_| {
        let pending = engine.pending();
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
        let engine = engine.clone();
        wasm_bindgen_futures::spawn_local(async move { engine.sign_out().await });
    };
    html! { <button class="signout" data-testid="sign-out" {onclick}>{ lang.t("退出", "Sign out") }</button> }
}

/// Online / offline / syncing, the number of changes waiting, and "sync now".
#[function_component]
fn Status() -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let pending = e.pending();
    let (state, label) = match e.link() {
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
    let engine = e.clone();
    html! {
        <div class="status-box">
            <span class={classes!("status", state)} data-testid="sync-status" data-state={state}>{ label }</span>
            <span class="pending" data-testid="pending" data-count={pending.to_string()}>{ waiting }</span>
            <button class="sync-now" data-testid="sync-now" onclick={move |_| engine.sync_now()}>
                { lang.t("立即同步", "Sync now") }
            </button>
        </div>
    }
}

#[function_component]
fn Banners() -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let error = e.error().map(|msg| {
        let engine = e.clone();
        html! {
            <div class="banner error" role="alert" data-testid="error">
                <span>{ msg }</span>
                <button onclick={move |_| engine.clear_error()}>{ lang.t("知道了", "Dismiss") }</button>
            </div>
        }
    });
    let notice = e.notice().map(|msg| {
        let engine = e.clone();
        html! {
            <div class="banner notice" role="status" data-testid="notice">
                <span>{ msg }</span>
                <button onclick={move |_| engine.set_notice(None)}>{ "×" }</button>
            </div>
        }
    });
    let relogin = (e.link() == Link::SignIn).then(|| html! { <SignIn /> });
    html! { <>{ for error }{ for notice }{ for relogin }</> }
}

#[function_component]
fn SignIn() -> Html {
    let ctx = use_ctx();
    let lang = ctx.engine.lang();
    let user = use_state(|| ctx.engine.session().map(|s| s.user).unwrap_or_default());
    let password = use_state(String::new);
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let onsubmit = {
        let (engine, user, password, error, busy) = (
            ctx.engine.clone(),
            user.clone(),
            password.clone(),
            error.clone(),
            busy.clone(),
        );
        move |e: SubmitEvent| {
            e.prevent_default();
            let (engine, u, p, error, busy) = (
                engine.clone(),
                (*user).clone(),
                (*password).clone(),
                error.clone(),
                busy.clone(),
            );
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let r = engine.sign_in(u.trim(), &p).await;
                busy.set(false);
                error.set(r.err());
            });
        }
    };
    html! {
        <form class="card signin" data-testid="signin" {onsubmit}>
            <h2>{ lang.t("登录", "Sign in") }</h2>
            <label>{ lang.t("用户名", "Username") }
                <input name="username" autocomplete="username" value={(*user).clone()}
                    oninput={let s = user.clone(); move |e: InputEvent| s.set(input_value(&e))} />
            </label>
            <label>{ lang.t("密码", "Password") }
                <input name="password" type="password" autocomplete="current-password" value={(*password).clone()}
                    oninput={let s = password.clone(); move |e: InputEvent| s.set(input_value(&e))} />
            </label>
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <button type="submit" class="primary" disabled={*busy}>{ lang.t("登录", "Sign in") }</button>
        </form>
    }
}

#[function_component]
fn Households() -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let query = use_state(String::new);
    // A phone shows a dozen rows: draw 60, and more on request, so the list is up at once.
    let limit = use_state(|| 60usize);
    let rows = view::household_rows(&e.summaries(), None, e.now(), Calendar::CHINA);
    // When the list is first in the page (the cold-start benchmark reads this mark).
    use_effect_with(rows.is_empty(), |empty| {
        if !*empty {
            super::mark("gv-list");
        }
    });
    let due = rows.iter().filter(|r| r.due != Due::Visited).count();
    let q = query.trim().to_owned();
    let shown: Vec<_> = rows
        .iter()
        .filter(|r| q.is_empty() || r.household.label.contains(&q) || r.household.head.contains(&q))
        .collect();
    let more = shown.len().saturating_sub(*limit);
    let shown: Vec<_> = shown.into_iter().take(*limit).collect();
    let grid = e
        .session()
        .map(|s| s.scope.trim_start_matches("grids:").replace(',', " · "))
        .unwrap_or_default();
    html! {
        <section data-testid="households" data-ready={e.ready().to_string()} data-count={rows.len().to_string()}>
            <p class="grid-name">{ grid }</p>
            <p class="summary">
                { format!("{} {due} {} · {} {}", lang.t("本周待走访", "Due this week:"), lang.t("户", ""), lang.t("共", "total"), rows.len()) }
            </p>
            <input class="search" type="search" placeholder={lang.t("搜索地址或户主", "Search address or name")}
                value={(*query).clone()}
                oninput={let s = query.clone(); move |e: InputEvent| s.set(input_value(&e))} />
            <ul class="list">
                { for shown.into_iter().map(|r| {
                    let nav = ctx.nav.clone();
                    let id = r.id;
                    let (class, badge) = match r.due {
                        Due::Due => ("due", lang.t("本周待走访", "Due")),
                        Due::NotHome => ("not-home", lang.t("未遇，需再访", "Not home")),
                        Due::Visited => ("visited", lang.t("本周已走访", "Visited")),
                    };
                    html! {
                        <li data-testid="household-row" data-id={id.to_string()} data-due={class}>
                            <button class="row" onclick={move |_| nav.emit(Route::Household(id))}>
                                <span class="addr">{ &r.household.label }</span>
                                <span class="head">{ &r.household.head }</span>
                                <span class={classes!("badge", class)}>{ badge }</span>
                                if r.open_issues > 0 {
                                    <span class="badge issue">{ format!("{} {}", r.open_issues, lang.t("件事件", "issues")) }</span>
                                }
                                { for r.household.tags.iter().map(|t| html! { <span class="tag">{ lang.tag(t) }</span> }) }
                            </button>
                        </li>
                    }
                }) }
            </ul>
            if more > 0 {
                <button class="more" data-testid="more" onclick={let l = limit.clone(); move |_| l.set(*l + 200)}>
                    { format!("{} ({more})", lang.t("显示更多", "Show more")) }
                </button>
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct IdProps {
    id: DocumentId,
}

#[function_component]
fn HouseholdView(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let id = props.id;
    let record = e.record(&id);
    let summaries = e.summaries();
    let visits = view::visits_of(&summaries, id);
    let issues = view::issues_where(&summaries, e.now(), |i| i.household == Some(id));
    let back = {
        let nav = ctx.nav.clone();
        move |_| nav.emit(Route::Households)
    };
    let details = match (&record, summaries.get(&id)) {
        (Some(Record::Household(h)), _) => html! {
            <dl class="fields">
                <dt>{ lang.t("地址", "Address") }</dt><dd data-testid="address">{ h.address.label() }</dd>
                <dt>{ lang.t("户主", "Head") }</dt><dd data-testid="head">{ &h.head.value }</dd>
                <dt>{ lang.t("人数", "Members") }</dt>
                <dd data-testid="members">{ h.members.value }
                    if h.members.is_conflicted() {
                        <span class="conflict">{ format!(" ⚠ {} {}", lang.t("并发修改：", "concurrent values:"),
                            h.members.conflicts.iter().map(|c| c.value.to_string()).collect::<Vec<_>>().join(" / ")) }</span>
                    }
                </dd>
                <dt>{ lang.t("电话", "Phone") }</dt><dd data-testid="contact">{ h.masked_contact() }</dd>
                <dt>{ lang.t("标签", "Tags") }</dt>
                <dd data-testid="tags">{ for h.tags.iter().map(|t| html! { <span class="tag">{ lang.tag(t) }</span> }) }</dd>
                <dt>{ lang.t("备注", "Notes") }</dt><dd class="notes" data-testid="notes">{ &h.notes }</dd>
            </dl>
        },
        (_, Some(Summary::Household(h))) => html! {
            <dl class="fields">
                <dt>{ lang.t("地址", "Address") }</dt><dd data-testid="address">{ &h.label }</dd>
                <dt>{ lang.t("户主", "Head") }</dt><dd data-testid="head">{ &h.head }</dd>
                <dt>{ lang.t("人数", "Members") }</dt><dd data-testid="members">{ h.members }</dd>
            </dl>
        },
        _ => html! { <p>{ lang.t("找不到该住户", "Household not found") }</p> },
    };
    let nav = ctx.nav.clone();
    let nav2 = ctx.nav.clone();
    html! {
        <section data-testid="household" data-id={id.to_string()}>
            <button class="back" onclick={back}>{ lang.t("‹ 返回", "‹ Back") }</button>
            { details }
            <div class="actions">
                <button class="primary" data-testid="record-visit" onclick={move |_| nav.emit(Route::RecordVisit(id))}>
                    { lang.t("记录走访", "Record a visit") }
                </button>
                <button data-testid="edit-household" onclick={move |_| nav2.emit(Route::EditHousehold(id))}>
                    { lang.t("修改住户信息", "Edit household") }
                </button>
            </div>
            <h3>{ lang.t("走访记录", "Visits") }</h3>
            <ul class="list" data-testid="visits">
                if visits.is_empty() { <li class="empty">{ lang.t("暂无走访", "No visits yet") }</li> }
                { for visits.iter().map(|(vid, v)| {
                    let nav = ctx.nav.clone();
                    let vid = *vid;
                    html! {
                        <li data-testid="visit-row" data-id={vid.to_string()} data-outcome={v.outcome.code()}>
                            <button class="row" onclick={move |_| nav.emit(Route::Visit(vid))}>
                                <span>{ date_time(v.at) }</span>
                                <span class={classes!("badge", v.outcome.code())}>{ lang.outcome(v.outcome) }</span>
                                <span>{ v.visitors.join("、") }</span>
                                if v.items > 0 { <span>{ format!("{} {}", v.items, lang.t("项", "items")) }</span> }
                            </button>
                        </li>
                    }
                }) }
            </ul>
            <h3>{ lang.t("事件", "Issues") }</h3>
            { issue_list(&ctx, &issues) }
            <RecordExtras id={id} />
        </section>
    }
}

pub(crate) fn issue_list(ctx: &Ctx, issues: &[(DocumentId, view::IssueSummary)]) -> Html {
    let lang = ctx.engine.lang();
    let now = ctx.engine.now();
    html! {
        <ul class="list" data-testid="issues">
            if issues.is_empty() { <li class="empty">{ lang.t("暂无事件", "No issues") }</li> }
            { for issues.iter().map(|(id, i)| {
                let nav = ctx.nav.clone();
                let id = *id;
                let overdue = i.status != shared::model::Status::Closed && i.deadline.is_some_and(|d| now > d);
                html! {
                    <li data-testid="issue-row" data-id={id.to_string()} data-status={i.status.code()}>
                        <button class={classes!("row", overdue.then_some("overdue"))} onclick={move |_| nav.emit(Route::Issue(id))}>
                            <span class="badge">{ lang.area(i.area) }</span>
                            <span class="title">{ &i.title }</span>
                            <span class="badge status">{ format!("{} · {}", lang.level(i.level), lang.status(i.status)) }</span>
                            if overdue { <span class="badge overdue">{ lang.t("超时", "Overdue") }</span> }
                            if let Some(d) = i.deadline { <span class="deadline">{ format!("{} {}", lang.t("期限", "due"), date_time(d)) }</span> }
                        </button>
                    </li>
                }
            }) }
        </ul>
    }
}

/// A form's state kept as a draft: loaded once, saved on every change.
#[hook]
fn use_draft<T>(
    key: String,
    initial: impl FnOnce() -> T + 'static,
) -> (UseStateHandle<Option<T>>, Callback<T>)
where
    T: Serialize + for<'de> Deserialize<'de> + Clone + 'static,
{
    let ctx = use_ctx();
    let state = use_state(|| None::<T>);
    {
        let (engine, state, key) = (ctx.engine.clone(), state.clone(), key.clone());
        use_effect_with(key.clone(), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let saved = engine
                    .draft(&key)
                    .await
                    .and_then(|s| serde_json::from_str::<T>(&s).ok());
                state.set(Some(saved.unwrap_or_else(initial)));
            });
        });
    }
    let set = {
        let (engine, state) = (ctx.engine.clone(), state.clone());
        Callback::from(move |value: T| {
            let json = serde_json::to_string(&value).ok();
            state.set(Some(value));
            let (engine, key) = (engine.clone(), key.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(json) = json
                    && let Err(e) = engine.save_draft(&key, Some(&json)).await
                {
                    engine.set_notice(Some(e));
                }
            });
        })
    };
    (state, set)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ItemForm {
    area: String,
    description: String,
    solved: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct VisitFormState {
    started_at: i64,
    outcome: String,
    items: Vec<ItemForm>,
    notes: String,
    locate: bool,
}

#[derive(Properties, PartialEq)]
struct HouseholdProps {
    household: DocumentId,
}

#[function_component]
fn VisitForm(props: &HouseholdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.engine.lang();
    let household = props.household;
    let now = ctx.engine.now().0;
    let (form, set) = use_draft(format!("visit:{household}"), move || VisitFormState {
        started_at: now,
        outcome: String::new(),
        items: Vec::new(),
        notes: String::new(),
        locate: false,
    });
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let Some(f) = (*form).clone() else {
        return html! { <p>{ lang.t("正在打开草稿…", "Opening draft…") }</p> };
    };
    let grid = match ctx.engine.summaries().get(&household) {
        Some(Summary::Household(h)) => h.grid.clone(),
        _ => return html! { <p>{ lang.t("找不到该住户", "Household not found") }</p> },
    };
    let update = |change: Rc<dyn Fn(&mut VisitFormState)>| {
        let (f, set) = (f.clone(), set.clone());
        move || {
            let mut next = f.clone();
            change(&mut next);
            set.emit(next);
        }
    };
    let outcome_buttons = [Outcome::Met, Outcome::NotHome, Outcome::Declined].map(|o| {
        let pick = update(Rc::new(move |s: &mut VisitFormState| {
            s.outcome = o.code().to_owned()
        }));
        html! {
            <label class={classes!("choice", (f.outcome == o.code()).then_some("on"))}>
                <input type="radio" name="outcome" value={o.code()} checked={f.outcome == o.code()}
                    onchange={move |_| pick()} />
                { lang.outcome(o) }
            </label>
        }
    });
    let items = f.items.iter().enumerate().map(|(n, item)| {
        let (fa, sa) = (f.clone(), set.clone());
        let on_area = move |e: Event| {
            let mut next = fa.clone();
            if let Some(s) = value_of::<HtmlSelectElement>(&e) {
                next.items[n].area = s.value();
            }
            sa.emit(next);
        };
        let (fd, sd) = (f.clone(), set.clone());
        let on_desc = move |e: InputEvent| {
            let mut next = fd.clone();
            next.items[n].description = input_value(&e);
            sd.emit(next);
        };
        let toggle = update(Rc::new(move |s: &mut VisitFormState| s.items[n].solved = !s.items[n].solved));
        let remove = update(Rc::new(move |s: &mut VisitFormState| {
            s.items.remove(n);
        }));
        html! {
            <fieldset class="item" data-testid="item">
                <select name="area" onchange={on_area}>
                    { for Area::ALL.iter().map(|a| html! {
                        <option value={a.code()} selected={item.area == a.code()}>{ lang.area(*a) }</option>
                    }) }
                </select>
                <textarea name="description" placeholder={lang.t("发现了什么", "What was found")}
                    value={item.description.clone()} oninput={on_desc} />
                <label class="check">
                    <input type="checkbox" name="solved" checked={item.solved} onchange={move |_| toggle()} />
                    { lang.t("当场解决（不勾选则上报为事件）", "Solved on the spot (otherwise reported as an issue)") }
                </label>
                <button type="button" class="link" onclick={move |_| remove()}>{ lang.t("删除此项", "Remove") }</button>
            </fieldset>
        }
    });
    let add_item = update(Rc::new(|s: &mut VisitFormState| {
        s.items.push(ItemForm {
            area: Area::Needs.code().to_owned(),
            description: String::new(),
            solved: true,
        });
    }));
    let toggle_locate = update(Rc::new(|s: &mut VisitFormState| s.locate = !s.locate));
    let on_notes = {
        let (f, set) = (f.clone(), set.clone());
        move |e: InputEvent| {
            let mut next = f.clone();
            next.notes = input_value(&e);
            set.emit(next);
        }
    };
    let onsubmit = {
        let (ctx, f, error, busy) = (ctx.clone(), f.clone(), error.clone(), busy.clone());
        move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            let (ctx, f, error, busy, grid) = (
                ctx.clone(),
                f.clone(),
                error.clone(),
                busy.clone(),
                grid.clone(),
            );
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let r = save_visit(&ctx.engine, household, &grid, &f).await;
                busy.set(false);
                match r {
                    Ok(()) => {
                        let _ = ctx
                            .engine
                            .save_draft(&format!("visit:{household}"), None)
                            .await;
                        let lang = ctx.engine.lang();
                        ctx.engine.set_notice(Some(
                            lang.t(
                                "走访已保存在本机，联网后自动同步",
                                "Visit saved on this phone; it syncs when online",
                            )
                            .into(),
                        ));
                        ctx.nav.emit(Route::Household(household));
                    }
                    Err(msg) => error.set(Some(msg)),
                }
            });
        }
    };
    let nav = ctx.nav.clone();
    html! {
        <form class="card visit-form" data-testid="visit-form" {onsubmit}>
            <h2>{ lang.t("记录走访", "Record a visit") }</h2>
            <fieldset class="choices"><legend>{ lang.t("走访结果", "Outcome") }</legend>{ for outcome_buttons }</fieldset>
            <h3>{ lang.t("发现事项（按五项重点任务）", "Items found (by the five areas)") }</h3>
            { for items }
            <button type="button" data-testid="add-item" onclick={move |_| add_item()}>{ lang.t("＋ 添加事项", "+ Add item") }</button>
            <label>{ lang.t("备注", "Notes") }
                <textarea name="notes" value={f.notes.clone()} oninput={on_notes} />
            </label>
            <label class="check">
                <input type="checkbox" name="locate" checked={f.locate} onchange={move |_| toggle_locate()} />
                { lang.t("记录位置（需授权）", "Record my location (asks permission)") }
            </label>
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <div class="actions">
                <button type="submit" class="primary" data-testid="save-visit" disabled={*busy}>{ lang.t("保存", "Save") }</button>
                <button type="button" onclick={move |_| nav.emit(Route::Household(household))}>
                    { lang.t("稍后再填（草稿已保存）", "Later (draft kept)") }
                </button>
            </div>
        </form>
    }
}

/// Saves a visit: first an issue for each item not solved on the spot, then the visit that
/// links them. Each is durable on the phone before the next starts.
async fn save_visit(
    engine: &Rc<Engine>,
    household: DocumentId,
    grid: &str,
    f: &VisitFormState,
) -> Result<(), String> {
    let lang = engine.lang();
    let outcome = match f.outcome.as_str() {
        "met" => Outcome::Met,
        "not_home" => Outcome::NotHome,
        "declined" => Outcome::Declined,
        _ => return Err(lang.t("请选择走访结果", "Choose how the visit went").into()),
    };
    if f.items.iter().any(|i| i.description.trim().is_empty()) {
        return Err(lang
            .t("每个事项都需要描述", "Every item needs a description")
            .into());
    }
    let user = engine.session().map(|s| s.user).unwrap_or_default();
    let grid: shared::ids::GridId = grid
        .parse()
        .map_err(|e: shared::ids::IdError| e.to_string())?;
    let now = engine.now();
    // A draft resumed the next day: the visit is now.
    let started = if now.0 - f.started_at > 6 * Millis::HOUR || f.started_at > now.0 {
        now
    } else {
        Millis(f.started_at)
    };
    let location = if f.locate { locate().await.ok() } else { None };
    let mut items = Vec::new();
    for item in &f.items {
        let area: Area = item
            .area
            .parse()
            .map_err(|e: shared::model::SchemaError| e.to_string())?;
        let issue = if item.solved {
            None
        } else {
            let id = DocumentId::from_bytes(random_bytes());
            let draft = IssueDraft {
                grid: grid.clone(),
                source: IssueSource::Visit,
                area,
                description: item.description.trim().to_owned(),
                household: Some(household),
                location: String::new(),
                report: IssueEvent {
                    id: hex(&random_bytes::<8>()),
                    kind: EventKind::Report,
                    at: now,
                    actor: user.clone(),
                    note: String::new(),
                    level: None,
                    assignee: None,
                },
            };
            engine.edit(id, true, move |tx| draft.write(tx)).await?;
            Some(id)
        };
        items.push(VisitItem {
            area,
            description: item.description.trim().to_owned(),
            solved: item.solved,
            issue,
        });
    }
    let draft = VisitDraft {
        grid,
        household,
        visitors: vec![user],
        started_at: started,
        ended_at: Some(now),
        location,
        outcome,
        items,
        notes: f.notes.clone(),
    };
    engine
        .edit(DocumentId::from_bytes(random_bytes()), true, move |tx| {
            draft.write(tx)
        })
        .await
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct HouseholdFormState {
    head: String,
    contact: String,
    members: String,
    tags: Vec<String>,
    notes: String,
}

const TAGS: [&str; 6] = [
    "elderly-alone",
    "disabled",
    "low-income",
    "party-member",
    "veteran",
    "rental",
];

#[function_component]
fn HouseholdForm(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.engine.lang();
    let id = props.id;
    let current = match ctx.engine.record(&id) {
        Some(Record::Household(h)) => Some(h),
        _ => None,
    };
    let start = current.clone().map(|h| HouseholdFormState {
        head: h.head.value.clone(),
        contact: h.contact.value.clone(),
        members: h.members.value.to_string(),
        tags: h.tags.clone(),
        notes: h.notes,
    });
    let (form, set) = use_draft(format!("household:{id}"), move || {
        start.unwrap_or(HouseholdFormState {
            head: String::new(),
            contact: String::new(),
            members: String::new(),
            tags: Vec::new(),
            notes: String::new(),
        })
    });
    let error = use_state(|| None::<String>);
    let (Some(f), Some(current)) = ((*form).clone(), current) else {
        return html! { <p>{ lang.t("正在打开…", "Opening…") }</p> };
    };
    let field = |pick: fn(&mut HouseholdFormState) -> &mut String| {
        let (f, set) = (f.clone(), set.clone());
        move |e: InputEvent| {
            let mut next = f.clone();
            *pick(&mut next) = input_value(&e);
            set.emit(next);
        }
    };
    let tag_boxes = TAGS.iter().map(|t| {
        let (f, set) = (f.clone(), set.clone());
        let on = f.tags.iter().any(|x| x == t);
        let toggle = move |_| {
            let mut next = f.clone();
            if on {
                next.tags.retain(|x| x != t);
            } else {
                next.tags.push((*t).to_owned());
            }
            set.emit(next);
        };
        html! {
            <label class="check"><input type="checkbox" name={*t} checked={on} onchange={toggle} />{ lang.tag(t) }</label>
        }
    });
    let label = current.address.label();
    let onsubmit = {
        let (ctx, f, error) = (ctx.clone(), f.clone(), error.clone());
        move |e: SubmitEvent| {
            e.prevent_default();
            let members: i64 = match f.members.trim().parse() {
                Ok(m) => m,
                Err(_) => {
                    error.set(Some(
                        lang.t("人数须为整数", "Members must be a whole number")
                            .into(),
                    ));
                    return;
                }
            };
            // Only what changed is written, so others' concurrent edits of other fields merge.
            let (old, new) = (current.clone(), f.clone());
            let write = move |tx: &mut automerge::transaction::Transaction<'_>| {
                if new.head != old.head.value {
                    edit::set_head(tx, &new.head)?;
                }
                if new.contact != old.contact.value {
                    edit::set_contact(tx, &new.contact)?;
                }
                if members != old.members.value || old.members.is_conflicted() {
                    edit::set_members(tx, members)?;
                }
                for t in TAGS {
                    let (was, is) = (
                        old.tags.iter().any(|x| x == t),
                        new.tags.iter().any(|x| x == t),
                    );
                    if was != is {
                        edit::set_tag(tx, t, is)?;
                    }
                }
                if new.notes != old.notes {
                    edit::set_notes(tx, &new.notes)?;
                }
                Ok(())
            };
            let (ctx, error) = (ctx.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ctx.engine.edit(id, false, write).await {
                    Ok(()) => {
                        let _ = ctx
                            .engine
                            .save_draft(&format!("household:{id}"), None)
                            .await;
                        ctx.nav.emit(Route::Household(id));
                    }
                    Err(msg) => error.set(Some(msg)),
                }
            });
        }
    };
    let nav = ctx.nav.clone();
    html! {
        <form class="card" data-testid="household-form" {onsubmit}>
            <h2>{ format!("{} {label}", lang.t("修改住户", "Edit household")) }</h2>
            <label>{ lang.t("户主", "Head") }<input name="head" value={f.head.clone()} oninput={field(|s| &mut s.head)} /></label>
            <label>{ lang.t("电话", "Phone") }<input name="contact" type="tel" value={f.contact.clone()} oninput={field(|s| &mut s.contact)} /></label>
            <label>{ lang.t("人数", "Members") }<input name="members" inputmode="numeric" value={f.members.clone()} oninput={field(|s| &mut s.members)} /></label>
            <fieldset class="choices"><legend>{ lang.t("标签", "Tags") }</legend>{ for tag_boxes }</fieldset>
            <label>{ lang.t("备注", "Notes") }<textarea name="notes" value={f.notes.clone()} oninput={field(|s| &mut s.notes)} /></label>
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <div class="actions">
                <button type="submit" class="primary" data-testid="save-household">{ lang.t("保存", "Save") }</button>
                <button type="button" onclick={move |_| nav.emit(Route::Household(id))}>{ lang.t("返回（草稿已保存）", "Back (draft kept)") }</button>
            </div>
        </form>
    }
}

#[function_component]
fn Issues() -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let user = e.session().map(|s| s.user).unwrap_or_default();
    let issues = view::my_issues(&e.summaries(), &user, e.now());
    html! {
        <section data-testid="my-issues">
            <h2>{ lang.t("我的事件", "My issues") }</h2>
            { issue_list(&ctx, &issues) }
        </section>
    }
}

#[function_component]
fn IssueView(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let id = props.id;
    let note = use_state(String::new);
    let assignee = use_state(String::new);
    let error = use_state(|| None::<String>);
    let Some(Record::Issue(issue)) = e.record(&id) else {
        return html! { <p>{ lang.t("正在打开…", "Opening…") }</p> };
    };
    let now = e.now();
    let s = &issue.state;
    let act = |kind: EventKind| {
        let (ctx, note, error, assignee) =
            (ctx.clone(), note.clone(), error.clone(), assignee.clone());
        let level = issue.state.level;
        move |_| {
            let lang = ctx.engine.lang();
            let who = (*assignee).trim().to_owned();
            if kind == EventKind::Dispatch && who.is_empty() {
                error.set(Some(
                    lang.t("请填写派遣给谁", "Say whom to dispatch to").into(),
                ));
                return;
            }
            let user = ctx.engine.session().map(|s| s.user).unwrap_or_default();
            let event = IssueEvent {
                id: hex(&random_bytes::<8>()),
                kind,
                at: ctx.engine.now(),
                actor: user,
                note: (*note).trim().to_owned(),
                level: (kind == EventKind::Escalate).then_some(match level {
                    Level::Grid => Level::Community,
                    Level::Community => Level::Street,
                    _ => Level::City,
                }),
                assignee: (kind == EventKind::Dispatch).then_some(who),
            };
            let (ctx, note, error) = (ctx.clone(), note.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ctx
                    .engine
                    .edit(id, false, move |tx| {
                        shared::model::issue::append_event(tx, &event)
                    })
                    .await;
                match r {
                    Ok(()) => {
                        note.set(String::new());
                        error.set(None);
                    }
                    Err(msg) => error.set(Some(msg)),
                }
            });
        }
    };
    let supervisor = e
        .session()
        .is_some_and(|s| view::level_of_role(&s.role).is_some());
    let actions = if supervisor {
        view::supervisor_actions(s.status)
    } else {
        view::worker_actions(s.status, s.level)
    };
    let can_dispatch = actions.contains(&EventKind::Dispatch);
    let nav = ctx.nav.clone();
    let household = issue.household;
    html! {
        <section data-testid="issue" data-id={id.to_string()} data-status={s.status.code()} data-level={s.level.code()}>
            <button class="back" onclick={let nav = ctx.nav.clone(); move |_| nav.emit(if supervisor { Route::Queue } else { Route::Issues })}>{ lang.t("‹ 返回", "‹ Back") }</button>
            <h2>{ format!("{} · {}", lang.area(issue.area), lang.status(s.status)) }</h2>
            <p class="description" data-testid="description">{ &issue.description }</p>
            <dl class="fields">
                <dt>{ lang.t("层级", "Level") }</dt><dd>{ lang.level(s.level) }</dd>
                <dt>{ lang.t("处理人", "Assignee") }</dt><dd>{ s.assignee.clone().unwrap_or_else(|| "—".into()) }</dd>
                if let Some(d) = s.deadline {
                    <dt>{ lang.t("本步期限", "Step due") }</dt>
                    <dd class={classes!(s.overdue(now).then_some("overdue"))}>
                        { date_time(d) } if s.overdue(now) { { format!(" ({})", lang.t("超时", "overdue")) } }
                    </dd>
                }
                if !issue.location.is_empty() { <dt>{ lang.t("位置", "Place") }</dt><dd>{ &issue.location }</dd> }
            </dl>
            if let Some(h) = household {
                <button class="link" onclick={move |_| nav.emit(Route::Household(h))}>{ lang.t("查看住户", "Open household") }</button>
            }
            <h3>{ lang.t("办理记录", "Timeline") }</h3>
            <ol class="timeline" data-testid="timeline">
                { for issue.events.iter().map(|ev| html! {
                    <li data-kind={ev.kind.code()} class={classes!(s.ignored.contains(&ev.id).then_some("ignored"))}>
                        <span>{ date_time(ev.at) }</span>
                        <b>{ lang.event(ev.kind) }</b>
                        if let Some(l) = ev.level { <span>{ format!("→ {}", lang.level(l)) }</span> }
                        <span>{ &ev.actor }</span>
                        if !ev.note.is_empty() { <span class="note">{ &ev.note }</span> }
                    </li>
                }) }
            </ol>
            <label>{ lang.t("说明", "Note") }
                <textarea name="note" value={(*note).clone()} oninput={let n = note.clone(); move |e: InputEvent| n.set(input_value(&e))} />
            </label>
            if can_dispatch {
                <label>{ lang.t("派遣给（用户名）", "Dispatch to (username)") }
                    <input name="assignee" value={(*assignee).clone()} oninput={let a = assignee.clone(); move |e: InputEvent| a.set(input_value(&e))} />
                </label>
            }
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <div class="actions">
                { for actions.into_iter().map(|k| html! {
                    <button data-action={k.code()} onclick={act(k)}>{ lang.event(k) }</button>
                }) }
            </div>
            <RecordExtras id={id} />
        </section>
    }
}

#[function_component]
fn VisitView(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let e = &ctx.engine;
    let lang = e.lang();
    let id = props.id;
    let Some(Record::Visit(v)) = e.record(&id) else {
        return html! { <p>{ lang.t("正在打开…", "Opening…") }</p> };
    };
    let nav = ctx.nav.clone();
    let household = v.household;
    html! {
        <section data-testid="visit" data-id={id.to_string()}>
            <button class="back" onclick={move |_| nav.emit(Route::Household(household))}>{ lang.t("‹ 返回住户", "‹ Household") }</button>
            <h2>{ format!("{} · {}", lang.t("走访", "Visit"), lang.outcome(v.outcome.value)) }</h2>
            <dl class="fields">
                <dt>{ lang.t("时间", "Time") }</dt><dd>{ date_time(v.started_at) }</dd>
                <dt>{ lang.t("走访人", "Visitors") }</dt><dd>{ v.visitors.join("、") }</dd>
                if let Some(l) = v.location {
                    <dt>{ lang.t("位置", "Location") }</dt><dd>{ format!("{:.5}, {:.5} (±{:.0} m)", l.lat, l.lon, l.accuracy) }</dd>
                }
                <dt>{ lang.t("备注", "Notes") }</dt><dd class="notes" data-testid="visit-notes">{ &v.notes }</dd>
            </dl>
            <h3>{ lang.t("事项", "Items") }</h3>
            <ul class="list">
                { for v.items.iter().map(|item| {
                    let nav = ctx.nav.clone();
                    html! {
                        <li>
                            <span class="badge">{ lang.area(item.area) }</span>
                            <span class="title">{ &item.description }</span>
                            if item.solved { <span class="badge visited">{ lang.t("当场解决", "Solved") }</span> }
                            if let Some(issue) = item.issue {
                                <button class="link" onclick={move |_| nav.emit(Route::Issue(issue))}>{ lang.t("查看事件", "Open issue") }</button>
                            }
                        </li>
                    }
                }) }
            </ul>
            <RecordExtras id={id} />
        </section>
    }
}
