//! `yam-server force-logout` with the server up (control token) and down (folder + marker).

mod common;

use common::*;

#[test]
fn online_force_logout_uses_the_running_server() {
    let (_dir, server) = multiple();
    let mut a = admin(&server);
    let mut b = bob(&server);
    let (ok, out) = builder(&server.data_dir).run_to_end(&["force-logout"], None);
    assert!(ok, "{out}");
    assert!(out.contains("Ended 2 session(s)"), "{out}");
    assert_eq!(a.get("/api/session/time-remaining").status, 401);
    assert_eq!(b.get("/api/session/time-remaining").status, 401);
}

#[test]
fn offline_force_logout_clears_the_folder_and_the_marker_is_consumed_at_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = builder(dir.path()).arg("--allow-multiple-sessions");
    let mut server = b.spawn();
    let cookies: Vec<String> = (0..3)
        .map(|_| admin(&server).cookie.expect("cookie"))
        .collect();
    assert!(server.stop());
    let (ok, out) = b.run_to_end(&["force-logout"], None);
    assert!(ok, "{out}");
    assert!(
        out.contains("not running: deleted 3 session file(s)"),
        "{out}"
    );
    assert!(dir.path().join("force_session_reset.txt").is_file());
    assert!(session_files(&dir.path().join("sessions")).is_empty());

    let server = b.spawn();
    assert!(
        server
            .output()
            .contains("Force session reset marker detected - clearing all sessions")
    );
    assert!(!dir.path().join("force_session_reset.txt").exists());
    for cookie in &cookies {
        assert_eq!(
            Client::with_cookie(&server.url, cookie)
                .get("/api/session/time-remaining")
                .status,
            401
        );
    }
}
