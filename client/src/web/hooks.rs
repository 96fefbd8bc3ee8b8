//! What every screen uses: the context (state and engine), open records, and form drafts.

use std::rc::Rc;

use serde::{Deserialize, Serialize};
use shared::ids::DocumentId;
use yew::prelude::*;

use super::handle::{Cmd, EngineHandle};
use super::state::{Action, AppState, Opened, Route};
use crate::i18n::Lang;

/// The state the screens show and the engine they talk to.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) state: UseReducerHandle<AppState>,
    pub(crate) engine: EngineHandle,
    /// The state's version when this context was made (the handle itself always reads the
    /// newest state, so it cannot tell two renders apart).
    pub(crate) version: u64,
}

impl PartialEq for Ctx {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.engine == other.engine
    }
}

impl Ctx {
    pub(crate) fn lang(&self) -> Lang {
        self.state.lang
    }

    /// Goes to a screen, at its top.
    pub(crate) fn nav(&self, route: Route) {
        self.state.dispatch(Action::Navigate(route));
        if let Some(w) = web_sys::window() {
            w.scroll_to_with_x_and_y(0.0, 0.0);
        }
    }

    /// A click handler that goes to a screen.
    pub(crate) fn go(&self, route: Route) -> Callback<MouseEvent> {
        let ctx = self.clone();
        Callback::from(move |_| ctx.nav(route.clone()))
    }

    /// Shows a notice in the banner.
    pub(crate) fn notice(&self, text: Option<String>) {
        self.engine.send(Cmd::Notice(text));
    }
}

#[hook]
pub(crate) fn use_ctx() -> Ctx {
    use_context::<Ctx>().unwrap_or_else(|| unreachable!("every screen is inside the provider"))
}

/// A record this screen shows: the engine keeps it read while the screen is mounted.
#[hook]
pub(crate) fn use_record(id: DocumentId) -> Option<Rc<Opened>> {
    let ctx = use_ctx();
    {
        let engine = ctx.engine.clone();
        use_effect_with(id, move |id| {
            let id = *id;
            engine.send(Cmd::Watch(id, true));
            move || engine.send(Cmd::Watch(id, false))
        });
    }
    ctx.state.record(&id)
}

/// A form's state kept as a draft: loaded once, saved on every change.
#[hook]
pub(crate) fn use_draft<T>(
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
        let (ctx, state) = (ctx.clone(), state.clone());
        Callback::from(move |value: T| {
            let json = serde_json::to_string(&value).ok();
            state.set(Some(value));
            let (ctx, key) = (ctx.clone(), key.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(json) = json
                    && let Err(e) = ctx.engine.save_draft(&key, Some(&json)).await
                {
                    ctx.notice(Some(e.to_string()));
                }
            });
        })
    };
    (state, set)
}

/// Records the server lists (`queries`: paths from [`crate::remote::query`]), merged: fetched
/// when the queries change, and again when `refresh` does. Offline says so.
#[hook]
pub(crate) fn use_server_records(queries: Vec<String>, refresh: u64) -> crate::remote::Fetched {
    use crate::remote::{Fetched, add_page};
    let ctx = use_ctx();
    let fetched = use_state(|| Fetched::Loading);
    // Only the newest request's answer is shown (typing a search sends one per key).
    let generation = use_mut_ref(|| 0u64);
    {
        let fetched = fetched.clone();
        let token = ctx.state.session.as_ref().map(|s| s.token.clone());
        use_effect_with((queries, refresh), move |(queries, _)| {
            let queries = queries.clone();
            *generation.borrow_mut() += 1;
            let mine = *generation.borrow();
            let fetched = {
                let generation = generation.clone();
                Callback::from(move |f: Fetched| {
                    if *generation.borrow() == mine {
                        fetched.set(f);
                    }
                })
            };
            wasm_bindgen_futures::spawn_local(async move {
                let mut all = std::collections::BTreeMap::new();
                // Asked all at once: a grid's drill-down is three lists.
                let answers = futures::future::join_all(
                    queries
                        .iter()
                        .map(|q| super::http::request("GET", q, token.as_deref(), None)),
                )
                .await;
                for answer in answers {
                    match answer {
                        Ok((200, body)) => {
                            if let Err(e) = add_page(&body, &mut all) {
                                return fetched.emit(Fetched::Failed(e));
                            }
                        }
                        Ok((status, body)) => {
                            return fetched.emit(Fetched::Failed(format!("{status}: {body}")));
                        }
                        Err(_) => return fetched.emit(Fetched::Offline),
                    }
                }
                fetched.emit(Fetched::Got(all));
            });
        });
    }
    (*fetched).clone()
}
