//! One issue: its state, timeline, and the actions the user's role may take.

use shared::model::rules::actions;
use shared::model::{EventKind, Record, Role};
use yew::prelude::*;

use super::{IdProps, RecordExtras};
use crate::forms::{IssueAction, issue_event};
use crate::web::components::{date_time, input_value};
use crate::web::hooks::{use_ctx, use_record};
use crate::web::state::Route;
use crate::web::{now, random_bytes};

#[component]
pub(crate) fn IssueView(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let id = props.id;
    let opened = use_record(id);
    let note = use_state(String::new);
    let assignee = use_state(String::new);
    let error = use_state(|| None::<String>);
    let Some(Record::Issue(issue)) = opened.as_ref().map(|o| &o.record) else {
        return html! { <p>{ lang.t("正在打开…", "Opening…") }</p> };
    };
    let now = now();
    let s = &issue.state;
    let role = ctx
        .state
        .session
        .as_ref()
        .and_then(|s| s.role())
        .unwrap_or(Role::Volunteer);
    let act = |kind: EventKind, satisfied: bool| {
        let (ctx, note, error, assignee) =
            (ctx.clone(), note.clone(), error.clone(), assignee.clone());
        let level = s.level;
        let latest = issue.events.iter().map(|e| e.at).max();
        let events = issue.events.clone();
        move |_| {
            let lang = ctx.lang();
            let action = IssueAction {
                kind,
                level,
                latest,
                note: &note,
                assignee: &assignee,
                satisfied,
            };
            let event = match issue_event(
                &action,
                (&ctx.state.user(), role),
                crate::web::now(),
                shared::hex::encode(&random_bytes::<8>()),
            ) {
                // The step deadline in force goes into the event that starts a step.
                Ok(e) => shared::model::lifecycle::stamped(&events, e, &ctx.state.org.limits),
                Err(e) => return error.set(Some(e.text(lang).into())),
            };
            let (ctx, note, error) = (ctx.clone(), note.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ctx
                    .engine
                    .change(id, crate::intent::Intent::Event { event })
                    .await;
                match r {
                    Ok(()) => {
                        note.set(String::new());
                        error.set(None);
                    }
                    Err(msg) => error.set(Some(msg.to_string())),
                }
            });
        }
    };
    let supervisor = ctx.state.supervisor();
    let actions = if role == Role::Department {
        shared::model::rules::department_actions(s.status, s.assignee.as_deref(), &ctx.state.user())
    } else {
        actions(role, &s.standing(), now)
    };
    let can_dispatch = actions.contains(&EventKind::Dispatch);
    html! {
        <section data-testid="issue" data-id={id.to_string()} data-status={s.status.code()} data-level={s.level.code()}>
            <button class="back" onclick={ctx.go(if supervisor { Route::Queue } else { Route::Issues })}>{ lang.t("‹ 返回", "‹ Back") }</button>
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
                <dt>{ lang.t("来源", "Source") }</dt><dd data-testid="source">{ lang.source(issue.source) }</dd>
                if issue.detail.kind == shared::model::issue::IssueKind::Suggestion {
                    <dt>{ lang.t("类型", "Kind") }</dt><dd>{ lang.t("建议", "Suggestion") }</dd>
                }
                if let Some(g) = issue.detail.geo {
                    <dt>{ lang.t("坐标", "Position") }</dt><dd data-testid="geo">{ format!("{:.5}, {:.5}", g.lat, g.lon) }</dd>
                }
                if !issue.detail.contact.is_empty() {
                    <dt>{ lang.t("联系电话", "Phone") }</dt><dd>{ &issue.detail.contact }</dd>
                }
                if s.needs_follow_up {
                    <dt>{ lang.t("回访", "Follow-up") }</dt>
                    <dd data-testid="follow-up">{ match s.satisfied {
                        Some(true) => lang.t("满意", "Satisfied"),
                        Some(false) => lang.t("不满意，重新办理", "Not satisfied: handle again"),
                        None => lang.t("结案前须回访", "Needed before closing"),
                    } }</dd>
                }
                if let Some(n) = s.rating {
                    <dt>{ lang.t("居民评价", "Resident's rating") }</dt><dd data-testid="rating">{ format!("{n} / 5") }</dd>
                }
                if issue.duplicate_of.is_some() {
                    <dt>{ lang.t("重复反映", "Repeat") }</dt><dd data-testid="repeat">{ lang.t("与近期同类反映重复", "Repeats a recent report") }</dd>
                }
            </dl>
            <super::Photos id={id} grid={issue.grid.to_string()} photos={issue.detail.photos.clone()} />
            if let Some(h) = issue.household {
                <button class="link" onclick={ctx.go(Route::Household(h))}>{ lang.t("查看住户", "Open household") }</button>
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
                        if s.forbidden.contains(&ev.id) {
                            <span class="forbidden" data-testid="forbidden">{ lang.t("（此层级无权办理，未生效）", "(not allowed at this level: no effect)") }</span>
                        }
                    </li>
                }) }
            </ol>
            <label>{ lang.t("说明", "Note") }
                <textarea name="note" value={(*note).clone()} oninput={let n = note.clone(); move |e: InputEvent| n.set(input_value(&e))} />
            </label>
            if can_dispatch {
                <super::PersonPicker value={(*assignee).clone()}
                    onpick={let a = assignee.clone(); Callback::from(move |u: String| a.set(u))} />
            }
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <div class="actions">
                { for actions.into_iter().map(|k| if k == EventKind::FollowUp {
                    // A follow-up (回访) records the resident's answer: two buttons.
                    html! { <>
                        <button data-action="followup-yes" onclick={act(k, true)}>{ lang.t("回访：满意", "Follow-up: satisfied") }</button>
                        <button data-action="followup-no" onclick={act(k, false)}>{ lang.t("回访：不满意", "Follow-up: not satisfied") }</button>
                    </> }
                } else {
                    html! { <button data-action={k.code()} onclick={act(k, false)}>{ lang.event(k) }</button> }
                }) }
            </div>
            <RecordExtras id={id} />
        </section>
    }
}
