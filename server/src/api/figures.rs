//! The dashboard figures of the user's scope, once or as a live Server-Sent Events stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use serde_json::{Value, json};
use shared::aggregate::Figures;
use shared::sync::Principal;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;

use super::User;
use crate::AppState;
use crate::engine::now;

fn figures(state: &AppState, p: &Principal) -> Figures {
    let dashboard = state.dashboard.lock().unwrap_or_else(|e| e.into_inner());
    dashboard.figures(now(), &p.scope)
}

pub(super) async fn aggregates(State(state): State<AppState>, User(a): User) -> Json<Value> {
    let f = figures(&state, &a.principal);
    Json(json!({ "scope": a.principal.scope.to_string(), "at": now().0, "figures": f }))
}

pub(super) async fn live(
    State(state): State<AppState>,
    User(a): User,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let p = a.principal;
    // End the stream on shutdown, so a graceful stop does not wait for supervisors' tabs.
    let mut stop = state.shutdown.clone();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let stream = WatchStream::new(state.changed.clone())
        .throttle(Duration::from_millis(100))
        .map(move |version| {
            let f = figures(&state, &p);
            let data = json!({ "version": version, "at": now().0, "figures": f }).to_string();
            Ok(SseEvent::default().event("figures").data(data))
        });
    let stream = futures_util::StreamExt::take_until(stream, stopped);
    Sse::new(stream).keep_alive(KeepAlive::default())
}
