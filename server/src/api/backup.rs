//! `POST /api/backup`: a consistent backup of the running server, streamed as it is written
//! (one read transaction: writes go on meanwhile). Taken with the key the server wrote into
//! its data folder (`X-Backup-Key`, what `gridvisit backup` sends) or by an admin's token.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use shared::sync::Role;

use super::{AppError, authenticate, token_from};
use crate::AppState;
use crate::engine::now;

/// Compares keys by their hashes, so the time taken says nothing about the key.
fn same_key(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// Sends what a blocking writer writes as body chunks of about 256 KiB.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buf);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the reader went away"))
    }
}

pub(super) async fn backup(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let by_key = headers
        .get("x-backup-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| same_key(k, &state.backup_key));
    if !by_key {
        let account = authenticate(&state, token_from(&headers).as_deref()).await?;
        if account.principal.role != Role::Admin {
            return Err(AppError::Forbidden(
                "only an admin may take a backup".into(),
            ));
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (store, epoch) = (state.store.clone(), state.epoch.clone());
    tokio::task::spawn_blocking(move || {
        let out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::new(),
        };
        match crate::backup::write(store.as_ref(), &epoch, now().0, out) {
            Ok(counts) => tracing::info!(?counts, "backup taken"),
            Err(e) => {
                tracing::error!(%e, "backup failed");
                // The stream ends in an error: the client sees an incomplete body.
                let _ = tx.blocking_send(Err(std::io::Error::other("backup failed")));
            }
        }
    });
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"gridvisit.backup\"",
            ),
        ],
        body,
    )
        .into_response())
}
