//! "Connect my YAM": what the tray will be able to do with a YAM folder, found out before
//! anything is saved: `app/server.py` there or not; the Python it would use (the folder's
//! venv first) and its version; whether Flask imports; and how YAM keeps its sessions (read
//! from its source), which decides whether they can be counted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::profile::find_python;

mod sources;
pub use sources::{SessionStorage, YamSources, read_sources};

/// How long the folder's Python may take to answer.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(20);

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
mod tests;
