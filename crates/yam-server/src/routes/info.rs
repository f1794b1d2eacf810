//! Public, read-only probes: `/api/health` and `/api/server-info` (they never renew a
//! session), and the tab icon.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use yam_sessions::{Access, SessionMode};

use super::session_json;
use crate::auth::{self, Check};
use crate::error::AppError;
use crate::state::SharedState;

/// Always 200 while the process serves: a supervisor must not restart a server because
/// Redis is down (a restart cannot fix that). The body says what works.
pub async fn health(State(state): State<SharedState>) -> Json<Value> {
    let uptime = state.facts.started.until(state.sessions.now()).as_secs();
    // A folder store always answers; a shared one is asked (a network round trip).
    let store_ok = !state.sessions.store().is_shared() || {
        let sessions = Arc::clone(&state.sessions);
        tokio::task::spawn_blocking(move || sessions.store().check())
            .await
            .is_ok_and(|checked| checked.is_ok())
    };
    Json(json!({
        "status": if store_ok { "ok" } else { "degraded" },
        "healthy": store_ok,
        "store": if store_ok { "ok" } else { "unavailable" },
        "version": state.facts.version,
        "uptime_seconds": uptime,
    }))
}

pub async fn server_info(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let check = auth::check(&state, &headers, Access::Probe).await?;
    let policy = state.sessions.policy();
    let lifetime = policy.lifetime().as_secs();
    let multiple = policy.mode == SessionMode::Multiple;
    let mut features = vec![
        "sliding_expiry",
        if state.sessions.store().is_shared() {
            "redis_sessions"
        } else {
            "file_sessions"
        },
        "damaged_session_repair",
        "restart_safe_sessions",
    ];
    if multiple {
        features.push("multiple_sessions");
    }
    if state.sessions.conflict_resolution() {
        features.push("session_conflict_resolution");
    }
    let session = match &check {
        Check::Valid(a) => session_json(&state.sessions, &a.record),
        _ => Value::Null,
    };
    let body = Json(json!({
        "name": "YAM",
        "server": "yam-server",
        "version": state.facts.version,
        "startup_time": state.facts.started.to_rfc3339(),
        "startup_timestamp": state.facts.started.as_secs(),
        "mode": state.facts.run_mode,
        "debug": state.facts.debug,
        "on_restart": state.facts.on_restart.as_str(),
        "multiple_sessions": multiple,
        "session_mode": policy.mode,
        "session_conflict_resolution": state.sessions.conflict_resolution(),
        "session_lifetime_hours": lifetime / 3600,
        "session_lifetime_minutes": lifetime / 60,
        "session_lifetime_seconds": lifetime,
        "features": features,
        "authenticated": matches!(check, Check::Valid(_)),
        "session": session,
    }));
    let mut response = body.into_response();
    // A stale cookie gets cleared here too, without a 401: this endpoint is public.
    if let Check::Ended(_) = check {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, auth::clear_cookie());
    }
    Ok(response)
}

/// YAM Tray's icon for the browser tab (a missing one is a 404 in every page load's log).
pub async fn favicon() -> Response {
    const ICON: &[u8] = include_bytes!("../../../../icons/icon.ico");
    (
        [
            (header::CONTENT_TYPE, "image/x-icon"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
        .into_response()
}
