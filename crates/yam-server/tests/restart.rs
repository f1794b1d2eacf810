//! Restarts: `--on-restart keep` keeps sessions, `clear` ends them with one clean answer;
//! marker files are written at start and at clean shutdown.

mod common;

use common::*;

#[test]
fn keep_restart_keeps_valid_sessions() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = builder(dir.path()).arg("--allow-multiple-sessions");
    let mut server = b.spawn();
    let c = admin(&server);
    let cookie = c.cookie.clone().expect("cookie");
    assert!(server.stop(), "clean shutdown:\n{}", server.output());
    assert!(dir.path().join("server_shutdown_marker.txt").is_file());

    let server = b.spawn();
    assert!(
        !dir.path().join("server_shutdown_marker.txt").exists(),
        "stale shutdown marker kept"
    );
    let mut again = Client::with_cookie(&server.url, &cookie);
    let r = again.get("/api/session/time-remaining");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["username"], "admin");
    drop(c);
}

#[test]
fn keep_restart_survives_kill_9_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = builder(dir.path()).arg("--allow-multiple-sessions");
    let mut server = b.spawn();
    let c = admin(&server);
    server.kill();
    let server = b.spawn();
    let mut again = Client::with_cookie(&server.url, c.cookie.as_deref().expect("cookie"));
    assert_eq!(again.get("/api/session/time-remaining").status, 200);
}

#[test]
fn clear_restart_ends_every_session_with_one_clean_answer() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut server = builder(dir.path()).arg("--allow-multiple-sessions").spawn();
    let api = admin(&server);
    let page = admin(&server);
    assert!(server.stop());

    let server = builder(dir.path())
        .arg("--allow-multiple-sessions")
        .arg("--on-restart")
        .arg("clear")
        .spawn();
    assert!(session_files(&server.sessions_dir()).is_empty());
    let mut api = Client::with_cookie(&server.url, api.cookie.as_deref().expect("cookie"));
    let r = api.get("/api/session/time-remaining");
    assert_eq!(r.status, 401);
    assert!(r.clears_cookie());
    assert!(api.cookie.is_none());

    let mut browser = Client::with_cookie(&server.url, page.cookie.as_deref().expect("cookie"));
    let r = browser.get("/");
    assert_eq!(r.status, 302);
    assert!(r.clears_cookie());
    let r = browser.get(r.header("location").expect("location"));
    assert_eq!(r.status, 200, "the login form, not another redirect");
    let info = Client::new(&server.url).get("/api/server-info").json();
    assert_eq!(info["on_restart"], "clear");
}

#[test]
fn startup_marker_describes_the_running_server() {
    let (dir, server) = multiple();
    let marker =
        std::fs::read_to_string(dir.path().join("server_startup_marker.txt")).expect("marker");
    assert!(marker.contains(&format!("url={}", server.url)), "{marker}");
    assert!(marker.contains(&format!("pid={}", server.pid())));
    assert!(marker.contains("multiple_sessions=true"));
    assert!(marker.contains("sessions_dir="));
}

#[test]
fn a_force_reset_marker_clears_sessions_at_start_and_while_running() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = builder(dir.path()).arg("--allow-multiple-sessions");
    let mut server = b.spawn();
    let before = admin(&server);
    assert!(server.stop());
    std::fs::write(dir.path().join("force_session_reset.txt"), "reset").expect("marker");

    let server = b.spawn();
    assert!(
        server
            .output()
            .contains("Force session reset marker detected - clearing all sessions")
    );
    assert!(!dir.path().join("force_session_reset.txt").exists());
    let mut old = Client::with_cookie(&server.url, before.cookie.as_deref().expect("cookie"));
    assert_eq!(old.get("/api/session/time-remaining").status, 401);

    let mut live = admin(&server);
    std::fs::write(dir.path().join("force_session_reset.txt"), "reset").expect("marker");
    assert!(wait_until(std::time::Duration::from_secs(10), || !dir
        .path()
        .join("force_session_reset.txt")
        .exists()));
    let r = live.get("/api/session/time-remaining");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["reason"], "force_logout");
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(BIN)
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{stderr}"
    );
}

#[test]
fn an_unusable_sessions_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").expect("w");
    let out = std::process::Command::new(BIN)
        .args(["--port", "0", "--data-dir"])
        .arg(dir.path())
        .arg("--sessions-dir")
        .arg(blocker.join("sessions"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot use the sessions folder"),
        "{stderr}"
    );
}
