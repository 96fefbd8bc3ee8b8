//! The month view of an area (`GET /api/month?area=&month=2026-11`): the month's figures week
//! by week, per part and per worker, from the stored figures over time, and the monthly
//! reviews (民情研判) held in it that cover the area's grids.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::model::Role;
use shared::month::{month_view, worker_rows};
use shared::time::Calendar;
use shared::trends::Month;

use super::records::blocking;
use super::{AppError, User};
use crate::AppState;
use crate::engine::now;

/// `?area=&month=`: `area` as in the overview (`""`, a street, community or grid path);
/// `month` as `2026-11` (this month when left out).
#[derive(Deserialize)]
pub(super) struct MonthQuery {
    #[serde(default)]
    area: String,
    month: Option<String>,
}

pub(super) async fn month(
    State(state): State<AppState>,
    User(a): User,
    Query(q): Query<MonthQuery>,
) -> Result<Json<Value>, AppError> {
    let today = Calendar::CHINA.day(now());
    let month = match q.month.as_deref() {
        None => Month::of_day(today),
        Some(m) => Month::parse(m)
            .ok_or_else(|| AppError::BadRequest(format!("month {m:?}: write it as 2026-11")))?,
    };
    let scope = a
        .principal
        .scope
        .area(&q.area)
        .ok_or_else(|| AppError::NotFound(format!("no area {:?} in your scope", q.area)))?;
    let depth = if q.area.is_empty() {
        match &a.principal.scope {
            shared::ids::Scope::City => 0,
            shared::ids::Scope::Street(_) => 1,
            _ => 2,
        }
    } else {
        q.area.matches('/').count() + 1
    };
    let grids: Vec<_> = {
        let d = state.dashboard.lock().unwrap_or_else(|e| e.into_inner());
        d.households(&scope)
            .into_iter()
            .map(|(g, n)| (g, i64::try_from(n).unwrap_or(i64::MAX)))
            .collect()
    };
    let store = state.store.clone();
    let area = q.area.clone();
    blocking(move || {
        let mut view = None;
        store.with_figures(&mut |src| {
            view = Some(month_view(&area, depth, &grids, month, today, src));
        })?;
        let view = view.unwrap_or_default();
        let workers: Vec<(String, String, Vec<String>)> = store
            .accounts()?
            .into_iter()
            .filter(|acc| matches!(acc.principal.role, Role::Worker | Role::Volunteer))
            .filter_map(|acc| match &acc.principal.scope {
                shared::ids::Scope::Grids(gs) => Some((
                    acc.principal.user.to_string(),
                    acc.name.clone(),
                    gs.iter().map(ToString::to_string).collect(),
                )),
                _ => None,
            })
            .collect();
        let rows = worker_rows(&view, &workers);
        let (first, last) = month.days();
        let mut reviews = Vec::new();
        for id in store.reviews(&scope, first, last)? {
            let Some(doc) = super::records::load(store.as_ref(), &id)? else {
                continue;
            };
            // Listed as the record itself would be opened: by the grid it is filed under.
            if let Ok(r) = shared::model::Record::read(&doc)
                && a.principal.can_read(&r.meta())
            {
                reviews.push(json!({ "id": id, "summary": shared::summary::Summary::of(&r) }));
            }
        }
        Ok(Json(
            json!({ "view": view, "workers": rows, "reviews": reviews, "today": today }),
        ))
    })
    .await
}
