//! A photo of a record, by its SHA-256: the server serves it to those whose scope holds the
//! record (and to its uploader); the list shows it small.

use yew::prelude::*;

/// Which photo.
#[derive(Properties, PartialEq)]
pub(crate) struct PhotoProps {
    pub(crate) hash: String,
}

#[component]
pub(crate) fn Photo(props: &PhotoProps) -> Html {
    let src = format!("/api/photos/{}", props.hash);
    html! {
        <a href={src.clone()} target="_blank" rel="noopener">
            <img class="thumb" src={src} loading="lazy" alt="照片 photo" data-hash={props.hash.clone()} />
        </a>
    }
}
