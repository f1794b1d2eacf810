//! HTTP handlers, one file per area.

pub mod admin;
pub mod debug;
pub mod force_logout;
pub mod home;
pub mod info;
pub mod login;
pub mod session_api;
pub mod users;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use yam_sessions::{SessionManager, SessionMode, SessionRecord};

use crate::error::AppError;
use crate::state::{AppState, SharedState};

/// Runs `work` on a blocking thread: anything that reads the session store or the user
/// database (a shared store answers over the network).
pub async fn blocking<T: Send + 'static>(
    state: &SharedState,
    work: impl FnOnce(&AppState) -> T + Send + 'static,
) -> Result<T, AppError> {
    let state = Arc::clone(state);
    Ok(tokio::task::spawn_blocking(move || work(&state)).await?)
}

/// The session fields YAM's clients read (`time_remaining_seconds`, `session_healthy`…).
/// A struct, not a `json!` map: this is the hottest answer the server gives.
#[derive(Debug, Serialize)]
pub struct SessionView<'a> {
    pub success: bool,
    pub session_healthy: bool,
    pub time_remaining_seconds: u64,
    pub time_remaining: u64,
    pub time_remaining_minutes: u64,
    pub user_id: i64,
    pub username: &'a str,
    pub created_at: String,
    pub last_activity: String,
    pub expires_at: String,
    pub expires_at_unix: i64,
    pub session_mode: SessionMode,
    pub multiple_sessions: bool,
    pub session_lifetime_hours: u64,
    pub session_lifetime_minutes: u64,
}

impl<'a> SessionView<'a> {
    pub fn new(sessions: &SessionManager, record: &'a SessionRecord) -> Self {
        let remaining = sessions.time_remaining(record).as_secs();
        let lifetime = sessions.policy().lifetime().as_secs();
        Self {
            success: true,
            session_healthy: remaining > 0,
            time_remaining_seconds: remaining,
            time_remaining: remaining,
            time_remaining_minutes: remaining / 60,
            user_id: record.user_id,
            username: &record.username,
            created_at: record.created.to_rfc3339(),
            last_activity: record.last_seen.to_rfc3339(),
            expires_at: record.expires_at.to_rfc3339(),
            expires_at_unix: record.expires_at.as_secs(),
            session_mode: record.mode,
            multiple_sessions: sessions.policy().mode == SessionMode::Multiple,
            session_lifetime_hours: lifetime / 3600,
            session_lifetime_minutes: lifetime / 60,
        }
    }
}

pub fn session_json(sessions: &SessionManager, record: &SessionRecord) -> Value {
    let mut v = serde_json::to_value(SessionView::new(sessions, record)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.remove("success");
    }
    v
}

/// A session body with `success: true` and `extra` fields added.
pub fn ok_with_session(sessions: &SessionManager, record: &SessionRecord, extra: Value) -> Value {
    let mut body = serde_json::to_value(SessionView::new(sessions, record)).unwrap_or(Value::Null);
    if let (Value::Object(map), Value::Object(extra)) = (&mut body, extra) {
        map.extend(extra);
    }
    body
}
