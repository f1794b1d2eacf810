//! From settings to a launch plan: the command line, environment, health URL, folders, and what
//! the profile can and cannot do. Pure, so every profile is unit-tested.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::redis_watcher::{RedisLayout, RedisSource};
use crate::settings::{ProfileKind, RestartMode, Settings};

/// How a server is asked to stop before its tree is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMethod {
    /// `POST /api/admin/shutdown` with the control token (embedded).
    AdminApi,
    /// SIGINT on Unix, like Ctrl-C in the console (python). On Windows there is no such
    /// signal for a windowless child: the tree is terminated.
    Interrupt,
    /// SIGTERM on Unix / terminate on Windows (custom).
    Terminate,
}

/// What the UI may offer for this profile; `why_not` explains what is greyed out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub health: bool,
    pub live_counts: bool,
    pub list_sessions: bool,
    pub revoke_session: bool,
    pub force_logout: bool,
    pub toggle_multiple_sessions: bool,
    pub graceful_stop: StopMethod,
    pub notes: Vec<String>,
}

/// Where one server generation listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// It binds the public address itself (restart mode "direct", or a custom command
    /// without `{port}`): restarts close the port for a moment.
    Public,
    /// It takes the supervisor's public socket, plus a control socket of its own on this
    /// loopback port (health checks, admin API).
    Handed { control_port: u16 },
    /// It listens on this private loopback port, behind the supervisor's door.
    Private { port: u16 },
}

impl Binding {
    /// The kind of binding these settings give, for a plan that is only looked at (port 0).
    pub fn preview(settings: &Settings) -> Self {
        use crate::door::DoorMode;
        match door_mode(settings) {
            None => Binding::Public,
            Some(DoorMode::Handover) => Binding::Handed { control_port: 0 },
            Some(DoorMode::Proxy) => Binding::Private { port: 0 },
        }
    }
}

/// Whether the supervisor holds the public port for these settings, and how.
pub fn door_mode(settings: &Settings) -> Option<crate::door::DoorMode> {
    use crate::door::DoorMode;
    match (settings.restart_mode, settings.profile) {
        (RestartMode::Direct, _) => None,
        (_, ProfileKind::Embedded) => Some(DoorMode::Handover),
        (_, ProfileKind::Python) => Some(DoorMode::Proxy),
        (_, ProfileKind::Custom) => settings
            .custom_command
            .as_deref()
            .is_some_and(|c| c.contains(PORT_PLACEHOLDER))
            .then_some(DoorMode::Proxy),
    }
}

/// In a custom command line (and its health URL): the private port it should listen on.
pub const PORT_PLACEHOLDER: &str = "{port}";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchPlan {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub binding: Binding,
    /// Where the supervisor reaches this server (health checks, admin API): its control
    /// socket, its private port, or the public address.
    pub api_url: String,
    pub health_url: Option<String>,
    /// Folders whose session files are counted.
    pub sessions_dirs: Vec<PathBuf>,
    /// Or the Redis that holds the sessions (then no folder is counted).
    pub sessions_redis: Option<RedisSource>,
    /// Or the door reads them: a YAM with Flask's signed-cookie sessions.
    pub sessions_at_door: Option<DoorCookies>,
    /// A Flask-Session YAM behind the door: its session ids are followed there, beside the
    /// folder or Redis that stays the source.
    pub session_ids_at_door: Option<SessionIdCookies>,
    /// Where YAM's marker files live.
    pub markers_dir: PathBuf,
    pub stop: StopMethod,
    pub capabilities: Capabilities,
}

/// Where things are on this machine.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The supervisor's data folder (the embedded server's too).
    pub data_dir: PathBuf,
    /// The yam-server binary for the embedded profile.
    pub server_bin: PathBuf,
    /// Python profile: what the YAM folder's sources say (how sessions are kept, the secret).
    pub yam: Option<crate::yam_folder::YamSources>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Settings(String),
    #[error(
        "no Python found: create a venv in the YAM folder, set `python`, or put python on PATH"
    )]
    NoPython,
}

