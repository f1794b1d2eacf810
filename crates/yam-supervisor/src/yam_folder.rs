//! "Connect my YAM": what the tray will be able to do with a YAM folder, found out before
//! anything is saved: `app/server.py` there or not; the Python it would use (the folder's
//! venv first) and its version; whether Flask imports; and how YAM keeps its sessions (read
//! from its source), which decides whether they can be counted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

use crate::profile::find_python;

/// How long the folder's Python may take to answer.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(20);
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
    /// Flask's own signed cookies: nothing on the server to count.
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
                "YAM keeps sessions in files (Flask-Session): the tray counts \
                them, lists them and can end them."
                    .into()
            }
            SessionStorage::Redis => {
                "YAM keeps sessions in Redis (Flask-Session): the tray counts \
                them when it can reach that Redis."
                    .into()
            }
            SessionStorage::SignedCookies => "YAM keeps sessions in signed cookies (Flask's \
                default), so nobody can count or end them from outside: the tray starts, stops \
                and restarts YAM but shows no session counts."
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

/// What a folder check found.
#[derive(Clone, Debug, Serialize)]
pub struct FolderCheck {
    pub folder: PathBuf,
    pub server_py: bool,
    pub python: Option<PathBuf>,
    /// `venv`, `venv (.venv)`, `setting` or `PATH`.
    pub python_source: Option<String>,
    pub python_version: Option<String>,
    pub flask_version: Option<String>,
    /// Why Flask did not import (the last line Python printed).
    pub flask_error: Option<String>,
    pub sessions: SessionStorage,
    /// Whether the tray can run YAM from this folder.
    pub usable: bool,
    /// What the admin should read, one sentence each.
    pub findings: Vec<String>,
}

/// Reads how YAM keeps sessions from its source files (`name`, text).
pub fn session_storage<'a>(
    sources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> SessionStorage {
    // SESSION_TYPE = "redis", app.config["SESSION_TYPE"] = 'filesystem', SESSION_TYPE: redis
    // (YAML), SESSION_TYPE=filesystem (.env).
    let Ok(setting) = Regex::new(r#"SESSION_TYPE["']?\s*\]?\s*[:=]\s*["']?([A-Za-z_]+)"#) else {
        return SessionStorage::Unknown;
    };
    let mut uses_flask_session = false;
    for (_, text) in sources {
        if text.contains("flask_session") || text.contains("Flask-Session") {
            uses_flask_session = true;
        }
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
    if uses_flask_session {
        SessionStorage::Unknown
    } else {
        SessionStorage::SignedCookies
    }
}

/// The text files of a YAM folder that may configure it (its Python sources and config files),
/// skipping virtual environments and caches; at most `MAX_FILES`.
fn source_files(folder: &Path) -> Vec<(String, String)> {
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

/// Runs `python args…` (no window on Windows) with a timeout: (success, stdout, stderr).
async fn run_python(python: &Path, args: &[&str], cwd: &Path) -> Option<(bool, String, String)> {
    let mut cmd = tokio::process::Command::new(python);
    cmd.args(args)
        .current_dir(cwd)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    #[cfg(windows)]
    cmd.creation_flags(0x0800_0000); // CREATE_NO_WINDOW
    let out = tokio::time::timeout(PYTHON_TIMEOUT, cmd.output())
        .await
        .ok()?
        .ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    ))
}

