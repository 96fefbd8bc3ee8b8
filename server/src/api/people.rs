//! People (`/api/admin/people…`): pages with a search, create, edit, disable, reset a
//! password; the audit log; and the picker of people a supervisor dispatches to.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::ids::{DocumentId, Scope, UserId};
use shared::org::UnitKind;
use shared::sync::{Principal, Role};

use super::org::{admin_only, audit};
use super::records::blocking;
use super::{AppError, User};
use crate::AppState;
use crate::auth;
use crate::limits::Ended;
use crate::store::Account;

/// An account as the admin screens show it (never its password hash).
#[derive(Serialize)]
pub(super) struct PersonView {
    user: String,
    name: String,
    role: Role,
    scope: String,
    disabled: bool,
    households: Vec<String>,
}

fn person(a: &Account) -> PersonView {
    PersonView {
        user: a.principal.user.to_string(),
        name: a.name.clone(),
        role: a.principal.role,
        scope: a.principal.scope.to_string(),
        disabled: a.disabled,
        households: a.households.iter().map(ToString::to_string).collect(),
    }
}

#[derive(Deserialize)]
pub(super) struct PeopleQuery {
    /// Matches user names and names.
    q: Option<String>,
    /// The page after this user name.
    after: Option<String>,
    limit: Option<usize>,
}

/// Accounts kept per page at most.
const PAGE: usize = 200;

fn matches(a: &Account, q: &str) -> bool {
    q.is_empty()
        || a.principal.user.as_str().to_lowercase().contains(q)
        || a.name.to_lowercase().contains(q)
}

/// One page of every account, in user-name order.
pub(super) async fn people(
    State(state): State<AppState>,
    user: User,
    Query(q): Query<PeopleQuery>,
) -> Result<Json<Value>, AppError> {
    admin_only(&user, "list people")?;
    let store = state.store.clone();
    let needle = q.q.unwrap_or_default().trim().to_lowercase();
    let limit = q.limit.unwrap_or(50).clamp(1, PAGE);
    blocking(move || {
        let (items, next) =
            store.accounts_page(q.after.as_deref(), &|a| matches(a, &needle), limit)?;
        let items: Vec<PersonView> = items.iter().map(person).collect();
        Ok(Json(json!({ "items": items, "next": next })))
    })
    .await
}

