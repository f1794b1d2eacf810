//! `yam-server user …` and the first-run admin.

mod common;

use common::*;
use serde_json::json;

#[test]
fn first_run_admin_password_is_private_and_never_logged() {
    let (dir, server) = single();
    let file = dir.path().join("initial-admin-password.txt");
    let password = server.admin_password();
    assert!(password.len() >= 16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(
        !server.output().contains(&password),
        "password in the output"
    );
    assert!(
        server.output().contains(&file.display().to_string()),
        "the file's path is shown"
    );
    let r = Client::new(&server.url).post_json(
        "/login",
        &json!({ "login_id": "admin", "password": "admin" }),
    );
    assert_eq!(r.status, 401, "no default admin/admin");
}

#[test]
fn add_list_passwd_remove() {
    let (_dir, server) = multiple();
    let b = builder(&server.data_dir);
    let (ok, out) = b.run_to_end(
        &["user", "add", "carol", "--admin"],
        Some("carols-secret\n"),
    );
    assert!(ok, "{out}");
    let (ok, out) = b.run_to_end(&["user", "add", "carol"], Some("another-secret\n"));
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = b.run_to_end(&["user", "add", "dave"], Some("short\n"));
    assert!(!ok && out.contains("at least 8"), "{out}");
    let (ok, out) = b.run_to_end(&["user", "list"], None);
    assert!(
        ok && out.contains("carol") && out.contains("admin"),
        "{out}"
    );
    assert!(!out.contains("argon2"), "hashes listed: {out}");

    let mut carol = Client::new(&server.url);
    carol.login("carol", "carols-secret");
    // A user added a moment ago by the CLI keeps the session (the server re-reads users).
    assert_eq!(carol.get("/api/session/time-remaining").status, 200);
    let (ok, out) = b.run_to_end(&["user", "passwd", "carol"], Some("carols-new-secret\n"));
    assert!(ok && out.contains("1 session ended"), "{out}");
    assert_eq!(
        carol.get("/api/session/time-remaining").status,
        401,
        "old session survived a password change"
    );
    let r = Client::new(&server.url).post_json(
        "/login",
        &json!({ "login_id": "carol", "password": "carols-secret" }),
    );
    assert_eq!(r.status, 401);
    carol.login("carol", "carols-new-secret");

    let (ok, out) = b.run_to_end(&["user", "remove", "carol"], None);
    assert!(ok, "{out}");
    let r = carol.get("/api/session/time-remaining");
    assert_eq!(r.status, 401);
    let r = Client::new(&server.url).post_json(
        "/login",
        &json!({ "login_id": "carol", "password": "carols-new-secret" }),
    );
    assert_eq!(r.status, 401);
}
