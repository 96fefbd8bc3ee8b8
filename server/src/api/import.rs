//! `POST /api/admin/import`: households from an `.xlsx` or CSV file, with progress.
//!
//! The file is read and every row checked first; the answer is the job's number at once (or
//! the report, with `?wait=true`). The rows are then written through the engine in batches
//! while `GET /api/admin/import/{job}` tells how far it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use automerge::Automerge;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::ids::DocumentId;
use shared::model::Record;

use super::org::{admin_only, audit};
use super::records::blocking;
use super::{AppError, User};
use crate::AppState;
use crate::engine::{Cmd, Write};
use crate::import::{self, Report};

/// Rows written per engine batch (one commit each).
const BATCH: usize = 1_000;
/// Finished jobs kept for their reports.
const KEEP: usize = 20;

/// How far an import is.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Progress {
    /// Rows in the file.
    pub total: usize,
    /// Rows handled so far (written, unchanged or refused).
    pub done: usize,
    /// Whether it finished.
    pub finished: bool,
    /// Its report, once finished.
    pub report: Option<Report>,
    /// Why it stopped, if it failed.
    pub error: Option<String>,
}

/// The last job's number, and the jobs kept.
type Jobs = (u64, HashMap<u64, Arc<Mutex<Progress>>>);

/// The imports of this server run.
#[derive(Clone, Default)]
pub struct Imports {
    jobs: Arc<Mutex<Jobs>>,
}

impl Imports {
    fn start(&self, total: usize) -> (u64, Arc<Mutex<Progress>>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.0 += 1;
        let id = jobs.0;
        let p = Arc::new(Mutex::new(Progress {
            total,
            ..Progress::default()
        }));
        jobs.1.insert(id, p.clone());
        if jobs.1.len() > KEEP {
            let oldest = jobs.1.keys().min().copied();
            if let Some(o) = oldest {
                jobs.1.remove(&o);
            }
        }
        (id, p)
    }

