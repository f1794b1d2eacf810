//! Admin JSON API: sessions (paged), revoke, stats, clear all, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use yam_sessions::{EndReason, SessionKey, SessionMode, SessionSummary, UserId};

use crate::admin_auth::Caller;
use crate::error::{AppError, failure};
use crate::state::{AppState, SharedState, Stop};

/// "Expiring soon" in stats: the next ten minutes.
pub const SOON: Duration = Duration::from_secs(600);
const DEFAULT_PER_PAGE: usize = 100;
const MAX_PER_PAGE: usize = 1000;

macro_rules! admin_or_deny {
    ($state:expr, $headers:expr, $peer:expr) => {
        match $crate::admin_auth::admin_caller(
            &$state,
            &$headers,
            $peer,
            yam_sessions::Access::Probe,
        )
        .await?
        {
            Ok(caller) => caller,
            Err(denied) => return Ok(denied.into_json()),
        }
    };
}
pub(crate) use admin_or_deny;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    user: Option<String>,
}

fn session_item(state: &AppState, s: &SessionSummary, current: Option<&SessionKey>) -> Value {
    let r = &s.record;
    json!({
        "key": s.key.to_hex(),
        "user_id": r.user_id,
        "username": r.username,
        "created_at": r.created.to_rfc3339(),
        "last_activity": r.last_seen.to_rfc3339(),
        "expires_at": r.expires_at.to_rfc3339(),
        "expires_in_seconds": state.sessions.time_remaining(r).as_secs(),
        "ip": r.client.ip,
        "user_agent": r.client.user_agent,
        "mode": r.mode,
        "from_this_start": r.epoch == state.sessions.epoch(),
        "current": Some(&s.key) == current,
    })
}

pub async fn list_sessions(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    let now = state.sessions.now();
    let user = q
        .user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let mut sessions: Vec<SessionSummary> = super::blocking(&state, move |s| {
        Ok::<_, AppError>(match user {
            Some(name) => match s.users.find_by_username(&name)? {
                Some(u) => s.sessions.store().list_by_user(u.info.id)?,
                None => Vec::new(),
            },
            None => s.sessions.store().list()?,
        })
    })
    .await??;
    sessions.retain(|s| !s.record.is_expired(now));
    sessions.sort_unstable_by(|a, b| {
        b.record
            .last_seen
            .cmp(&a.record.last_seen)
            .then_with(|| a.key.cmp(&b.key))
    });
    let per_page = q
        .per_page
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let total = sessions.len();
    let pages = total.div_ceil(per_page).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let current = caller.session().map(|a| a.key);
    let items: Vec<Value> = sessions
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|s| session_item(&state, s, current.as_ref()))
        .collect();
    Ok(Json(json!({
        "success": true,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": pages,
        "sessions": items,
    }))
    .into_response())
}

pub async fn revoke_session(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    let Some(key) = SessionKey::parse_hex(&key) else {
        return Ok(bad_request(
            "A session key is 64 lowercase hexadecimal characters.",
        ));
    };
    let sessions = Arc::clone(&state.sessions);
    let ended =
        tokio::task::spawn_blocking(move || sessions.end(&key, EndReason::Revoked)).await??;
    if !ended {
        return Ok(failure(
            StatusCode::NOT_FOUND,
            "No such session (it may have ended already).",
        ));
    }
    tracing::info!(session = %key.short(), by = %caller.describe(), "Session revoked");
    Ok(Json(json!({ "success": true, "revoked": key.to_hex() })).into_response())
}

#[derive(Debug, Deserialize)]
pub struct UserQuery {
    user_id: UserId,
}