/// Who a supervisor may dispatch an issue to: the people whose scope lies in theirs (workers
/// and volunteers first), and the city's departments.
pub(super) async fn picker(
    State(state): State<AppState>,
    user: User,
    Query(q): Query<PeopleQuery>,
) -> Result<Json<Value>, AppError> {
    let me = user.0.principal.clone();
    if !me.role.is_supervisor() {
        return Err(AppError::Forbidden(
            "only supervisors dispatch / 仅管理人员可派遣".into(),
        ));
    }
    let store = state.store.clone();
    let needle = q.q.unwrap_or_default().trim().to_lowercase();
    let limit = q.limit.unwrap_or(50).clamp(1, PAGE);
    blocking(move || {
        let keep = |a: &Account| {
            !a.disabled
                && a.principal.role != Role::Admin
                && me.scope.covers(&a.principal.scope)
                && matches(a, &needle)
        };
        let (mut items, _) = store.accounts_page(None, &keep, limit)?;
        items.sort_by_key(|a| (a.principal.role.is_supervisor(), a.principal.user.clone()));
        let org = store.org()?;
        let departments: Vec<Value> = org
            .of_kind(UnitKind::Department)
            .filter(|d| {
                needle.is_empty()
                    || d.name.to_lowercase().contains(&needle)
                    || d.code.contains(&needle)
            })
            .map(|d| json!({ "user": d.code, "name": d.name, "role": "department" }))
            .collect();
        let people: Vec<Value> = items
            .iter()
            .map(|a| {
                json!({
                    "user": a.principal.user.as_str(),
                    "name": a.name,
                    "role": a.principal.role,
                    "scope": a.principal.scope.to_string(),
                })
            })
            .collect();
        Ok(Json(
            json!({ "people": people, "departments": departments }),
        ))
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct NewPerson {
    user: String,
    name: String,
    role: Role,
    scope: String,
    /// Generated (and answered once) when not given.
    password: Option<String>,
}

fn parse_scope(role: Role, scope: &str) -> Result<Scope, AppError> {
    let scope: Scope = scope.parse().map_err(|e| {
        AppError::BadRequest(format!(
            "{e}: a scope is city, street:s01, community:s01/c01 or grids:s01/c01/g01,…"
        ))
    })?;
    let fits = match role {
        Role::Worker | Role::Volunteer => matches!(scope, Scope::Grids(_)),
        Role::CommunitySupervisor => matches!(scope, Scope::Community(_)),
        Role::StreetSupervisor => matches!(scope, Scope::Street(_)),
        Role::CitySupervisor | Role::Admin | Role::Department => scope == Scope::City,
    };
    if fits {
        Ok(scope)
    } else {
        Err(AppError::BadRequest(format!(
            "a {role} has a scope of its level (worker and volunteer: grids:…, community_supervisor: community:…, street_supervisor: street:…, city: city) / 管辖范围与角色不符"
        )))
    }
}

fn check_password(p: &str) -> Result<(), AppError> {
    if p.chars().count() < 8 || p == crate::demo::DEMO_PASSWORD {
        Err(AppError::BadRequest(
            "a password has at least 8 characters (and is not the demo password) / 密码至少 8 位"
                .into(),
        ))
    } else {
        Ok(())
    }
}

fn generated_password() -> Result<String, AppError> {
    Ok(auth::new_token()?[..12].to_owned())
}

/// Creates an account.
pub(super) async fn create_person(
    State(state): State<AppState>,
    user: User,
    body: Result<Json<NewPerson>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, AppError> {
    admin_only(&user, "create people")?;
    let Json(p) = body.map_err(|e| {
        AppError::BadRequest(format!(
            "expected {{\"user\", \"name\", \"role\", \"scope\", \"password\"?}}: {e}"
        ))
    })?;
    let id = p.user.trim();
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(AppError::BadRequest(
            "a user name is 1 to 64 letters, digits, '-', '_' or '.' / 用户名只能含字母、数字和 - _ .".into(),
        ));
    }
    let name = p.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(AppError::BadRequest(
            "a name is 1 to 40 characters / 姓名 1 到 40 个字".into(),
        ));
    }
    let scope = parse_scope(p.role, &p.scope)?;
    let (password, generated) = match p.password {
        Some(pw) => {
            check_password(&pw)?;
            (pw, false)
        }
        None => (generated_password()?, true),
    };
    let principal = Principal {
        user: UserId::new(id).map_err(|e| AppError::BadRequest(e.to_string()))?,
        role: p.role,
        scope,
    };
    let store = state.store.clone();
    let pw = password.clone();
    let account = state
        .hasher
        .run(
            move || -> Result<Result<Account, String>, crate::store::StoreError> {
                if store.account(principal.user.as_str())?.is_some() {
                    return Ok(Err(format!(
                        "{} exists already / 用户名已存在",
                        principal.user
                    )));
                }
                // A department signs in as itself: the name a dispatch assigns.
                if principal.role == Role::Department
                    && store
                        .org()?
                        .get(principal.user.as_str())
                        .is_none_or(|u| u.kind != UnitKind::Department)
                {
                    return Ok(Err(format!(
                        "a department's account is named by its code: create the department {} first / 部门账号须以已建部门的编码命名",
                        principal.user
                    )));
                }
                let a = Account::new(principal, name, auth::hash_password(&pw)?);
                store.put_accounts(std::slice::from_ref(&a))?;
                Ok(Ok(a))
            },
        )
        .await
        .ok_or_else(|| AppError::Internal("password hasher stopped".into()))??
        .map_err(AppError::BadRequest)?;
    audit(
        &state,
        &user,
        "person.create",
        account.principal.user.as_str(),
        format!(
            "{} {} {}",
            account.name, account.principal.role, account.principal.scope
        ),
    )?;
    let mut v = json!(person(&account));
    if generated {
        v["password"] = json!(password);
    }
    Ok(Json(v))
}

#[derive(Deserialize)]
pub(super) struct PersonEdit {
    name: Option<String>,
    role: Option<Role>,
    scope: Option<String>,
    disabled: Option<bool>,
    /// The households a volunteer looks after (党员联系户), as document IDs.
    households: Option<Vec<String>>,
}

/// Edits an account: name, role and scope, disabled, linked households.
pub(super) async fn edit_person(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    body: Result<Json<PersonEdit>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PersonView>, AppError> {
    admin_only(&user, "edit people")?;
    let Json(e) = body.map_err(|e| {
        AppError::BadRequest(format!(
            "expected {{\"name\"?, \"role\"?, \"scope\"?, \"disabled\"?, \"households\"?}}: {e}"
        ))
    })?;
    let store = state.store.clone();
    let who = id.clone();
    let mut a = blocking(move || Ok(store.account(&who)?))
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no account {id} / 账号不存在")))?;
    if id == user.0.principal.user.as_str()
        && (e.disabled == Some(true) || e.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(AppError::BadRequest(
            "an admin cannot disable or demote their own account / 不能停用自己的管理员账号".into(),
        ));
    }
    let mut what = Vec::new();
    if let Some(n) = e.name.map(|n| n.trim().to_owned())
        && n != a.name
    {
        if n.is_empty() || n.chars().count() > 40 {
            return Err(AppError::BadRequest(
                "a name is 1 to 40 characters / 姓名 1 到 40 个字".into(),
            ));
        }
        what.push(format!("name {} → {n}", a.name));
        a.name = n;
    }
    let role = e.role.unwrap_or(a.principal.role);
    if (role == Role::Department) != (a.principal.role == Role::Department) {
        return Err(AppError::BadRequest(
            "a department's account stays a department's: create another account / 部门账号不能改为其他角色".into(),
        ));
    }
    if e.role.is_some() || e.scope.is_some() {
        let scope = parse_scope(
            role,
            e.scope.as_deref().unwrap_or(&a.principal.scope.to_string()),
        )?;
        if role != a.principal.role || scope != a.principal.scope {
            what.push(format!(
                "{} {} → {role} {scope}",
                a.principal.role, a.principal.scope
            ));
        }
        a.principal.role = role;
        a.principal.scope = scope;
    }
    if let Some(d) = e.disabled
        && d != a.disabled
    {
        what.push(if d {
            "disabled".into()
        } else {
            "enabled".into()
        });
        a.disabled = d;
    }
    if let Some(hs) = e.households {
        let ids = hs
            .iter()
            .map(|h| DocumentId::parse_any(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AppError::BadRequest(format!("households: {e}")))?;
        what.push(format!("households {} → {}", a.households.len(), ids.len()));
        a.households = ids;
    }
    let store = state.store.clone();
    let saved = a.clone();
    let end = saved.disabled
        || what
            .iter()
            .any(|w| w.contains('→') && !w.starts_with("name") && !w.starts_with("households"));
    let ended = blocking(move || {
        store.put_accounts(std::slice::from_ref(&saved))?;
        // A disabled account, or one whose role or scope changed, signs in again.
        Ok(if end {
            store.revoke_user_tokens(saved.principal.user.as_str())?
        } else {
            0
        })
    })
    .await?;
    if end {
        state.sessions.end(Ended::User(id.clone()));
    }
    if !what.is_empty() {
        audit(
            &state,
            &user,
            "person.edit",
            &id,
            format!(
                "{}{}",
                what.join("; "),
                if ended > 0 {
                    format!(" ({ended} sessions ended)")
                } else {
                    String::new()
                }
            ),
        )?;
    }
    Ok(Json(person(&a)))
}

#[derive(Deserialize)]
pub(super) struct NewPassword {
    password: Option<String>,
}

/// Sets a new password (generated when not given) and ends the account's sessions.
pub(super) async fn reset_password(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    body: Option<Json<NewPassword>>,
) -> Result<Json<Value>, AppError> {
    admin_only(&user, "reset passwords")?;
    let (password, generated) = match body.and_then(|b| b.0.password) {
        Some(p) => {
            check_password(&p)?;
            (p, false)
        }
        None => (generated_password()?, true),
    };
    let store = state.store.clone();
    let who = id.clone();
    let pw = password.clone();
    let found = state
        .hasher
        .run(move || -> Result<bool, crate::store::StoreError> {
            let Some(mut a) = store.account(&who)? else {
                return Ok(false);
            };
            a.password_hash = auth::hash_password(&pw)?;
            store.put_accounts(std::slice::from_ref(&a))?;
            store.revoke_user_tokens(&who)?;
            Ok(true)
        })
        .await
        .ok_or_else(|| AppError::Internal("password hasher stopped".into()))??;
    if !found {
        return Err(AppError::NotFound(format!("no account {id} / 账号不存在")));
    }
    state.sessions.end(Ended::User(id.clone()));
    audit(
        &state,
        &user,
        "person.password",
        &id,
        "password reset, sessions ended".into(),
    )?;
    Ok(Json(if generated {
        json!({ "user": id, "password": password })
    } else {
        json!({ "user": id })
    }))
}

#[derive(Deserialize)]
pub(super) struct AuditQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// The audit log, newest first.
pub(super) async fn audit_log(
    State(state): State<AppState>,
    user: User,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, AppError> {
    admin_only(&user, "read the audit log")?;
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    blocking(move || {
        let items = store.audit_log(q.before, limit)?;
        let next = (items.len() == limit)
            .then(|| items.last().map(|e| e.seq))
            .flatten();
        Ok(Json(json!({ "items": items, "next": next })))
    })
    .await
}