    fn get(&self, id: u64) -> Option<Progress> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.1
            .get(&id)
            .map(|p| p.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

#[derive(Deserialize)]
pub(super) struct ImportQuery {
    /// Answer with the report once done, instead of the job's number at once.
    #[serde(default)]
    wait: bool,
}

/// Starts an import of the file in the body.
pub(super) async fn start(
    State(state): State<AppState>,
    user: User,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    admin_only(&user, "import households")?;
    let store = state.store.clone();
    let scope = user.0.principal.scope.clone();
    let (rows, errors, matched) = blocking(move || {
        let cells = match import::cells(&body) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let org = store.org()?;
        let (rows, errors) = match import::check(&cells, &org, &scope) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let mut failed = None;
        let matched = import::match_existing(&rows, |g| {
            store.household_texts(g).unwrap_or_else(|e| {
                failed = Some(e);
                Vec::new()
            })
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(Ok((rows, errors, matched)))
    })
    .await?
    .map_err(AppError::BadRequest)?;
    let total = rows.len() + errors.len();
    let (job, progress) = state.imports.start(total);
    {
        let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
        p.done = errors.len();
    }
    let report = Report {
        errors,
        ..Report::default()
    };
    let run = run(
        state.clone(),
        user.0.principal.user.to_string(),
        rows,
        matched,
        report,
        progress.clone(),
    );
    if q.wait {
        let report = run.await;
        audit_done(&state, &user, &report)?;
        finish(&progress, &report);
        return Ok(Json(
            json!({ "job": job, "total": total, "report": report }),
        ));
    }
    let state2 = state.clone();
    tokio::spawn(async move {
        let report = run.await;
        if let Err(e) = audit_done(&state2, &user, &report) {
            tracing::error!(?e, "the import's audit entry was not written");
        }
        finish(&progress, &report);
    });
    Ok(Json(json!({ "job": job, "total": total })))
}

fn audit_done(state: &AppState, user: &User, r: &Report) -> Result<(), AppError> {
    audit(
        state,
        user,
        "households.import",
        "households",
        format!(
            "{} imported, {} updated, {} unchanged, {} rows refused",
            r.imported,
            r.updated,
            r.unchanged,
            r.errors.len()
        ),
    )
}

/// Writes the rows in batches; returns the report (also left in `progress`).
async fn run(
    state: AppState,
    user: String,
    rows: Vec<import::Row>,
    matched: HashMap<usize, DocumentId>,
    mut report: Report,
    progress: Arc<Mutex<Progress>>,
) -> Report {
    for chunk in rows.chunks(BATCH) {
        let result = batch(&state, &user, chunk, &matched).await;
        let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok((imported, updated, unchanged, mut errors)) => {
                report.imported += imported;
                report.updated += updated;
                report.unchanged += unchanged;
                report.errors.append(&mut errors);
                p.done += chunk.len();
            }
            Err(e) => {
                p.error = Some(e.clone());
                p.finished = true;
                report.errors.extend(chunk.iter().map(|r| import::RowError {
                    row: r.row,
                    field: String::new(),
                    message: e.clone(),
                }));
                return report;
            }
        }
    }
    report.errors.sort_by_key(|e| e.row);
    report
}

/// Marks a job finished with its report (after its audit entry is written, so a client that
/// sees it finished finds it in the log).
fn finish(progress: &Mutex<Progress>, report: &Report) {
    let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
    p.finished = true;
    p.report = Some(report.clone());
}

type Counts = (usize, usize, usize, Vec<import::RowError>);

/// One batch: compares matched rows with their households, then hands the engine the new
/// households and the edits in one command.
async fn batch(
    state: &AppState,
    user: &str,
    rows: &[import::Row],
    matched: &HashMap<usize, DocumentId>,
) -> Result<Counts, String> {
    let store = state.store.clone();
    let rows_owned = rows.to_vec();
    let matched: Vec<Option<DocumentId>> =
        rows.iter().map(|r| matched.get(&r.row).copied()).collect();
    let planned = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let mut writes = Vec::new();
        let mut kinds = Vec::new();
        let mut unchanged = 0;
        let mut refused = Vec::new();
        for (r, m) in rows_owned.into_iter().zip(matched) {
            match m {
                None => {
                    let mut id = [0u8; 16];
                    getrandom::fill(&mut id).map_err(|e| e.to_string())?;
                    let draft = r.draft;
                    writes.push(Write {
                        doc: DocumentId::from_bytes(id),
                        create: true,
                        edit: Box::new(move |tx| draft.write(tx)),
                    });
                    kinds.push((r.row, true));
                }
                Some(doc) => {
                    let bytes = store.load(&doc).map_err(|e| e.to_string())?.unwrap_or_default();
                    let household = Automerge::load(&bytes)
                        .ok()
                        .and_then(|d| Record::read(&d).ok())
                        .and_then(|rec| match rec {
                            Record::Household(h) => Some(h),
                            _ => None,
                        });
                    let Some(h) = household else {
                        refused.push(import::RowError {
                            row: r.row,
                            field: String::new(),
                            message: "the household at this address does not read: see its record / 该地址的住户记录无法读取".into(),
                        });
                        continue;
                    };
                    let changes = import::differences(&h, &r.draft);
                    if changes.is_empty() {
                        unchanged += 1;
                        continue;
                    }
                    writes.push(Write {
                        doc,
                        create: false,
                        edit: Box::new(move |tx| changes.iter().try_for_each(|c| c.write(tx))),
                    });
                    kinds.push((r.row, false));
                }
            }
        }
        Ok((writes, kinds, unchanged, refused))
    })
    .await
    .map_err(|e| e.to_string())??;
    let (writes, kinds, unchanged, refused) = planned;
    let (tx, rx) = tokio::sync::oneshot::channel();
    state
        .engine
        .send(Cmd::Write {
            user: user.to_owned(),
            writes,
            reply: tx,
        })
        .map_err(|_| "the server is shutting down / 服务器正在停止".to_owned())?;
    let results = rx
        .await
        .map_err(|_| "the engine stopped / 同步引擎已停止".to_owned())?;
    let (mut imported, mut updated, mut errors) = (0, 0, refused);
    for ((row, created), result) in kinds.into_iter().zip(results) {
        match result {
            Ok(()) if created => imported += 1,
            Ok(()) => updated += 1,
            Err(message) => errors.push(import::RowError {
                row,
                field: String::new(),
                message,
            }),
        }
    }
    Ok((imported, updated, unchanged, errors))
}

/// How far an import is, with its report once done.
pub(super) async fn progress(
    State(state): State<AppState>,
    user: User,
    Path(job): Path<u64>,
) -> Result<Json<Progress>, AppError> {
    admin_only(&user, "follow imports")?;
    state
        .imports
        .get(job)
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no import {job}")))
}
