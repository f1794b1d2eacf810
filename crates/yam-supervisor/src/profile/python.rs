//! The Python YAM's plan: `python app/server.py …` as server.bat runs it (venv first,
//! `--no-reloader`), and where its sessions are seen: Flask-Session files or Redis, or — the
//! real YAM — Flask's signed cookies, read at the door.

use std::path::PathBuf;

use crate::settings::Settings;
use crate::yam_folder::SessionStorage;

use super::{
    Binding, Capabilities, LaunchPlan, Paths, PlanError, Seat, StopMethod, find_python, flag_env,
    python_sessions_dirs, redis_source,
};

/// How the door reads a signed-cookie YAM's sessions.
#[derive(Clone, PartialEq, Eq)]
pub struct DoorCookies {
    pub session_cookie: String,
    pub remember_cookie: String,
    pub id_fields: Vec<String>,
    pub name_field: String,
    /// YAM's secret keys (Settings first, else its sources); empty: unverified.
    pub secrets: Vec<String>,
    /// "Settings" or "YAM's sources", when there are secrets.
    pub secret_from: Option<&'static str>,
    /// A session with no expiry of its own: YAM's lifetime for the mode.
    pub lifetime_hours: u64,
}

impl std::fmt::Debug for DoorCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoorCookies")
            .field("session_cookie", &self.session_cookie)
            .field("remember_cookie", &self.remember_cookie)
            .field("id_fields", &self.id_fields)
            .field("name_field", &self.name_field)
            .field("secrets", &format!("{} (redacted)", self.secrets.len()))
            .field("secret_from", &self.secret_from)
            .field("lifetime_hours", &self.lifetime_hours)
            .finish()
    }
}

/// How the door follows a Flask-Session YAM's session ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionIdCookies {
    pub session_cookie: String,
    pub remember_cookie: String,
    /// Flask-Session's key prefix (`session:`): a session's file name is the hash of it and
    /// the id, its Redis key the two together.
    pub key_prefix: String,
    pub lifetime_hours: u64,
}

fn door_cookies(settings: &Settings, paths: &Paths) -> DoorCookies {
    let sources = paths.yam.as_ref();
    let (secrets, secret_from) = match (&settings.yam_secret_key, sources) {
        (Some(key), _) => (vec![key.clone()], Some("Settings")),
        (None, Some(y)) if !y.secrets.is_empty() => (y.secrets.clone(), Some("YAM's sources")),
        (None, _) => (Vec::new(), None),
    };
    DoorCookies {
        session_cookie: settings
            .session_cookie_name
            .clone()
            .or_else(|| sources.and_then(|y| y.session_cookie.clone()))
            .unwrap_or_else(|| "session".into()),
        remember_cookie: settings
            .remember_cookie_name
            .clone()
            .or_else(|| sources.and_then(|y| y.remember_cookie.clone()))
            .unwrap_or_else(|| "remember_token".into()),
        id_fields: settings
            .session_user_fields
            .as_deref()
            .unwrap_or("_user_id,user_id")
            .split(',')
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect(),
        name_field: settings
            .session_name_field
            .clone()
            .unwrap_or_else(|| "username".into()),
        secrets,
        secret_from,
        lifetime_hours: if settings.multiple_sessions { 4 } else { 2 },
    }
}

