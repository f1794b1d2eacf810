//! `/api/session/*` and `/session-status`: JSON only, 401 JSON (never a redirect) without a
//! valid session.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use yam_sessions::{Access, EndReason};

use super::{SessionView, ok_with_session};
use crate::auth::{self, Check};
use crate::error::AppError;
use crate::state::SharedState;

/// Read-only countdown: does not renew, so an idle tab that only polls still expires.
pub async fn time_remaining(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    Ok(match auth::check(&state, &headers, Access::Probe).await? {
        Check::Valid(a) => Json(SessionView::new(&state.sessions, &a.record)).into_response(),
        other => auth::api_unauthorized(&other),
    })
}

/// Same answer as `time-remaining`, for YAM's status checks; a probe too.
pub async fn session_status(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    Ok(match auth::check(&state, &headers, Access::Probe).await? {
        Check::Valid(a) => Json(ok_with_session(
            &state.sessions,
            &a.record,
            json!({ "authenticated": true, "is_admin": a.user.is_admin }),
        ))
        .into_response(),
        other => auth::api_unauthorized(&other),
    })
}

/// User activity: renews the sliding expiry (in memory; written within about a minute).
pub async fn activity(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    Ok(
        match auth::check(&state, &headers, Access::Activity).await? {
            Check::Valid(a) => Json(ok_with_session(
                &state.sessions,
                &a.record,
                json!({ "message": "Activity recorded" }),
            ))
            .into_response(),
            other => auth::api_unauthorized(&other),
        },
    )
}

/// Explicit extension: renews and writes to disk at once.
pub async fn extend(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let auth = match auth::check(&state, &headers, Access::Activity).await? {
        Check::Valid(a) => a,
        other => return Ok(auth::api_unauthorized(&other)),
    };
    let sessions = state.sessions.clone();
    let extended = tokio::task::spawn_blocking(move || sessions.extend(&auth)).await??;
    Ok(match extended {
        Some(record) => Json(ok_with_session(
            &state.sessions,
            &record,
            json!({ "message": "Session extended" }),
        ))
        .into_response(),
        None => auth::api_unauthorized(&Check::Ended(EndReason::LoggedOut)),
    })
}

/// Ends the caller's session. Idempotent: without a session it still answers success.
pub async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let check = auth::check(&state, &headers, Access::Probe).await?;
    let was_logged_in = if let Check::Valid(a) = &check {
        let sessions = state.sessions.clone();
        let key = a.key;
        tokio::task::spawn_blocking(move || sessions.end(&key, EndReason::LoggedOut)).await??;
        tracing::info!(user = %a.user.username, session = %a.key.short(), "User logged out");
        true
    } else {
        false
    };
    let mut response = (
        StatusCode::OK,
        Json(json!({
            "success": true,
            "message": if was_logged_in { "Logged out" } else { "No active session" },
            "redirect": "/login",
        })),
    )
        .into_response();
    if check.had_cookie() {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, auth::clear_cookie());
    }
    Ok(response)
}
