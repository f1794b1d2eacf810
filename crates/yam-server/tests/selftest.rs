//! `yam-server selftest` passes against a good server and fails against broken contracts.

mod common;

use common::*;

fn selftest(server: &ServerProcess, password: &str) -> (bool, String) {
    builder(&server.data_dir).run_plain(
        &["selftest", "--url", &server.url, "--user", "admin"],
        Some(&format!("{password}\n")),
    )
}

#[test]
fn passes_against_a_multiple_sessions_server() {
    let (_dir, server) = multiple();
    let (ok, out) = selftest(&server, &server.admin_password());
    assert!(ok, "{out}");
    assert!(out.contains("selftest passed"));
    assert!(
        out.lines().filter(|l| l.starts_with("ok ")).count() >= 14,
        "{out}"
    );
    assert!(!out.contains(&server.admin_password()));
}

#[test]
fn fails_when_logins_fail() {
    let (_dir, server) = multiple();
    let (ok, out) = selftest(&server, "wrong-password");
    assert!(!ok);
    assert!(out.contains("FAIL  first login"), "{out}");
}

#[test]
fn fails_against_a_single_session_server() {
    let (_dir, server) = single();
    let (ok, out) = selftest(&server, &server.admin_password());
    assert!(!ok);
    assert!(out.contains("FAIL  first session still valid"), "{out}");
}

#[test]
fn fails_when_nothing_listens() {
    let dir = tempfile::tempdir().expect("tmp");
    let (ok, out) =
        builder(dir.path()).run_plain(&["selftest", "--url", "http://127.0.0.1:9"], Some("x\n"));
    assert!(!ok);
    assert!(out.contains("FAIL  health"), "{out}");
}
