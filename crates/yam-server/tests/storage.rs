//! A sessions folder that refuses writes: a clear 503, signed-in sessions keep working, nothing
//! is lost, and the server recovers by itself once the folder is writable again.
//!
//! The tests run as root, where permissions do not bind, so the folder is made immutable with
//! `chattr +i` (ext4 and most Linux file systems). Where that is not possible the test says so
//! and returns.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `chattr +i` on a folder for as long as it lives.
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: &Path) -> Option<Self> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        let guard = Self(dir.to_path_buf());
        // Only a folder that really refuses a new file counts.
        let probe = dir.join(".probe");
        if !ok || std::fs::write(&probe, b"x").is_ok() {
            let _ = std::fs::remove_file(&probe);
            return None;
        }
        Some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn a_sessions_folder_that_refuses_writes_is_a_clear_503_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path()).arg("--allow-multiple-sessions").spawn();
    let mut alice = admin(&server);
    let sessions = dir.path().join("sessions");
    let before = session_files(&sessions);
    assert_eq!(before.len(), 1);

    let Some(frozen) = Immutable::set(&sessions) else {
        eprintln!("skipped: cannot make {} immutable here", sessions.display());
        return;
    };
    let mut other = Client::new(&server.url);
    let login = other.post_json(
        "/login",
        &serde_json::json!({ "login_id": "admin", "password": server.admin_password() }),
    );
    assert_eq!(login.status, 503, "{}", login.body);
    assert_eq!(login.header("retry-after"), Some("30"));
    let message = login.json()["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(message.contains("refuses writes"), "{message}");
    assert!(
        !message.contains(&sessions.display().to_string()),
        "the folder is for the log, not for clients"
    );
    assert!(
        other.cookie.is_none(),
        "no cookie for a session that was not saved"
    );

    let r = alice.get("/api/session/time-remaining");
    assert_eq!(
        r.status, 200,
        "a signed-in session keeps working: {}",
        r.body
    );
    let r = alice.post_json("/api/session/logout", &serde_json::json!({}));
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(
        alice.get("/api/session/time-remaining").status,
        200,
        "a logout that could not be saved did not half-happen"
    );
    assert!(
        server.wait_for_output("refuses writes", std::time::Duration::from_secs(10)),
        "the log says why:\n{}",
        server.output()
    );

    drop(frozen);
    assert_eq!(
        session_files(&sessions),
        before,
        "nothing lost, nothing left behind"
    );
    let mut later = Client::new(&server.url);
    later.login("admin", &server.admin_password());
    let r = alice.post_json("/api/session/logout", &serde_json::json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        session_files(&sessions).len(),
        1,
        "only the new login is left"
    );
}
