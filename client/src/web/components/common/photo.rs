//! A photo of a record, by its SHA-256: from this phone while it waits to be uploaded, else
//! from the server (which serves it to those whose scope holds the record, and to its
//! uploader). Lists show it small.

use yew::prelude::*;

/// Which photo.
#[derive(Properties, PartialEq)]
pub(crate) struct PhotoProps {
    pub(crate) hash: String,
}

#[component]
pub(crate) fn Photo(props: &PhotoProps) -> Html {
    let remote = format!("/api/photos/{}", props.hash);
    let src = use_state(|| None::<String>);
    {
        let src = src.clone();
        use_effect_with(props.hash.clone(), move |hash| {
            let hash = hash.clone();
            wasm_bindgen_futures::spawn_local(async move {
                src.set(crate::web::photos::local(&hash).await);
            });
        });
    }
    let shown = (*src).clone().unwrap_or_else(|| remote.clone());
    html! {
        <a href={remote} target="_blank" rel="noopener">
            <img class="thumb" src={shown} loading="lazy" alt="照片 photo" data-hash={props.hash.clone()}
                data-local={src.is_some().to_string()} />
        </a>
    }
}

/// Photos of one record, and a button that adds more (taken or picked, kept on the phone
/// until the server holds them).
#[derive(Properties, PartialEq)]
pub(crate) struct PhotosProps {
    /// The record.
    pub(crate) id: shared::ids::DocumentId,
    /// Its grid (the photos' quota is counted in it).
    pub(crate) grid: String,
    /// The photos it refers to now.
    pub(crate) photos: Vec<String>,
}

#[component]
pub(crate) fn Photos(props: &PhotosProps) -> Html {
    let ctx = crate::web::hooks::use_ctx();
    let lang = ctx.lang();
    let error = use_state(|| None::<String>);
    let add = {
        let (ctx, error, grid, id) = (ctx.clone(), error.clone(), props.grid.clone(), props.id);
        move |e: Event| {
            let Some(input) = crate::web::components::value_of::<web_sys::HtmlInputElement>(&e)
            else {
                return;
            };
            let (ctx, error, grid) = (ctx.clone(), error.clone(), grid.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let photos = match crate::web::photos::take(&input, &grid).await {
                    Ok(p) if p.is_empty() => return,
                    Ok(p) => p,
                    Err(msg) => return error.set(Some(msg)),
                };
                let intent = crate::intent::Intent::Photos { photos };
                match ctx.engine.change(id, intent).await {
                    Ok(()) => error.set(None),
                    Err(msg) => error.set(Some(msg.to_string())),
                }
            });
        }
    };
    html! {
        <div class="photos">
            if !props.photos.is_empty() {
                <div class="thumbs" data-testid="photos">
                    { for props.photos.iter().map(|h| html! { <Photo hash={h.clone()} /> }) }
                </div>
            }
            <label class="photo-pick">{ lang.t("添加照片", "Add photos") }
                <input type="file" name="photo" accept="image/*" multiple=true onchange={add} />
            </label>
            if let Some(msg) = &*error { <p class="error" role="alert">{ msg }</p> }
        </div>
    }
}
