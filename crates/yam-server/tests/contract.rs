//! YAM's HTTP session contract against the real binary, in both modes.

mod common;

use common::*;
use serde_json::json;

#[test]
fn public_probes_need_no_session_and_set_no_cookie() {
    let (_dir, server) = multiple();
    let mut c = Client::new(&server.url);
    let health = c.get("/api/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    assert!(health.session_cookie().is_none());

    let info = c.get("/api/server-info");
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(info["multiple_sessions"], true);
    assert_eq!(info["session_conflict_resolution"], true);
    assert_eq!(info["session_lifetime_hours"], 4);
    assert_eq!(info["session_lifetime_minutes"], 240);
    assert_eq!(info["mode"], "web");
    assert_eq!(info["authenticated"], false);
    assert!(info["startup_time"].as_str().is_some());
    assert!(!info.to_string().contains(&server.admin_password()));
    assert!(
        session_files(&server.sessions_dir()).is_empty(),
        "anonymous visitors got a session file"
    );
}

#[test]
fn multiple_mode_gives_independent_four_hour_sessions() {
    let (_dir, server) = multiple();
    let password = server.admin_password();
    let mut tab1 = Client::new(&server.url);
    let mut tab2 = Client::new(&server.url);
    let login = tab1.login("admin", &password);
    let cookie = login.session_cookie().expect("cookie").to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let body = login.json();
    assert_eq!(body["success"], true);
    assert_eq!(body["user"]["username"], "admin");
    assert!((14_390..=14_400).contains(&body["time_remaining_seconds"].as_i64().expect("secs")));
    tab2.login("admin", &password);
    assert_ne!(tab1.cookie, tab2.cookie);

    for tab in [&mut tab1, &mut tab2] {
        let r = tab.get("/api/session/time-remaining");
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        assert_eq!(j["session_healthy"], true);
        assert_eq!(j["username"], "admin");
        assert_eq!(j["time_remaining"], j["time_remaining_seconds"]);
        assert!((14_300..=14_400).contains(&remaining(&r)));
        assert!(j["last_activity"].as_str().is_some() && j["expires_at"].as_str().is_some());
    }
    assert_eq!(session_files(&server.sessions_dir()).len(), 2);

    let out = tab1.post("/api/session/logout");
    assert_eq!(out.status, 200);
    assert!(out.clears_cookie());
    assert_eq!(
        tab2.get("/api/session/time-remaining").status,
        200,
        "the other session must survive"
    );
    assert_eq!(session_files(&server.sessions_dir()).len(), 1);
}

#[test]
fn single_mode_gives_two_hours_and_displaces_the_older_login() {
    let (_dir, server) = single();
    let info = Client::new(&server.url).get("/api/server-info").json();
    assert_eq!(
        (
            info["multiple_sessions"].clone(),
            info["session_lifetime_hours"].clone()
        ),
        (json!(false), json!(2))
    );

    let password = server.admin_password();
    let mut first = Client::new(&server.url);
    first.login("admin", &password);
    let t = remaining(&first.get("/api/session/time-remaining"));
    assert!((7_100..=7_200).contains(&t), "{t}");

    let mut second = Client::new(&server.url);
    let login = second.login("admin", &password).json();
    assert_eq!(login["displaced_sessions"], 1);
    let r = first.get("/api/session/time-remaining");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["reason"], "displaced");
    assert_eq!(r.json()["redirect"], "/login");
    assert!(r.clears_cookie());
    assert_eq!(second.get("/api/session/time-remaining").status, 200);
}

#[test]
fn environment_and_marker_switch_multiple_sessions_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path())
        .env("YAM_ALLOW_MULTIPLE_SESSIONS", "1")
        .spawn();
    let info = Client::new(&server.url).get("/api/server-info").json();
    assert_eq!(info["multiple_sessions"], true);
    assert_eq!(
        info["session_conflict_resolution"], false,
        "the env var alone does not turn resolution on"
    );
    drop(server);

    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("multiple_sessions_allowed.txt"), "1").expect("marker");
    std::fs::write(dir.path().join("session_conflict_resolution.txt"), "1").expect("marker");
    let server = builder(dir.path()).spawn();
    assert!(server.wait_for_output(
        "Multiple sessions mode enabled",
        std::time::Duration::from_secs(5)
    ));
    assert!(
        server
            .output()
            .contains("Session conflict resolution enabled")
    );
    let info = Client::new(&server.url).get("/api/server-info").json();
    assert_eq!(
        (
            info["multiple_sessions"].clone(),
            info["session_conflict_resolution"].clone()
        ),
        (json!(true), json!(true))
    );
}

#[test]
fn form_login_redirects_to_a_same_site_next_only() {
    let (_dir, server) = multiple();
    let password = server.admin_password();
    let mut c = Client::new(&server.url);
    let r = c.post_form(
        "/login",
        &[
            ("login_id", "admin"),
            ("password", &password),
            ("next", "/reports?x=1"),
        ],
    );
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/reports?x=1"));
    assert!(c.cookie.is_some());

    let mut c = Client::new(&server.url);
    let r = c.post_form(
        "/login",
        &[
            ("username", "admin"),
            ("password", &password),
            ("next", "//evil.example/"),
        ],
    );
    assert_eq!(r.header("location"), Some("/"));

    let r = Client::new(&server.url).post_form(
        "/login",
        &[("login_id", "admin"), ("password", "wrong-password")],
    );
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Invalid username or password"));
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
}

