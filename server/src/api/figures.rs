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

use super::{AppError, User};
use crate::AppState;
use crate::engine::now;
use crate::limits::Full;

fn figures(state: &AppState, p: &Principal) -> Figures {
    let dashboard = state.dashboard.lock().unwrap_or_else(|e| e.into_inner());
    dashboard.figures(now(), &p.scope)
}

pub(super) async fn aggregates(State(state): State<AppState>, User(a): User) -> Json<Value> {
    let f = figures(&state, &a.principal);
    Json(json!({ "scope": a.principal.scope.to_string(), "at": now().0, "figures": f }))
}

/// A live stream of the scope's figures, pushed after each commit (at most ten a second). The
/// streams are slots: a few per user (tabs), a bounded number in all.
pub(super) async fn live(
    State(state): State<AppState>,
    User(a): User,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let p = a.principal;
    let slot = state.live.take(p.user.as_str()).map_err(|full| {
        state
            .metrics
            .over_limit
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match full {
            Full::Key => AppError::TooMany {
                message: format!("{} has too many live streams open", p.user),
                retry_after: Duration::from_secs(10),
            },
            Full::Total => AppError::Unavailable {
                message: "the server is at its live-stream limit: try again shortly".into(),
                retry_after: Duration::from_secs(5),
            },
        }
    })?;
    // End the stream on shutdown, so a graceful stop does not wait for supervisors' tabs.
    let mut stop = state.shutdown.clone();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let stream = WatchStream::new(state.changed.clone())
        .throttle(Duration::from_millis(100))
        .map(move |version| {
            // The slot lives as long as the stream.
            let _held = &slot;
            let f = figures(&state, &p);
            let data = json!({ "version": version, "at": now().0, "figures": f }).to_string();
            Ok(SseEvent::default().event("figures").data(data))
        });
    let stream = futures_util::StreamExt::take_until(stream, stopped);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
