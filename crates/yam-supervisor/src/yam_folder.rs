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
    /// Whether Flask-Session imports with that Python: `Ok(version)`, or why not.
    pub flask_session: Option<Result<String, String>>,
    pub sessions: SessionStorage,
    /// Whether the tray can run YAM from this folder.
    pub usable: bool,
    /// What the admin should read, one sentence each.
    pub findings: Vec<String>,
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
    // Python puts the working folder first on its import path: run the check from an empty
    // folder of our own, so a `flask.py` lying in the YAM folder is never imported (the
    // folder's own venv Python is still the folder's code: the dialog says so).
    // No shared fallback: a planted flask.py in a shared temp folder would run.
    let scratch = tempfile::tempdir();
    let mut python_version = None;
    let (mut flask_version, mut flask_error, mut flask_session) = (None, None, None);
    if let (Some(_), Err(e)) = (&python, &scratch) {
        flask_error = Some(format!(
            "no private folder to run Python in could be made ({e}), so it was not asked"
        ));
    }
    if let (Some(py), Ok(scratch)) = (&python, &scratch) {
        let cwd = scratch.path();
        python_version = run_python(py, &["--version"], cwd)
            .await
            .filter(|(ok, _, _)| *ok)
            .map(|(_, out, err)| if out.is_empty() { err } else { out });
        match run_python(py, &["-c", IMPORTS_SCRIPT], cwd).await {
            Some((true, out, _)) => {
                let (flask, session) = read_imports(&out);
                flask_version = flask;
                flask_session = session;
            }
            Some((false, _, err)) => {
                flask_error = err.lines().last().map(str::to_owned);
            }
            None => flask_error = Some("Python did not answer within 20 s".into()),
        }
    }
    // Up to MAX_FILES files read: on a blocking thread, not an async worker.
    let sessions = {
        let folder = folder.to_path_buf();
        tokio::task::spawn_blocking(move || read_sources(&folder).storage)
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
    // YAM imports Flask-Session where it calls Session(app): without it, YAM would not start.
    let session_missing =
        sessions != SessionStorage::SignedCookies && matches!(&flask_session, Some(Err(_)));
    match &flask_session {
        Some(Ok(v)) if sessions != SessionStorage::SignedCookies => {
            findings.push(format!("Flask-Session {v} imports."));
        }
        Some(Err(e)) if session_missing => findings.push(format!(
            "YAM calls Session(app), but Flask-Session does not import with this Python ({e}): \
             YAM would not start. Install it into YAM's venv: pip install Flask-Session."
        )),
        _ => {}
    }
    FolderCheck {
        folder: folder.to_path_buf(),
        usable: server_py
            && python_version.is_some()
            && flask_version.is_some()
            && !session_missing,
        server_py,
        python,
        python_source,
        python_version,
        flask_version,
        flask_error,
        flask_session,
        sessions,
        findings,
    }
}

/// Asks the folder's Python for Flask's version (it must import), then whether Flask-Session
/// imports: `ok <version>` or `no <why>` on a second line.
const IMPORTS_SCRIPT: &str = "\
import importlib.metadata as m, flask
print(m.version('flask'))
try:
    import flask_session
    try:
        v = m.version('Flask-Session')
    except Exception:
        v = getattr(flask_session, '__version__', '?')
    print('ok', v)
except Exception as e:
    print('no', type(e).__name__ + ': ' + (str(e).splitlines() or [''])[0])
";

