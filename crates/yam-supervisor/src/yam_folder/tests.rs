use super::sources::*;
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