/// The host part of URLs for talking to the server from this machine.
pub fn connect_host(host: &str) -> String {
    match host {
        "0.0.0.0" | "" => "127.0.0.1".into(),
        "::" | "[::]" => "[::1]".into(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.into(),
    }
}

/// The Redis that holds the sessions, when the settings name one.
pub fn redis_source(settings: &Settings) -> Option<RedisSource> {
    let url = settings.session_store.clone()?;
    let (layout, default_prefix) = match settings.profile {
        ProfileKind::Embedded => (RedisLayout::Yam, yam_sessions::store::DEFAULT_PREFIX),
        ProfileKind::Python => (RedisLayout::Flask, "session:"),
        ProfileKind::Custom => return None,
    };
    Some(RedisSource {
        url,
        prefix: settings
            .session_key_prefix
            .clone()
            .unwrap_or_else(|| default_prefix.to_owned()),
        layout,
    })
}

pub fn embedded_sessions_dir(settings: &Settings, paths: &Paths) -> PathBuf {
    settings
        .sessions_dir
        .clone()
        .unwrap_or_else(|| paths.data_dir.join("sessions"))
}

/// The session folders of a YAM checkout (Flask-Session's and YAM's own).
pub fn python_sessions_dirs(yam_dir: &Path) -> Vec<PathBuf> {
    ["sessions", "app/sessions", "flask_session"]
        .iter()
        .map(|d| yam_dir.join(d))
        .collect()
}

/// Picks the YAM folder's venv first (on Windows PATH may hold the Store's python stub).
pub fn find_python(
    yam_dir: &Path,
    configured: Option<&Path>,
    on_path: impl Fn(&str) -> Option<PathBuf>,
) -> Option<PathBuf> {
    let venv_bins: &[&str] = if cfg!(windows) {
        &["Scripts/python.exe"]
    } else {
        &["bin/python3", "bin/python"]
    };
    for venv in ["venv", ".venv"] {
        for bin in venv_bins {
            let candidate = yam_dir.join(venv).join(bin);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    if let Some(p) = configured {
        return Some(p.to_path_buf());
    }
    on_path("python3").or_else(|| on_path("python"))
}

fn flag_env(settings: &Settings) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if settings.multiple_sessions {
        env.push(("YAM_ALLOW_MULTIPLE_SESSIONS".into(), "1".into()));
    }
    if settings.conflict_resolution_effective() {
        env.push(("YAM_SESSION_CONFLICT_RESOLUTION".into(), "1".into()));
    }
    env
}

/// Where one generation listens and is reached, for the per-profile planners.
struct Seat {
    /// What the server is told to listen on.
    host: String,
    port: String,
    api_url: String,
    health: Option<String>,
    binding: Binding,
}

/// The address admins and users open (loopback when the server listens on every address).
pub fn public_url(settings: &Settings) -> String {
    format!("http://{}:{}", connect_host(&settings.host), settings.port)
}

/// Builds the launch plan. `clear` asks the server to end every session at start (only for a
/// start or restart the admin asked for); `binding` says where this generation listens.
pub fn plan(
    settings: &Settings,
    paths: &Paths,
    control_token: &str,
    clear: bool,
    binding: Binding,
    on_path: impl Fn(&str) -> Option<PathBuf>,
) -> Result<LaunchPlan, PlanError> {
    if let Some(e) = settings.validate().into_iter().next() {
        return Err(PlanError::Settings(e.to_string()));
    }
    // What the server is told to listen on, and where the supervisor reaches it.
    let (host, port, api_url) = match binding {
        Binding::Public => (
            settings.host.clone(),
            settings.port.to_string(),
            public_url(settings),
        ),
        Binding::Handed { control_port } => (
            settings.host.clone(),
            settings.port.to_string(),
            format!("http://127.0.0.1:{control_port}"),
        ),
        Binding::Private { port } => (
            "127.0.0.1".to_owned(),
            port.to_string(),
            format!("http://127.0.0.1:{port}"),
        ),
    };
    let at = Seat {
        host,
        port,
        api_url: api_url.clone(),
        health: Some(format!("{api_url}/api/health")),
        binding,
    };
    match settings.profile {
        ProfileKind::Embedded => Ok(embedded::plan(settings, paths, control_token, clear, at)),
        ProfileKind::Python => python::plan(settings, paths, at, on_path),
        ProfileKind::Custom => Ok(custom::plan(settings, paths, at)),
    }
}

/// Splits a command line into words: whitespace separates, double or single quotes group.
pub fn split_command_line(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

mod custom;
mod embedded;
mod python;

pub use python::{DoorCookies, SessionIdCookies};
#[cfg(test)]
mod tests;
