//! HTTP handlers, one file per area.

pub mod admin;
pub mod debug;
pub mod force_logout;
pub mod home;
pub mod info;
pub mod login;
pub mod session_api;

use serde_json::{Value, json};
use yam_sessions::{SessionManager, SessionRecord};

/// The session fields YAM's clients read (`time_remaining_seconds`, `session_healthy`…).
pub fn session_json(sessions: &SessionManager, record: &SessionRecord) -> Value {
    let remaining = sessions.time_remaining(record).as_secs();
    let lifetime = sessions.policy().lifetime().as_secs();
    json!({
        "session_healthy": remaining > 0,
        "time_remaining_seconds": remaining,
        "time_remaining": remaining,
        "time_remaining_minutes": remaining / 60,
        "user_id": record.user_id,
        "username": record.username,
        "created_at": record.created.to_rfc3339(),
        "last_activity": record.last_seen.to_rfc3339(),
        "expires_at": record.expires_at.to_rfc3339(),
        "expires_at_unix": record.expires_at.as_secs(),
        "session_mode": record.mode,
        "multiple_sessions": sessions.policy().mode == yam_sessions::SessionMode::Multiple,
        "session_lifetime_hours": lifetime / 3600,
        "session_lifetime_minutes": lifetime / 60,
    })
}

/// Adds `success: true` and `extra` to a session body.
pub fn ok_with_session(sessions: &SessionManager, record: &SessionRecord, extra: Value) -> Value {
    let mut body = session_json(sessions, record);
    if let (Value::Object(map), Value::Object(extra)) = (&mut body, extra) {
        map.insert("success".into(), Value::Bool(true));
        map.extend(extra);
    }
    body
}
