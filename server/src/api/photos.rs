//! Photos (DESIGN decision 12): immutable blobs named by their SHA-256, uploaded once over
//! HTTP and referenced from records by hash.
//!
//! - `HEAD /api/photos/{hash}`: whether it is stored (a queue resumes at the first that is
//!   not).
//! - `PUT /api/photos/{hash}?grid=…`: the bytes, checked against the hash and for being an
//!   image, counted against the uploader's and the grid's quota.
//! - `GET /api/photos/{hash}`: only to its uploader and to users whose scope holds a record
//!   that refers to it.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::ids::GridId;
use shared::model::issue::is_photo_hash;
use shared::time::Millis;

use super::records::blocking;
use super::{AppError, User};
use crate::AppState;
use crate::engine::now;
use crate::store::{PhotoMeta, PhotoPut};

/// The media type of an image's bytes (JPEG, PNG or WebP), from their first bytes.
pub(super) fn image_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("image/webp"),
        _ => None,
    }
}

/// A photo as an HTTP answer: immutable, private to whoever may see it.
pub(super) fn image_response(bytes: Vec<u8>) -> Response {
    let kind = image_type(&bytes).unwrap_or("application/octet-stream");
    (
        [
            (header::CONTENT_TYPE, kind),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The lowercase hex SHA-256 of `bytes`.
pub(super) fn hash_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    shared::hex::encode(&sha2::Sha256::digest(bytes))
}

/// Stores a photo for `grid` as `user` (once: the same bytes again are the same photo);
/// returns its hash.
pub(super) async fn store(
    state: &AppState,
    bytes: &[u8],
    user: &str,
    grid: &GridId,
    t: Millis,
) -> Result<String, AppError> {
    if bytes.len() > state.settings.photo_max_bytes {
        return Err(AppError::TooLarge(format!(
            "a photo is at most {} KB / 照片过大",
            state.settings.photo_max_bytes / 1024
        )));
    }
    if image_type(bytes).is_none() {
        return Err(AppError::BadRequest(
            "a photo is a JPEG, PNG or WebP image / 照片须为 JPEG、PNG 或 WebP".into(),
        ));
    }
    let hash = hash_of(bytes);
    let meta = PhotoMeta {
        user: user.to_owned(),
        grid: grid.to_string(),
        at: t.0,
        size: bytes.len() as u64,
    };
    let store = state.store.clone();
    let (h, b, quota) = (hash.clone(), bytes.to_vec(), state.settings.photo_quota);
    match blocking(move || Ok(store.put_photo(&h, &b, &meta, quota)?)).await? {
        PhotoPut::Stored => {
            state
                .metrics
                .photos
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(hash)
        }
        PhotoPut::Exists => Ok(hash),
        PhotoPut::OverQuota(whose) => Err(AppError::TooLarge(format!(
            "the {whose}'s photo quota is used up / 照片存储配额已满"
        ))),
    }
}

fn checked_hash(hash: &str) -> Result<(), AppError> {
    if is_photo_hash(hash) {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "a photo is named by the lowercase hex SHA-256 of its bytes".into(),
        ))
    }
}

pub(super) async fn exists(
    State(state): State<AppState>,
    _user: User,
    Path(hash): Path<String>,
) -> Result<StatusCode, AppError> {
    checked_hash(&hash)?;
    let store = state.store.clone();
    let found = blocking(move || Ok(store.photo(&hash)?.is_some())).await?;
    Ok(if found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

#[derive(Deserialize)]
pub(super) struct UploadQuery {
    grid: String,
}

pub(super) async fn upload(
    State(state): State<AppState>,
    user: User,
    Path(hash): Path<String>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Result<Response, AppError> {
    checked_hash(&hash)?;
    let Query(q) = query.map_err(|_| {
        AppError::BadRequest("say which grid the photo is for: ?grid=… / 缺少网格".into())
    })?;
    let grid: GridId = q
        .grid
        .parse()
        .map_err(|_| AppError::BadRequest(format!("unknown grid {:?}", q.grid)))?;
    let me = &user.0.principal;
    if !me.scope.contains(&grid) {
        return Err(AppError::Forbidden(format!(
            "{grid} is outside your scope / 不在您的管辖范围"
        )));
    }
    let got = hash_of(&body);
    if got != hash {
        return Err(AppError::BadRequest(format!(
            "the bytes' SHA-256 is {got}, not {hash}: the upload was cut short or changed / 照片上传不完整"
        )));
    }
    store(&state, &body, me.user.as_str(), &grid, now()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "hash": hash })),
    )
        .into_response())
}

pub(super) async fn fetch(
    State(state): State<AppState>,
    user: User,
    Path(hash): Path<String>,
) -> Result<Response, AppError> {
    checked_hash(&hash)?;
    let me = user.0.principal.clone();
    let store = state.store.clone();
    let found = blocking(move || {
        let Some((bytes, meta)) = store.photo(&hash)? else {
            return Ok(None);
        };
        if meta.user == me.user.as_str() {
            return Ok(Some(Ok(bytes)));
        }
        for doc in store.photo_records(&hash)? {
            let in_scope = store
                .row(&doc)?
                .and_then(|r| r.grid)
                .and_then(|g| g.parse::<GridId>().ok())
                .is_some_and(|g| me.scope.contains(&g));
            if in_scope {
                return Ok(Some(Ok(bytes)));
            }
        }
        Ok(Some(Err(())))
    })
    .await?;
    match found {
        None => Err(AppError::NotFound("no such photo / 照片不存在".into())),
        Some(Err(())) => Err(AppError::Forbidden(
            "this photo belongs to records outside your scope / 无权查看此照片".into(),
        )),
        Some(Ok(bytes)) => Ok(image_response(bytes)),
    }
}
