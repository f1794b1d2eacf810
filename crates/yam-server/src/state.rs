//! Shared state handed to every handler.

use std::sync::Arc;

use yam_sessions::{SessionManager, Timestamp};

use crate::cli::OnRestart;
use crate::users::UserStore;
use crate::users::passwords::PasswordChecker;

/// Facts about this server start, reported by `/api/server-info`.
#[derive(Clone, Debug)]
pub struct ServerFacts {
    pub version: &'static str,
    pub started: Timestamp,
    pub run_mode: &'static str,
    pub debug: bool,
    pub on_restart: OnRestart,
}

pub struct AppState {
    pub sessions: Arc<SessionManager>,
    pub users: Arc<UserStore>,
    pub passwords: PasswordChecker,
    pub facts: ServerFacts,
}

pub type SharedState = Arc<AppState>;
