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
