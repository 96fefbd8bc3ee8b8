//! CSV export of the records in the user's scope, written by `shared`'s one CSV writer (the
//! same cells, quoting and formula defusing as the app's exports).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use shared::export::{Table, csv};
use shared::model::Record;

use super::records::{ListQuery, load};
use super::{AppError, User};
use crate::AppState;
use crate::engine::now;

fn columns(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "household" => &[
            "id", "grid", "building", "unit", "room", "head", "contact", "members", "tags",
        ],
        "visit" => &[
            "id",
            "grid",
            "household",
            "started_at",
            "outcome",
            "items",
            "visitors",
        ],
        "issue" => &[
            "id",
            "grid",
            "area",
            "source",
            "status",
            "level",
            "assignee",
            "deadline",
            "overdue",
            "description",
        ],
        _ => return None,
    })
}

pub(super) async fn export_csv(
    State(state): State<AppState>,
    User(a): User,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let kind = q.kind.unwrap_or_else(|| "household".into());
    let headers =
        columns(&kind).ok_or_else(|| AppError::BadRequest(format!("unknown kind {kind:?}")))?;
    let mut table = Table {
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        rows: Vec::new(),
    };
    let t = now();
    let mut rows = state.store.rows(&a.principal.scope, Some(&kind))?;
    if let Some(g) = &q.grid {
        rows.retain(|(_, r)| r.grid.as_deref() == Some(g.as_str()));
    }
    for (id, _) in rows {
        let Some(doc) = load(&state, &id)? else {
            continue;
        };
        table.rows.push(match Record::read(&doc) {
            Ok(Record::Household(h)) => vec![
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
            Ok(Record::Visit(v)) => vec![
                id.to_string(),
                v.grid.to_string(),
                v.household.to_string(),
                v.started_at.0.to_string(),
                v.outcome.value.code().to_owned(),
                v.items.len().to_string(),
                v.visitors.join(" "),
            ],
            Ok(Record::Issue(i)) => vec![
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
            Err(_) => continue,
        });
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"gridvisit-{kind}.csv\""),
            ),
        ],
        csv(&table),
    )
        .into_response())
}
