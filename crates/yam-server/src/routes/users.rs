//! Users, for admins: `GET/POST /api/admin/users`, `PATCH/DELETE /api/admin/users/{name}`.
//! Admin session or control token, the same cross-site rules as every JSON action. A new or
//! reset password is typed by the admin or generated (and then returned once). A new
//! password, a disabled account or a removed user ends that user's sessions. The last active
//! admin can never be removed, disabled or demoted (users/changes.rs).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use yam_sessions::{EndReason, Timestamp, UserId};

use super::admin::{SOON, admin_or_deny, bad_request};
use super::blocking;
use crate::error::{AppError, failure};
use crate::state::{AppState, SharedState};
use crate::users::{UserChange, UserError, UserRow, passwords};

/// Live sessions per user, counted once per answer.
fn live_per_user(state: &AppState) -> Result<BTreeMap<UserId, usize>, AppError> {
    Ok(state.sessions.counts(SOON)?.per_user)
}

fn user_json(user: &UserRow, live_per_user: &BTreeMap<UserId, usize>) -> Value {
    let live = live_per_user.get(&user.info.id).copied().unwrap_or(0);
    json!({
        "username": user.info.username,
        "email": user.email,
        "admin": user.info.is_admin,
        "disabled": !user.info.is_active,
        "live_sessions": live,
        "created_at": Timestamp::from_secs(user.created_at).to_rfc3339(),
        "last_login": user.last_login_at.map(|t| Timestamp::from_secs(t).to_rfc3339()),
    })
}

/// A refusal the admin can act on (400, 404, 409); anything else is a server error.
fn refusal(e: UserError) -> Result<Response, AppError> {
    let status = match &e {
        UserError::NotFound(_) => StatusCode::NOT_FOUND,
        UserError::Exists(_) | UserError::LastAdmin(_) => StatusCode::CONFLICT,
        UserError::InvalidName(_) | UserError::InvalidEmail(_) | UserError::WeakPassword => {
            StatusCode::BAD_REQUEST
        }
        UserError::Ambiguous(_) => StatusCode::CONFLICT,
        _ => return Err(AppError::Users(e)),
    };
    Ok(failure(status, &e.to_string()))
}

/// The password to set: the one given (checked), or a generated one (returned once).
async fn new_password(
    state: &AppState,
    given: Option<String>,
) -> Result<Result<(String, Option<String>), UserError>, AppError> {
    let (password, generated) = match given {
        Some(p) => (p, None),
        None => {
            let p = passwords::generate_password()
                .map_err(|e| AppError::BadRequest(format!("no OS randomness: {e}")))?;
            (p.clone(), Some(p))
        }
    };
    if let Err(e) = passwords::check_strength(&password) {
        return Ok(Err(e));
    }
    let hash = state
        .passwords
        .hash(password)
        .await
        .ok_or_else(|| AppError::BadRequest("the password could not be hashed".into()))?;
    Ok(Ok((hash, generated)))
}

