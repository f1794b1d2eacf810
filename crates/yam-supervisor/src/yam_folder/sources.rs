//! What a YAM folder's sources say, read as text (never imported): how YAM keeps its sessions,
//! its `SECRET_KEY` candidates and its cookie names.

use std::path::Path;

use regex::Regex;
use serde::Serialize;

/// Source files read at most, and bytes per file.
const MAX_FILES: usize = 400;
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where a YAM keeps its sessions, as its source says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionStorage {
    /// Flask-Session files: counted, listed and ended by the tray.
    Files,
    /// Flask-Session in Redis.
    Redis,
    /// Flask's own signed cookies: counted and ended at the door.
    SignedCookies,
    /// Flask-Session with another backend (named).
    Other { backend: String },
    /// Flask-Session is used, but its backend is not in the files read.
    Unknown,
}

impl SessionStorage {
    /// One sentence for the admin.
    pub fn sentence(&self) -> String {
        match self {
            SessionStorage::Files => {
                "YAM keeps sessions in files (Flask-Session: Session(app) is called): the tray \
                counts them, lists them and can end them."
                    .into()
            }
            SessionStorage::Redis => {
                "YAM keeps sessions in Redis (Flask-Session): the tray counts \
                them when it can reach that Redis."
                    .into()
            }
            SessionStorage::SignedCookies => "YAM keeps sessions in Flask's signed cookies \
                (Flask-Session is not set up with Session(app)): they are counted, listed and \
                ended at the tray's door, which every request passes."
                .into(),
            SessionStorage::Other { backend } => format!(
                "YAM keeps sessions with Flask-Session's {backend} backend, which the tray cannot \
                 read: no session counts."
            ),
            SessionStorage::Unknown => "YAM uses Flask-Session, but its files do not say where \
                sessions go: counts appear only if they are files in sessions/, app/sessions/ or \
                flask_session/."
                .into(),
        }
    }
}

/// Whether the sources really set Flask-Session up: it is imported, and `Session(app)` is
/// called, or a `Session()` is made and `init_app` called. A `SESSION_TYPE` setting alone
/// does nothing (YAM sets one and still keeps Flask's signed cookies).
fn flask_session_set_up<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> bool {
    let (Ok(called), Ok(made), Ok(init)) = (
        Regex::new(r"(?m)^[^#\n]*\bSession\s*\(\s*[A-Za-z_][A-Za-z0-9_.]*\s*\)"),
        Regex::new(r"(?m)^[^#\n]*\bSession\s*\(\s*\)"),
        Regex::new(r"(?m)^[^#\n]*\.init_app\s*\("),
    ) else {
        return false;
    };
    let imported = sources
        .clone()
        .into_iter()
        .any(|(_, t)| t.contains("flask_session") || t.contains("flask.ext.session"));
    let any = |re: &Regex| sources.clone().into_iter().any(|(_, t)| re.is_match(t));
    imported && (any(&called) || (any(&made) && any(&init)))
}

/// Reads how YAM keeps sessions from its source files (`name`, text).
pub fn session_storage<'a>(
    sources: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
) -> SessionStorage {
    if !flask_session_set_up(sources.clone()) {
        return SessionStorage::SignedCookies;
    }
    // SESSION_TYPE = "redis", app.config["SESSION_TYPE"] = 'filesystem', SESSION_TYPE: redis
    // (YAML), SESSION_TYPE=filesystem (.env).
    let Ok(setting) = Regex::new(r#"SESSION_TYPE["']?\s*\]?\s*[:=]\s*["']?([A-Za-z_]+)"#) else {
        return SessionStorage::Unknown;
    };
    for (_, text) in sources {
        if let Some(found) = setting.captures(text).and_then(|c| c.get(1)) {
            return match found.as_str().to_ascii_lowercase().as_str() {
                "filesystem" | "cachelib" => SessionStorage::Files,
                "redis" => SessionStorage::Redis,
                "null" | "none" => SessionStorage::SignedCookies,
                other => SessionStorage::Other {
                    backend: other.to_owned(),
                },
            };
        }
    }
    SessionStorage::Unknown
}