/// `DELETE /api/admin/sessions?user_id=N`: ends every session of one user (the `user passwd`
/// and `user remove` commands call it on a running server, so the server itself ends them
/// under its own locks and no renewal in flight can bring one back).
pub async fn end_user_sessions(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<UserQuery>,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    let sessions = Arc::clone(&state.sessions);
    let user_id = q.user_id;
    let ended = tokio::task::spawn_blocking(move || sessions.end_user(user_id, EndReason::Revoked))
        .await??;
    tracing::info!(user_id, ended, by = %caller.describe(), "Ended the sessions of one user");
    Ok(Json(json!({ "success": true, "sessions_ended": ended })).into_response())
}

pub async fn stats(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let _caller = admin_or_deny!(state, headers, peer);
    Ok(Json(super::blocking(&state, stats_json).await??).into_response())
}

pub fn stats_json(state: &AppState) -> Result<Value, AppError> {
    let counts = state.sessions.counts(SOON)?;
    let per_user: Vec<Value> = counts
        .per_user
        .iter()
        .map(|(id, n)| {
            let name = state.users_name(*id);
            json!({ "user_id": id, "username": name, "sessions": n })
        })
        .collect();
    let policy = state.sessions.policy();
    Ok(json!({
        "success": true,
        "live_sessions": counts.live,
        "users": counts.users,
        "per_user": per_user,
        "expiring_soon": counts.expiring_soon,
        "expiring_soon_window_seconds": SOON.as_secs(),
        "damaged": counts.damaged,
        "multiple_sessions": policy.mode == SessionMode::Multiple,
        "session_lifetime_hours": policy.lifetime().as_secs() / 3600,
        "uptime_seconds": state.facts.started.until(state.sessions.now()).as_secs(),
    }))
}

impl AppState {
    fn users_name(&self, id: i64) -> Option<String> {
        use yam_sessions::UserDirectory as _;
        self.users.lookup(id).ok().flatten().map(|u| u.username)
    }
}

/// Ends every session; shared by `POST /admin/clear-sessions` and `POST /force-logout`.
pub async fn end_all_sessions(state: &SharedState, caller: &Caller) -> Result<usize, AppError> {
    let sessions = Arc::clone(&state.sessions);
    let ended =
        tokio::task::spawn_blocking(move || sessions.end_all(EndReason::ForceLogout)).await??;
    tracing::warn!(ended, by = %caller.describe(), "Force logout: all sessions ended");
    Ok(ended)
}

pub async fn clear_sessions(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    let ended = end_all_sessions(&state, &caller).await?;
    Ok(Json(json!({
        "success": true,
        "sessions_ended": ended,
        "message": format!(
            "Ended {}; everyone must log in again.",
            yam_sessions::words::count(ended, "session")
        ),
    }))
    .into_response())
}

/// `?handover=1`: a newer server on the same socket takes over (the supervisor restarts).
#[derive(Debug, Default, Deserialize)]
pub struct ShutdownQuery {
    #[serde(default)]
    handover: Option<String>,
}

pub async fn shutdown(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<ShutdownQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    let why = match query.handover.as_deref() {
        Some("1" | "true") => Stop::Handover,
        _ => Stop::Shutdown,
    };
    match why {
        Stop::Handover => tracing::info!(
            by = %caller.describe(),
            "Handing over to a new server: no new connections here; finishing requests in flight"
        ),
        Stop::Shutdown => {
            tracing::info!(by = %caller.describe(), "Shutdown requested over the admin API")
        }
    }
    let stop = state.stop.clone();
    let signal = move || {
        stop.send_if_modified(|current| {
            let first = current.is_none();
            current.get_or_insert(why);
            first
        })
    };
    match why {
        // At once: when the supervisor hears the answer, this server takes no new
        // connection (requests in flight, this answer included, still finish).
        Stop::Handover => {
            signal();
        }
        Stop::Shutdown => {
            tokio::spawn(async move {
                // Let this answer leave before connections are closed.
                tokio::time::sleep(Duration::from_millis(100)).await;
                signal();
            });
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "success": true, "message": "Shutting down gracefully." })),
    )
        .into_response())
}

pub(super) fn bad_request(message: &str) -> Response {
    failure(StatusCode::BAD_REQUEST, message)
}