pub async fn list(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let _caller = admin_or_deny!(state, headers, peer);
    let (mut users, live) = blocking(&state, |s| {
        Ok::<_, AppError>((s.users.list()?, live_per_user(s)?))
    })
    .await??;
    users.sort_by_cached_key(|u| u.info.username.to_lowercase());
    let items: Vec<Value> = users.iter().map(|u| user_json(u, &live)).collect();
    Ok(Json(json!({ "success": true, "users": items })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: Option<String>,
    email: Option<String>,
    #[serde(default)]
    admin: bool,
}

pub async fn add(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Option<Json<NewUser>>,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    let Some(Json(new)) = body else {
        return Ok(bad_request(
            "Send the new user as JSON: {\"username\", \"password\"?, \"email\"?, \"admin\"?}.",
        ));
    };
    let (hash, generated) = match new_password(&state, new.password).await? {
        Ok(p) => p,
        Err(e) => return refusal(e),
    };
    let email = new.email.filter(|e| !e.trim().is_empty());
    let (name, admin) = (new.username.trim().to_owned(), new.admin);
    let added = blocking(&state, move |s| {
        let added = s
            .users
            .add(&name, email.as_deref(), &hash, admin)
            .and_then(|_| {
                s.users
                    .find_by_username(&name)?
                    .ok_or(UserError::NotFound(name))
            });
        Ok::<_, AppError>(match added {
            Ok(user) => Ok((user, live_per_user(s)?)),
            Err(e) => Err(e),
        })
    })
    .await??;
    let (user, live) = match added {
        Ok(u) => u,
        Err(e) => return refusal(e),
    };
    tracing::info!(user = %user.info.username, admin = user.info.is_admin, by = %caller.describe(), "User added");
    let mut body = json!({ "success": true, "user": user_json(&user, &live) });
    if let Some(p) = generated {
        body["generated_password"] = p.into();
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    password: Option<String>,
    #[serde(default)]
    generate_password: bool,
    /// `null` removes the email.
    #[serde(default, with = "serde_with_null")]
    email: Option<Option<String>>,
    admin: Option<bool>,
    disabled: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod serde_with_null {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

pub async fn update(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Option<Json<UserPatch>>,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    let Some(Json(patch)) = body else {
        return Ok(bad_request(
            "Send the change as JSON: {\"password\"?, \"generate_password\"?, \"email\"?, \"admin\"?, \"disabled\"?}.",
        ));
    };
    let mut change = UserChange {
        email: patch.email.map(|e| e.filter(|e| !e.trim().is_empty())),
        is_admin: patch.admin,
        is_active: patch.disabled.map(|d| !d),
        password_hash: None,
    };
    let mut generated = None;
    if patch.password.is_some() || patch.generate_password {
        let given = if patch.generate_password {
            None
        } else {
            patch.password
        };
        match new_password(&state, given).await? {
            Ok((hash, g)) => {
                change.password_hash = Some(hash);
                generated = g;
            }
            Err(e) => return refusal(e),
        }
    }
    let ends = change.ends_sessions();
    let updated = blocking(&state, move |s| {
        let user = match s.users.update(&name, &change) {
            Ok(user) => user,
            Err(e) => return Ok(Err(e)),
        };
        let reason = if change.is_active == Some(false) {
            EndReason::UserInvalid
        } else {
            EndReason::Revoked
        };
        // A failure here is the store's (Redis down, folder read-only): the change is saved,
        // and the caller hears that the sessions could not be ended rather than a silent 0.
        let ended = if ends {
            s.sessions.end_user(user.info.id, reason)?
        } else {
            0
        };
        Ok::<_, AppError>(Ok((user, ended, live_per_user(s)?)))
    })
    .await??;
    let (user, ended, live) = match updated {
        Ok(u) => u,
        Err(e) => return refusal(e),
    };
    tracing::info!(user = %user.info.username, sessions_ended = ended, by = %caller.describe(), "User changed");
    let mut body = json!({
        "success": true,
        "user": user_json(&user, &live),
        "sessions_ended": ended,
    });
    if let Some(p) = generated {
        body["generated_password"] = p.into();
    }
    Ok(Json(body).into_response())
}

pub async fn remove(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    let removed = blocking(&state, move |s| {
        let user = match s.users.remove(&name) {
            Ok(user) => user,
            Err(e) => return Ok(Err(e)),
        };
        let ended = s.sessions.end_user(user.info.id, EndReason::UserInvalid)?;
        Ok::<_, AppError>(Ok((user, ended)))
    })
    .await??;
    let (user, ended) = match removed {
        Ok(u) => u,
        Err(e) => return refusal(e),
    };
    tracing::info!(user = %user.info.username, sessions_ended = ended, by = %caller.describe(), "User removed");
    Ok(Json(json!({ "success": true, "sessions_ended": ended })).into_response())
}