#[test]
fn login_failures_are_clear() {
    let (_dir, server) = multiple();
    let mut c = Client::new(&server.url);
    let r = c.post_json(
        "/login",
        &json!({ "login_id": "admin", "password": "nope-nope" }),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["success"], false);
    assert!(
        r.json()["message"]
            .as_str()
            .expect("msg")
            .contains("Invalid")
    );
    assert!(r.session_cookie().is_none());

    let r = c.post_json(
        "/login",
        &json!({ "email": "nobody@example.org", "password": "whatever1" }),
    );
    assert_eq!(r.status, 401);
    let r = c.post_json("/login", &json!({ "login_id": "admin" }));
    assert_eq!(r.status, 400);
    let r = c.post_raw("/login", "application/json", b"{not json".to_vec());
    assert_eq!(r.status, 400);
    let r = c.post_raw("/login", "text/plain", b"admin".to_vec());
    assert_eq!(r.status, 415);
    assert!(session_files(&server.sessions_dir()).is_empty());
}

#[test]
fn users_log_in_by_username_or_email() {
    let (_dir, server) = multiple();
    let b = builder(&server.data_dir);
    let (ok, out) = b.run_to_end(
        &["user", "add", "bob", "--email", "Bob@Example.org"],
        Some("bobs-password\n"),
    );
    assert!(ok, "{out}");
    let mut c = Client::new(&server.url);
    let r = c.post_json(
        "/login",
        &json!({ "email": "bob@example.org", "password": "bobs-password" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["user"]["username"], "bob");
    assert_eq!(r.json()["user"]["is_admin"], false);
}

#[test]
fn no_session_means_401_json_for_the_api_and_one_redirect_for_pages() {
    let (_dir, server) = multiple();
    let mut c = Client::new(&server.url);
    for path in ["/api/session/time-remaining", "/session-status"] {
        let r = c.get(path);
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["redirect"], "/login");
        assert!(r.session_cookie().is_none());
    }
    for path in ["/api/session/activity", "/api/session/extend"] {
        let r = c.post(path);
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["success"], false);
    }
    let r = c.get("/");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/login"));
    let login = c.get("/login");
    assert_eq!(login.status, 200);
    assert!(login.body.contains("<form"));
}

#[test]
fn a_stale_cookie_gets_one_clean_answer_never_a_loop() {
    let (_dir, server) = multiple();
    let stale = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let mut c = Client::with_cookie(&server.url, stale);
    let r = c.get("/api/session/time-remaining");
    assert_eq!(r.status, 401);
    assert!(r.clears_cookie());
    assert_eq!(r.json()["reason"], "unknown");

    let mut browser = Client::with_cookie(&server.url, stale);
    let r = browser.get("/");
    assert_eq!(r.status, 302);
    let location = r.header("location").expect("location").to_owned();
    assert!(location.starts_with("/login"), "{location}");
    assert!(r.clears_cookie());
    // Even a browser that ignored the clearing lands on the form, not another redirect.
    let mut stubborn = Client::with_cookie(&server.url, stale);
    let form = stubborn.get(&location);
    assert_eq!(form.status, 200);
    assert!(form.clears_cookie());
}

#[test]
fn logout_page_ends_the_session_and_the_cookie_stays_dead() {
    let (_dir, server) = multiple();
    let mut c = admin(&server);
    let cookie = c.cookie.clone().expect("cookie");
    assert_eq!(c.get("/").status, 200);
    // The page's Log out button (a GET from a link only asks: tests/logout.rs).
    let r = c.post_form("/logout", &[]);
    assert_eq!(r.status, 302);
    assert!(r.clears_cookie());
    let mut replay = Client::with_cookie(&server.url, &cookie);
    let r = replay.get("/api/session/time-remaining");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["reason"], "logged_out");
}

#[test]
fn probes_do_not_renew_but_activity_does_and_extend_persists() {
    let (_dir, server) = multiple();
    let mut c = admin(&server);
    let first = c.get("/api/session/time-remaining").json();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let probed = c.get("/api/session/time-remaining").json();
    assert_eq!(
        first["expires_at"], probed["expires_at"],
        "a probe renewed the session"
    );
    let status = c.get("/session-status").json();
    assert_eq!(
        status["expires_at"], first["expires_at"],
        "session-status renewed the session"
    );
    assert_eq!(
        c.get("/api/server-info").json()["session"]["expires_at"],
        first["expires_at"]
    );

    let file = session_files(&server.sessions_dir()).pop().expect("file");
    let on_disk = || {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(&file).expect("read"))
            .expect("json")
    };
    let written = on_disk();

    let active = c.post("/api/session/activity");
    assert_eq!(active.status, 200);
    let after = c.get("/api/session/time-remaining").json();
    assert!(
        after["expires_at_unix"].as_i64() > first["expires_at_unix"].as_i64(),
        "activity did not renew"
    );
    assert_eq!(
        on_disk()["expires_at"],
        written["expires_at"],
        "activity must not write at once"
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let extended = c.post("/api/session/extend").json();
    assert_eq!(extended["success"], true);
    let disk_secs = on_disk()["expires_at"].as_i64().expect("ms") / 1000;
    assert_eq!(Some(disk_secs), extended["expires_at_unix"].as_i64());
    assert!(
        on_disk()["expires_at"].as_i64() > written["expires_at"].as_i64(),
        "extend must write at once"
    );
}

#[test]
fn home_page_shows_who_you_are() {
    let (_dir, server) = multiple();
    let mut c = admin(&server);
    let r = c.get("/");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("admin"));
    assert!(r.body.contains("multiple sessions mode"));
    assert!(r.body.contains("/logout"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(
        r.header("content-security-policy")
            .is_some_and(|c| c.contains("frame-ancestors"))
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}