/// YAM's `SECRET_KEY` candidates, as its sources set them: every string on the right of an
/// assignment to it (`SECRET_KEY = os.environ.get("SECRET_KEY") or "…"`,
/// `app.config["SECRET_KEY"] = "…"`, `SECRET_KEY: "…"`, `SECRET_KEY=…` in `.env`), at most 8.
/// Each is tried when checking a cookie's signature; a wrong one never verifies anything.
pub fn secret_keys<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let (Ok(assignment), Ok(literal)) = (
        Regex::new(r#"(?m)SECRET_KEY["']?\s*\]?\s*[:=]\s*(.*)$"#),
        Regex::new(r#""([^"\\\n]{1,512})"|'([^'\\\n]{1,512})'"#),
    ) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = Vec::new();
    for (name, text) in sources {
        for rest in assignment.captures_iter(text).filter_map(|c| c.get(1)) {
            let rest = rest.as_str().trim();
            let mut found: Vec<String> = literal
                .captures_iter(rest)
                .filter_map(|c| c.get(1).or_else(|| c.get(2)))
                .map(|m| m.as_str().to_owned())
                .filter(|k| k != "SECRET_KEY")
                .collect();
            if found.is_empty() && name == ".env" && !rest.is_empty() {
                found.push(rest.to_owned());
            }
            for k in found {
                if !keys.contains(&k) && keys.len() < 8 {
                    keys.push(k);
                }
            }
        }
    }
    keys
}

/// What a YAM folder's sources say about its sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamSources {
    pub storage: SessionStorage,
    /// `SECRET_KEY` candidates (see `secret_keys`).
    pub secrets: Vec<String>,
    /// `SESSION_COOKIE_NAME`, `REMEMBER_COOKIE_NAME` when set there.
    pub session_cookie: Option<String>,
    pub remember_cookie: Option<String>,
}

/// The first name assigned to `setting` (`SESSION_COOKIE_NAME = "yam_session"`).
fn name_setting<'a>(
    setting: &str,
    sources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let re = Regex::new(&format!(
        r#"{setting}["']?\s*\]?\s*[:=]\s*["']([A-Za-z0-9_.-]{{1,64}})["']"#
    ))
    .ok()?;
    sources
        .into_iter()
        .find_map(|(_, t)| re.captures(t)?.get(1).map(|m| m.as_str().to_owned()))
}

/// Reads a YAM folder's sources (blocking: up to `MAX_FILES` files).
pub fn read_sources(folder: &Path) -> YamSources {
    let sources = source_files(folder);
    let view = || sources.iter().map(|(n, t)| (n.as_str(), t.as_str()));
    YamSources {
        storage: session_storage(view()),
        secrets: secret_keys(view()),
        session_cookie: name_setting("SESSION_COOKIE_NAME", view()),
        remember_cookie: name_setting("REMEMBER_COOKIE_NAME", view()),
    }
}

/// The text files of a YAM folder that may configure it (its Python sources and config files),
/// skipping virtual environments and caches; at most `MAX_FILES`.
pub(super) fn source_files(folder: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut todo = vec![folder.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if found.len() >= MAX_FILES {
                return found;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let skip = name.starts_with('.')
                    || matches!(
                        name.as_str(),
                        "venv" | "node_modules" | "__pycache__" | "site-packages"
                    );
                if !skip {
                    todo.push(entry.path());
                }
                continue;
            }
            let config = name == ".env"
                || [".py", ".cfg", ".ini", ".toml", ".yaml", ".yml", ".json"]
                    .iter()
                    .any(|ext| name.ends_with(ext));
            let small = entry
                .metadata()
                .is_ok_and(|m| kind.is_file() && m.len() <= MAX_FILE_BYTES);
            if config
                && small
                && let Ok(text) = std::fs::read_to_string(entry.path())
            {
                found.push((name, text));
            }
        }
    }
    found
}