/// Checks `folder` as a YAM folder, with `configured_python` as the settings' fallback.
pub async fn check(folder: &Path, configured_python: Option<&Path>) -> FolderCheck {
    let server_py = folder.join("app").join("server.py").is_file();
    let python = find_python(folder, configured_python, crate::supervisor::which_program);
    let python_source = python.as_ref().map(|p| {
        if p.starts_with(folder.join("venv")) {
            "venv"
        } else if p.starts_with(folder.join(".venv")) {
            "venv (.venv)"
        } else if Some(p.as_path()) == configured_python {
            "setting"
        } else {
            "PATH"
        }
        .to_owned()
    });
    let cwd = if folder.is_dir() {
        folder
    } else {
        Path::new(".")
    };
    let mut python_version = None;
    let (mut flask_version, mut flask_error) = (None, None);
    if let Some(py) = &python {
        python_version = run_python(py, &["--version"], cwd)
            .await
            .filter(|(ok, _, _)| *ok)
            .map(|(_, out, err)| if out.is_empty() { err } else { out });
        let script = "import importlib.metadata as m, flask; print(m.version('flask'))";
        match run_python(py, &["-c", script], cwd).await {
            Some((true, out, _)) => flask_version = Some(out),
            Some((false, _, err)) => {
                flask_error = err.lines().last().map(str::to_owned);
            }
            None => flask_error = Some("Python did not answer within 20 s".into()),
        }
    }
    // Up to MAX_FILES files read: on a blocking thread, not an async worker.
    let sessions = {
        let folder = folder.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let sources = source_files(&folder);
            session_storage(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        })
        .await
        .unwrap_or(SessionStorage::Unknown)
    };
    let mut findings = Vec::new();
    if !folder.is_dir() {
        findings.push(format!("{} is not a folder.", folder.display()));
    } else if server_py {
        findings.push("app/server.py is there.".into());
    } else {
        findings.push("This is not a YAM folder: there is no app/server.py in it.".into());
    }
    match (&python, &python_version) {
        (Some(p), Some(v)) => findings.push(format!(
            "{v} ({}) will run it: {}.",
            python_source.as_deref().unwrap_or("PATH"),
            p.display()
        )),
        (Some(p), None) => findings.push(format!("{} does not answer as Python.", p.display())),
        (None, _) => findings.push(
            "No Python found: create a venv in the YAM folder, or set the Python to use.".into(),
        ),
    }
    match (&flask_version, &flask_error) {
        (Some(v), _) => findings.push(format!("Flask {v} imports.")),
        (None, Some(e)) => findings.push(format!("Flask does not import: {e}")),
        (None, None) => {}
    }
    findings.push(sessions.sentence());
    FolderCheck {
        folder: folder.to_path_buf(),
        usable: server_py && python_version.is_some() && flask_version.is_some(),
        server_py,
        python,
        python_source,
        python_version,
        flask_version,
        flask_error,
        sessions,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_how_sessions_are_kept() {
        let cases = [
            (
                r#"app.config["SESSION_TYPE"] = "filesystem""#,
                SessionStorage::Files,
            ),
            (
                "SESSION_TYPE = 'redis'\nfrom flask_session import Session",
                SessionStorage::Redis,
            ),
            ("SESSION_TYPE=cachelib\n", SessionStorage::Files),
            (
                "session:\n  SESSION_TYPE: mongodb\n",
                SessionStorage::Other {
                    backend: "mongodb".into(),
                },
            ),
            (
                "from flask_session import Session\nSession(app)",
                SessionStorage::Unknown,
            ),
            (
                "app = Flask(__name__)\napp.secret_key = 'x'",
                SessionStorage::SignedCookies,
            ),
            (
                "app.config.update(SESSION_TYPE=\"filesystem\")",
                SessionStorage::Files,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(session_storage([("app.py", text)]), expected, "{text}");
        }
        // The first file that says wins; one that only imports does not decide.
        assert_eq!(
            session_storage([
                ("a.py", "import flask_session"),
                ("config.py", "SESSION_TYPE='redis'")
            ]),
            SessionStorage::Redis
        );
    }

    #[test]
    fn source_files_skip_venvs_and_caches() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path();
        std::fs::create_dir_all(p.join("app")).expect("mkdir");
        std::fs::create_dir_all(p.join("venv/lib")).expect("mkdir");
        std::fs::create_dir_all(p.join(".git")).expect("mkdir");
        std::fs::write(p.join("app/server.py"), "SESSION_TYPE='filesystem'").expect("w");
        std::fs::write(p.join("venv/lib/flask_session.py"), "SESSION_TYPE='redis'").expect("w");
        std::fs::write(p.join(".git/config"), "x").expect("w");
        std::fs::write(p.join(".env"), "SECRET=1").expect("w");
        let mut names: Vec<String> = source_files(p).into_iter().map(|(n, _)| n).collect();
        names.sort();
        assert_eq!(names, vec![".env", "server.py"]);
    }
}
