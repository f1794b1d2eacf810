//! Names of YAM's marker files, shared by the server and the supervisor.

/// Ends every session when it appears; the server deletes it after clearing.
pub const FORCE_SESSION_RESET: &str = "force_session_reset.txt";
/// Written at clean shutdown; removed at start.
pub const SERVER_SHUTDOWN: &str = "server_shutdown_marker.txt";
/// Written at start.
pub const SERVER_STARTUP: &str = "server_startup_marker.txt";
/// Turns multiple sessions on.
pub const MULTIPLE_SESSIONS_ALLOWED: &str = "multiple_sessions_allowed.txt";
/// Turns session conflict resolution on.
pub const SESSION_CONFLICT_RESOLUTION: &str = "session_conflict_resolution.txt";
/// Left by YAM after a session conflict; stale at the next start.
pub const SESSION_CONFLICT: &str = "session_conflict_marker.txt";
