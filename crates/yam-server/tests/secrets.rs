//! No secret (password, token, session id) appears in the server's output or in error bodies.

mod common;

use common::*;
use serde_json::json;

#[test]
fn secrets_never_reach_the_log_or_error_bodies() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path())
        .arg("--allow-multiple-sessions")
        .arg("--debug")
        .spawn();
    let password = server.admin_password();
    let token = server.control_token();
    let mut c = admin(&server);
    let cookie = c.cookie.clone().expect("cookie");
    let wrong = "hunter2-wrong-secret";
    let r = Client::new(&server.url)
        .post_json("/login", &json!({ "login_id": "admin", "password": wrong }));
    assert!(!r.body.contains(wrong));
    c.get("/debug/session");
    c.post("/api/session/extend");
    with_token(&server, &token).get("/api/admin/sessions");
    let r = with_token(&server, &format!("{token}x")).get("/api/admin/stats");
    assert!(!r.body.contains(&token));
    let debug = c.get("/debug/session").body;
    assert!(
        !debug.contains(&cookie),
        "the debug page shows the session id"
    );
    c.post("/api/session/logout");
    let out = server.output();
    for (what, secret) in [
        ("password", password.as_str()),
        ("wrong password", wrong),
        ("token", token.as_str()),
        ("session id", cookie.as_str()),
    ] {
        assert!(!out.contains(secret), "{what} in the server output");
    }
    assert!(
        out.contains("User logged in"),
        "login not logged at all:\n{out}"
    );
}
