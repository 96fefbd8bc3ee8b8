//! CSV export of the records in the user's scope, written by `shared`'s one CSV writer (the
//! same cells, quoting and formula defusing as the app's exports).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use shared::export::{CSV_BOM, csv_row};
use shared::ids::DocumentId;
use shared::model::Record;
use shared::time::Millis;

use super::records::{Filter, ListQuery, load, page};
use super::{AppError, User};
use crate::AppState;
use crate::engine::now;

fn columns(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "household" => &[
            "id",
            "grid",
            "grid_name",
            "building",
            "unit",
            "room",
            "head",
            "contact",
            "members",
            "tags",
        ],
        "visit" => &[
            "id",
            "grid",
            "grid_name",
            "household",
            "started_at",
            "outcome",
            "items",
            "visitors",
        ],
        "issue" => &[
            "id",
            "grid",
            "grid_name",
            "area",
            "source",
            "status",
            "level",
            "assignee",
            "assignee_name",
            "deadline",
            "overdue",
            "description",
        ],
        "review" => &[
            "id",
            "grid",
            "grid_name",
            "grids",
            "held_at",
            "attendees",
            "topics",
            "issues",
            "conclusions",
        ],
        _ => return None,
    })
}

/// Documents read per page of an export.
const EXPORT_PAGE: usize = 500;

/// The CSV export of the scope's records of one kind, streamed page by page from a blocking
/// thread: a city-wide export neither holds every row in memory nor stalls the async threads.
pub(super) async fn export_csv(
    State(state): State<AppState>,
    User(a): User,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let kind = q.kind()?.unwrap_or("household").to_owned();
    let headers =
        columns(&kind).ok_or_else(|| AppError::BadRequest(format!("unknown kind {kind:?}")))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    let store = state.store.clone();
    let disposition = format!("attachment; filename=\"gridvisit-{kind}.csv\"");
    tokio::task::spawn_blocking(move || {
        let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        let first = format!("{CSV_BOM}{}", csv_row(&header));
        if tx.blocking_send(Ok(first)).is_err() {
            return;
        }
        let t = now();
        // Names as people read them: the organisation's, and each account's.
        let names = match Names::load(store.as_ref()) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(?e, "export stopped");
                let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
                return;
            }
        };
        let mut before = None;
        loop {
            let filter = Filter {
                kind: Some(&kind),
                grid: q.grid.as_deref(),
                ..Filter::default()
            };
            let p = match page(store.as_ref(), &a.principal, filter, before, EXPORT_PAGE) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(?e, "export stopped");
                    let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
                    return;
                }
            };
            let mut chunk = String::new();
            for (id, _) in &p.rows {
                let Ok(Some(doc)) = load(store.as_ref(), id) else {
                    continue;
                };
                if let Some(row) = Record::read(&doc).ok().map(|r| cells(id, &r, t, &names)) {
                    chunk.push_str(&csv_row(&row));
                }
            }
            // A reader that went away ends the export.
            if tx.blocking_send(Ok(chunk)).is_err() {
                return;
            }
            match p.next {
                Some(n) => before = Some(n),
                None => return,
            }
        }
    });
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The names an export writes beside codes.
struct Names {
    org: shared::org::Org,
    people: std::collections::HashMap<String, String>,
}

impl Names {
    fn load(store: &dyn crate::store::Storage) -> Result<Self, crate::store::StoreError> {
        let org = store.org()?;
        let mut people: std::collections::HashMap<String, String> = store
            .accounts()?
            .into_iter()
            .map(|a| (a.principal.user.to_string(), a.name))
            .collect();
        for d in org.of_kind(shared::org::UnitKind::Department) {
            people.insert(d.code.clone(), d.name.clone());
        }
        Ok(Self { org, people })
    }

    fn person(&self, user: &str) -> String {
        self.people.get(user).cloned().unwrap_or_default()
    }
}

/// The cells of one record's row.
fn cells(id: &DocumentId, record: &Record, t: Millis, names: &Names) -> Vec<String> {
    let mut row = cells_of(id, record, t);
    row.insert(2, names.org.grid_label(&record.meta().grid));
    if let Record::Issue(i) = record {
        // After `assignee` (its index moved by one with the grid's name).
        row.insert(
            8,
            names.person(i.state.assignee.as_deref().unwrap_or_default()),
        );
    }
    row
}

/// The cells of one record's row, codes only.
fn cells_of(id: &DocumentId, record: &Record, t: Millis) -> Vec<String> {
    match record {
        Record::Household(h) => vec![
            id.to_string(),
            h.grid.to_string(),
            h.address.building.value.clone(),
            h.address.unit.value.clone(),
            h.address.room.value.clone(),
            h.head.value.clone(),
            h.masked_contact(),
            h.members.value.to_string(),
            h.tags.join(" "),
        ],
        Record::Visit(v) => vec![
            id.to_string(),
            v.grid.to_string(),
            v.household.to_string(),
            v.started_at.0.to_string(),
            v.outcome.value.code().to_owned(),
            v.items.len().to_string(),
            v.visitors.join(" "),
        ],
        Record::Issue(i) => vec![
            id.to_string(),
            i.grid.to_string(),
            i.area.code().to_owned(),
            i.source.code().to_owned(),
            i.state.status.code().to_owned(),
            i.state.level.code().to_owned(),
            i.state.assignee.clone().unwrap_or_default(),
            i.state
                .deadline
                .map(|d| d.0.to_string())
                .unwrap_or_default(),
            i.state.overdue(t).to_string(),
            i.description.clone(),
        ],
        Record::Review(r) => vec![
            id.to_string(),
            r.grid.to_string(),
            r.grids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            r.held_at.0.to_string(),
            r.attendees.join(" "),
            r.topics.join("; "),
            r.issues
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            r.conclusions.clone(),
        ],
    }
}