pub(super) fn plan(
    settings: &Settings,
    paths: &Paths,
    at: Seat,
    on_path: impl Fn(&str) -> Option<PathBuf>,
) -> Result<LaunchPlan, PlanError> {
    let yam_dir = settings.yam_dir.clone().unwrap_or_default();
    let python =
        find_python(&yam_dir, settings.python.as_deref(), on_path).ok_or(PlanError::NoPython)?;
    let mut args = vec![
        "app/server.py".into(),
        "--host".into(),
        at.host,
        "--port".into(),
        at.port,
        "--mode".into(),
        "web".into(),
        "--no-reloader".into(),
    ];
    if settings.debug {
        args.push("--debug".into());
    }
    if settings.multiple_sessions {
        args.push("--allow-multiple-sessions".into());
    }
    let mut env = flag_env(settings);
    env.push(("PYTHONUNBUFFERED".into(), "1".into()));
    let behind_door = matches!(at.binding, Binding::Private { .. });
    let signed_cookies = settings.session_store.is_none()
        && paths
            .yam
            .as_ref()
            .is_some_and(|y| y.storage == SessionStorage::SignedCookies);
    let cookies = door_cookies(settings, paths);
    let mut notes: Vec<String> = Vec::new();
    let countable = match (
        settings.session_store.is_some(),
        signed_cookies,
        behind_door,
    ) {
        (true, _, _) => {
            notes.push(
                "Sessions are counted in Redis, from Flask-Session's keys (SESSION_TYPE = \"redis\")."
                    .into(),
            );
            notes.push("Force logout deletes those keys.".into());
            true
        }
        (false, true, true) => {
            notes.push(match cookies.secret_from {
                Some(from) => format!(
                    "Sessions are Flask's signed cookies: counted, listed and ended at the door \
                     that every request passes; each cookie is checked with YAM's SECRET_KEY \
                     (from {from})."
                ),
                None => "Sessions are Flask's signed cookies, counted at the door, but YAM's \
                         SECRET_KEY was not found in its sources: the counts are what the \
                         cookies claim, unverified. Set it with `yamctl set yam_secret_key …`."
                    .into(),
            });
            notes.push(
                "Force logout and revoke take the session and remember cookies out of those \
                 browsers' requests: YAM shows them its login page."
                    .into(),
            );
            true
        }
        (false, true, false) => {
            notes.push(
                "Sessions are Flask's signed cookies: they are seen only at the door, which \
                 restart_mode \"direct\" turns off; no counts, and no way to end them."
                    .into(),
            );
            false
        }
        (false, false, _) => {
            notes.push(
                "Sessions are Flask-Session files in the YAM folder: counted, listed and ended there."
                    .into(),
            );
            true
        }
    };
    if behind_door && !signed_cookies {
        notes.push(
            "The door follows each session's id: the sessions table shows each browser's \
             address, browser and last activity, and a revoked or logged-out browser's \
             remember-me cookie is refused there until its user signs in again."
                .into(),
        );
    }
    if behind_door {
        notes.push(
            "YAM runs on a private port behind YAM Tray, which keeps the public port open \
             across restarts: YAM sees requests from 127.0.0.1, the browser's address is in \
             X-Forwarded-For."
                .into(),
        );
    }
    Ok(LaunchPlan {
        program: python,
        args,
        env,
        cwd: yam_dir.clone(),
        binding: at.binding,
        api_url: at.api_url,
        health_url: at.health,
        sessions_dirs: if settings.session_store.is_some() || signed_cookies {
            Vec::new()
        } else {
            python_sessions_dirs(&yam_dir)
        },
        sessions_redis: redis_source(settings),
        session_ids_at_door: (!signed_cookies && behind_door).then(|| SessionIdCookies {
            session_cookie: cookies.session_cookie.clone(),
            remember_cookie: cookies.remember_cookie.clone(),
            key_prefix: settings
                .session_key_prefix
                .clone()
                .unwrap_or_else(|| "session:".into()),
            lifetime_hours: cookies.lifetime_hours,
        }),
        sessions_at_door: (signed_cookies && behind_door).then_some(cookies),
        markers_dir: yam_dir,
        stop: StopMethod::Interrupt,
        capabilities: Capabilities {
            health: true,
            live_counts: countable,
            list_sessions: countable,
            revoke_session: countable,
            force_logout: countable,
            toggle_multiple_sessions: true,
            graceful_stop: StopMethod::Interrupt,
            notes,
        },
    })
}
