//! `GET /debug/session`: only registered with `--debug`, and only for admins.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::admin::admin_or_deny;
use crate::error::AppError;
use crate::state::SharedState;

pub async fn session(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let caller = admin_or_deny!(state, headers, peer);
    // The record never holds the session id, so nothing here can be replayed as a cookie.
    let session = caller.session().map(|a| {
        json!({
            "key": a.key.to_hex(),
            "record": *a.record,
            "time_remaining_seconds": state.sessions.time_remaining(&a.record).as_secs(),
        })
    });
    Ok(Json(json!({
        "success": true,
        "caller": caller.describe(),
        "server_epoch": state.sessions.epoch(),
        "session_mode": state.sessions.policy().mode,
        "session_conflict_resolution": state.sessions.conflict_resolution(),
        "sessions_dir": state.facts.sessions_dir,
        "data_dir": state.facts.data_dir,
        "session": session,
    }))
    .into_response())
}