/// Reads what `IMPORTS_SCRIPT` printed: Flask's version, and Flask-Session's (or why not).
fn read_imports(out: &str) -> (Option<String>, Option<Result<String, String>>) {
    let mut lines = out.lines().map(str::trim);
    let flask = lines.next().filter(|v| !v.is_empty()).map(str::to_owned);
    let session = lines.next().and_then(|l| match l.split_once(' ') {
        Some(("ok", v)) => Some(Ok(v.to_owned())),
        Some(("no", why)) => Some(Err(why.chars().take(200).collect())),
        _ => None,
    });
    (flask, session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_how_sessions_are_kept() {
        let set_up = "from flask_session import Session\nSession(app)\n";
        let cases = [
            (
                format!("{set_up}app.config[\"SESSION_TYPE\"] = \"filesystem\""),
                SessionStorage::Files,
            ),
            (
                format!("SESSION_TYPE = 'redis'\n{set_up}"),
                SessionStorage::Redis,
            ),
            (format!("SESSION_TYPE=cachelib\n{set_up}"), SessionStorage::Files),
            (
                format!("session:\n  SESSION_TYPE: mongodb\n{set_up}"),
                SessionStorage::Other {
                    backend: "mongodb".into(),
                },
            ),
            (set_up.to_owned(), SessionStorage::Unknown),
            (
                "app = Flask(__name__)\napp.secret_key = 'x'".to_owned(),
                SessionStorage::SignedCookies,
            ),
            // The real YAM: SESSION_TYPE set, Flask-Session never set up.
            (
                "SESSION_TYPE = 'filesystem'\nfrom flask_session import Session\n# Session(app)"
                    .to_owned(),
                SessionStorage::SignedCookies,
            ),
            (
                "import flask_session\nsess = flask_session.Session()\nsess.init_app(app)\nSESSION_TYPE='redis'"
                    .to_owned(),
                SessionStorage::Redis,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                session_storage([("app.py", text.as_str())]),
                expected,
                "{text}"
            );
        }
        // Set up in one file, configured in another.
        assert_eq!(
            session_storage([
                ("a.py", "from flask_session import Session\nSession(app)"),
                ("config.py", "SESSION_TYPE='redis'")
            ]),
            SessionStorage::Redis
        );
    }

    #[test]
    fn the_stand_ins_are_told_apart() {
        let cookie = read_sources(&crate::test_fixture("yam_cookie_app"));
        assert_eq!(cookie.storage, SessionStorage::SignedCookies);
        assert_eq!(cookie.secrets, vec!["yam-cookie-stand-in-secret"]);
        assert_eq!(cookie.session_cookie.as_deref(), Some("yam_session"));
        assert_eq!(cookie.remember_cookie.as_deref(), Some("remember_token"));
        assert_eq!(
            read_sources(&crate::test_fixture("yam_app")).storage,
            SessionStorage::Files
        );
    }

    #[test]
    fn secret_keys_are_read_from_assignments() {
        let keys = secret_keys([
            (
                "config.py",
                "class Config:\n    SECRET_KEY = os.environ.get('SECRET_KEY') or 'yam-secret'\n",
            ),
            (
                "app.py",
                "app.config[\"SECRET_KEY\"] = \"second\"\nprint('SECRET_KEY is set')",
            ),
            (".env", "SECRET_KEY=from-env-file\n"),
            ("settings.yaml", "SECRET_KEY: 'yaml-one'\n"),
        ]);
        assert_eq!(
            keys,
            vec!["yam-secret", "second", "from-env-file", "yaml-one"]
        );
        assert!(secret_keys([("a.py", "x = 1")]).is_empty());
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

    /// Issue 22 item 15: checking a folder with a Python from outside it imports nothing
    /// from the folder (a planted `flask.py` would run as the admin).
    #[tokio::test]
    async fn checking_a_folder_never_imports_its_code() {
        let Some(python) = crate::supervisor::which_program("python3") else {
            eprintln!("no python3 on PATH: not tried");
            return;
        };
        let dir = tempfile::tempdir().expect("tmp");
        let ran = dir.path().join("flask-py-ran");
        std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
        std::fs::write(dir.path().join("app/server.py"), "").expect("server.py");
        std::fs::write(
            dir.path().join("flask.py"),
            format!("open({:?}, 'w').write('ran')\n", ran.to_string_lossy()),
        )
        .expect("flask.py");
        let checked = check(dir.path(), Some(&python)).await;
        assert!(
            !ran.exists(),
            "the folder's flask.py ran: {:?}",
            checked.findings
        );
    }

    /// Issue 21: a YAM that calls Session(app) needs Flask-Session importable; the check asks
    /// the folder's Python. The same real venv, once as it is and once with `flask_session`
    /// shadowed by a module that fails to import (as on a machine without it).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_yam_calling_session_without_flask_session_would_not_start() {
        use std::os::unix::fs::PermissionsExt as _;
        let venv_python = tokio::task::spawn_blocking(yam_testkit::flask_python)
            .await
            .expect("venv");
        let dir = tempfile::tempdir().expect("tmp");
        let yam = dir.path().join("YAM");
        std::fs::create_dir_all(yam.join("app")).expect("mkdir");
        std::fs::write(
            yam.join("app/server.py"),
            "SESSION_TYPE = 'filesystem'\nfrom flask_session import Session\nSession(app)\n",
        )
        .expect("server.py");

        let checked = check(&yam, Some(&venv_python)).await;
        assert!(
            checked
                .findings
                .iter()
                .any(|f| f.starts_with("Flask-Session 0.") && f.ends_with(" imports.")),
            "{:?}",
            checked.findings
        );
        assert!(checked.usable, "{:?}", checked.findings);

        let shadow = dir.path().join("shadow");
        std::fs::create_dir_all(&shadow).expect("mkdir");
        std::fs::write(
            shadow.join("flask_session.py"),
            "raise ModuleNotFoundError(\"No module named 'flask_session'\")\n",
        )
        .expect("shadow");
        let wrapper = dir.path().join("python-without-flask-session");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nPYTHONPATH='{}' exec '{}' \"$@\"\n",
                shadow.display(),
                venv_python.display()
            ),
        )
        .expect("wrapper");
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let checked = check(&yam, Some(&wrapper)).await;
        assert!(checked.flask_version.is_some(), "{:?}", checked.findings);
        assert!(
            checked.findings.iter().any(|f| f.contains(
                "Flask-Session does not import with this Python (ModuleNotFoundError: No module \
                 named 'flask_session'): YAM would not start"
            )),
            "{:?}",
            checked.findings
        );
        assert!(!checked.usable, "a YAM that cannot start is not usable");

        // A signed-cookie YAM does not need it: nothing said, still usable.
        std::fs::write(yam.join("app/server.py"), "SESSION_TYPE = 'filesystem'\n").expect("w");
        let checked = check(&yam, Some(&wrapper)).await;
        assert!(checked.usable, "{:?}", checked.findings);
        assert!(
            !checked
                .findings
                .iter()
                .any(|f| f.contains("would not start")),
            "{:?}",
            checked.findings
        );
    }
}
