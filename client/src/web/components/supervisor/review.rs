//! The monthly review (民情研判): the form that records one for a community's grids, kept as
//! a draft while it is filled in, and the view of one review.

use shared::ids::DocumentId;
use shared::model::Record;
use yew::prelude::*;

use crate::review_form::ReviewFormState;
use crate::web::components::common::{IdProps, RecordExtras};
use crate::web::components::{date_time, input_value};
use crate::web::hooks::{use_ctx, use_draft, use_record};
use crate::web::state::Route;
use crate::web::{now, random_bytes};

#[derive(Properties, PartialEq)]
pub(crate) struct ReviewFormProps {
    /// The area the month view shows (a community or a grid).
    pub(crate) area: String,
    /// The grids the review may cover.
    pub(crate) grids: Vec<String>,
    /// Told once the review is saved here.
    pub(crate) on_saved: Callback<DocumentId>,
}

/// Records a review of some or all of the area's grids.
#[component]
pub(crate) fn ReviewForm(props: &ReviewFormProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let key = format!("review:{}", props.area);
    let offered = props.grids.clone();
    let (form, set) = use_draft(key.clone(), move || ReviewFormState::new(now(), offered));
    let error = use_state(|| None::<String>);
    let Some(f) = (*form).clone() else {
        return html! { <p>{ lang.t("正在打开…", "Opening…") }</p> };
    };
    let field = |pick: fn(&mut ReviewFormState) -> &mut String| {
        let (f, set) = (f.clone(), set.clone());
        move |e: InputEvent| {
            let mut next = f.clone();
            *pick(&mut next) = input_value(&e);
            set.emit(next);
        }
    };
    let boxes = props.grids.iter().map(|g| {
        let (f, set, g) = (f.clone(), set.clone(), g.clone());
        let on = f.grids.contains(&g);
        let label = g.clone();
        let toggle = move |_| {
            let mut next = f.clone();
            if on {
                next.grids.retain(|x| *x != g);
            } else {
                next.grids.push(g.clone());
            }
            set.emit(next);
        };
        html! {
            <label class="check"><input type="checkbox" name="grid" value={label.clone()} checked={on} onchange={toggle} />{ label }</label>
        }
    });
    let onsubmit = {
        let (ctx, f, error, on_saved) = (
            ctx.clone(),
            f.clone(),
            error.clone(),
            props.on_saved.clone(),
        );
        move |e: SubmitEvent| {
            e.prevent_default();
            let draft = match f.draft(now()) {
                Ok(d) => d,
                Err(e) => return error.set(Some(e.text(lang).into())),
            };
            let (ctx, error, on_saved, key) =
                (ctx.clone(), error.clone(), on_saved.clone(), key.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let id = DocumentId::from_bytes(random_bytes());
                match ctx.engine.create(id, move |tx| draft.write(tx)).await {
                    Ok(()) => {
                        let _ = ctx.engine.save_draft(&key, None).await;
                        on_saved.emit(id);
                    }
                    Err(msg) => error.set(Some(msg.to_string())),
                }
            });
        }
    };
    html! {
        <form class="card" data-testid="review-form" {onsubmit}>
            <h3>{ lang.t("记录民情研判", "Record a monthly review") }</h3>
            <label>{ lang.t("研判日期", "Held on") }<input name="date" type="date" value={f.date.clone()} oninput={field(|s| &mut s.date)} /></label>
            <fieldset class="choices"><legend>{ lang.t("研判网格", "Grids covered") }</legend>{ for boxes }</fieldset>
            <label>{ lang.t("参加人员（用、分隔）", "Attendees (separated by commas)") }<input name="attendees" value={f.attendees.clone()} oninput={field(|s| &mut s.attendees)} /></label>
            <label>{ lang.t("研判事项（每行一项）", "Matters discussed (one per line)") }<textarea name="topics" value={f.topics.clone()} oninput={field(|s| &mut s.topics)} /></label>
            <label>{ lang.t("研判结论与责任人", "Conclusions and who follows up") }<textarea name="conclusions" value={f.conclusions.clone()} oninput={field(|s| &mut s.conclusions)} /></label>
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
            <div class="actions">
                <button type="submit" class="primary" data-testid="save-review">{ lang.t("保存研判", "Save review") }</button>
            </div>
        </form>
    }
}

/// One review, fetched on demand and kept while open.
#[component]
pub(crate) fn ReviewView(props: &IdProps) -> Html {
    let ctx = use_ctx();
    let lang = ctx.lang();
    let id = props.id;
    let opened = use_record(id);
    let Some(Record::Review(r)) = opened.as_ref().map(|o| &o.record) else {
        return html! { <p>{ lang.t("正在打开…", "Opening…") }</p> };
    };
    let grids: Vec<String> = r.grids.iter().map(ToString::to_string).collect();
    html! {
        <section data-testid="review" data-id={id.to_string()}>
            <button class="back" onclick={ctx.go(Route::Month(r.grid.community().to_owned()))}>{ lang.t("‹ 返回月度", "‹ Month") }</button>
            <h2>{ lang.t("民情研判", "Monthly review") }</h2>
            <dl class="fields">
                <dt>{ lang.t("时间", "Held") }</dt><dd data-testid="review-held">{ date_time(r.held_at) }</dd>
                <dt>{ lang.t("网格", "Grids") }</dt><dd data-testid="review-grids">{ grids.join("、") }</dd>
                <dt>{ lang.t("参加人员", "Attendees") }</dt><dd data-testid="review-attendees">{ r.attendees.join("、") }</dd>
                <dt>{ lang.t("结论", "Conclusions") }</dt><dd class="notes" data-testid="review-conclusions">{ &r.conclusions }</dd>
            </dl>
            <h3>{ lang.t("研判事项", "Matters discussed") }</h3>
            <ul class="list" data-testid="review-topics">
                { for r.topics.iter().map(|t| html! { <li><span class="title">{ t.clone() }</span></li> }) }
                { for r.issues.iter().map(|i| html! {
                    <li><button class="link" onclick={ctx.go(Route::Issue(*i))}>{ lang.t("查看事件", "Open issue") }</button></li>
                }) }
            </ul>
            <RecordExtras id={id} />
        </section>
    }
}
