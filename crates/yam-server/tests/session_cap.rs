//! Issue 22 item 10: a user's live sessions are capped; a login beyond the cap ends the
//! oldest session of that user (and nobody else's).

mod common;

use common::*;

#[test]
fn logins_beyond_the_default_cap_end_the_oldest_sessions() {
    let (_dir, server) = multiple();
    let mut bob = bob(&server);
    let cookies: Vec<String> = (0..32)
        .map(|_| admin(&server).cookie.expect("cookie"))
        .collect();
    let mut c = admin(&server);
    let stats = c.get("/api/admin/stats").json();
    let live = stats["per_user"]
        .as_array()
        .expect("per_user")
        .iter()
        .find(|u| u["username"] == "admin")
        .and_then(|u| u["sessions"].as_u64())
        .unwrap_or(0);
    assert_eq!(live, 30, "admin's live sessions: {stats}");
    for old in &cookies[..3] {
        let reply = Client::with_cookie(&server.url, old).get("/api/session/time-remaining");
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["reason"], "session_limit", "{}", reply.body);
    }
    let newest = cookies.last().expect("newest");
    assert_eq!(
        Client::with_cookie(&server.url, newest)
            .get("/api/session/time-remaining")
            .status,
        200
    );
    assert_eq!(
        bob.get("/api/session/time-remaining").status,
        200,
        "bob's session"
    );
}

#[test]
fn the_cap_is_a_setting() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path())
        .arg("--allow-multiple-sessions")
        .arg("--max-sessions-per-user")
        .arg("2")
        .spawn();
    let first = admin(&server).cookie.expect("1");
    let _second = admin(&server);
    let _third = admin(&server);
    let reply = Client::with_cookie(&server.url, &first).get("/api/session/time-remaining");
    assert_eq!(reply.json()["reason"], "session_limit", "{}", reply.body);
    let (ok, out) = builder(dir.path()).run_to_end(&["--max-sessions-per-user", "0"], None);
    assert!(!ok);
    assert!(out.contains("at least 1"), "{out}");
}
