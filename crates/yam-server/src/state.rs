//! Shared state handed to every handler.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;
use yam_sessions::{SessionManager, Timestamp};

use crate::cli::OnRestart;
use crate::control_token::ControlToken;
use crate::throttle::LoginThrottle;
use crate::users::Users;
use crate::users::passwords::PasswordChecker;

/// Facts about this server start, reported by `/api/server-info`.
#[derive(Clone, Debug)]
pub struct ServerFacts {
    pub version: &'static str,
    pub started: Timestamp,
    pub run_mode: &'static str,
    pub debug: bool,
    pub on_restart: OnRestart,
    pub data_dir: PathBuf,
    /// The sessions folder (None: sessions are in a shared store).
    pub sessions_dir: Option<PathBuf>,
    /// Where sessions are: `folder …` or `redis (key prefix …)`.
    pub store: String,
    /// The name sent in `X-YAM-Instance` (several servers behind a balancer).
    pub instance: Option<String>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::forwarded::TrustedProxies,
    /// The open-files limit after raising it (None: no such limit here).
    pub open_files: Option<yam_net::OpenFiles>,
}

pub struct AppState {
    pub sessions: Arc<SessionManager>,
    pub users: Arc<Users>,
    pub passwords: PasswordChecker,
    pub facts: ServerFacts,
    pub control_token: ControlToken,
    /// Secret behind the CSRF tokens of HTML forms (per start, or shared by a deployment).
    pub form_secret: [u8; 32],
    pub throttle: Mutex<LoginThrottle>,
    /// Set to stop the server gracefully (`/api/admin/shutdown`, signals).
    pub stop: watch::Sender<Option<Stop>>,
}

pub type SharedState = Arc<AppState>;

/// Why the server stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// For good (Ctrl-C, SIGTERM, the admin API): write the shutdown marker.
    Shutdown,
    /// A newer server on the same socket takes over (the supervisor's restart): finish the
    /// requests in flight and leave the marker files and the control token to it.
    Handover,
}
