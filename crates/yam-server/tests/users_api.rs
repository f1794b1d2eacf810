//! The users admin API against the real binary: who may call it, every refusal, and what
//! each change does to the user's sessions.

mod common;

use common::*;
use serde_json::{Value, json};

fn token_client(server: &ServerProcess) -> Client {
    with_token(server, &server.control_token())
}

fn send(c: &mut Client, method: &str, path: &str, body: Option<Value>) -> Reply {
    match (method, body) {
        ("POST", Some(b)) => c.post_json(path, &b),
        ("POST", None) => c.post_empty(path),
        ("GET", _) => c.get(path),
        ("DELETE", _) => c.delete(path),
        ("PATCH", b) => c.patch_json(path, &b.unwrap_or(Value::Null)),
        _ => unreachable!("test methods"),
    }
}

fn user<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list}"))
}

#[test]
fn only_admins_and_the_token_may_manage_users() {
    let (_dir, server) = multiple();
    let mut anonymous = Client::new(&server.url);
    assert_eq!(anonymous.get("/api/admin/users").status, 401);
    let mut bob = bob(&server);
    assert_eq!(bob.get("/api/admin/users").status, 403);
    assert_eq!(
        bob.post_json(
            "/api/admin/users",
            &json!({ "username": "eve", "admin": true })
        )
        .status,
        403
    );
    let mut admin = admin(&server);
    assert_eq!(admin.get("/api/admin/users").status, 200);
    // Cross-site rules: a foreign page cannot post, and forms are not JSON.
    admin.origin = Some("http://evil.example".into());
    assert_eq!(
        admin
            .post_json("/api/admin/users", &json!({ "username": "eve" }))
            .status,
        403
    );
    admin.origin = None;
    let form = admin.post_form("/api/admin/users", &[("username", "eve")]);
    assert_eq!(form.status, 415);
    let mut token = token_client(&server);
    assert_eq!(token.get("/api/admin/users").status, 200);
}

#[test]
fn adding_users_and_every_refusal() {
    let (_dir, server) = multiple();
    let mut t = token_client(&server);
    for (body, status, message) in [
        (json!({ "username": "bad name" }), 400, "invalid username"),
        (
            json!({ "username": "carol", "password": "short" }),
            400,
            "at least 8",
        ),
        (json!({ "username": "admin" }), 409, "already exists"),
        (json!({ "username": "x", "role": "root" }), 422, ""),
    ] {
        let r = t.post_json("/api/admin/users", &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(message), "{body}: {}", r.body);
    }
    assert_eq!(t.post_empty("/api/admin/users").status, 400);

    // A generated password comes back once and works.
    let r = t.post_json(
        "/api/admin/users",
        &json!({ "username": "carol", "email": "carol@example.org" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let generated = r.json()["generated_password"]
        .as_str()
        .expect("password")
        .to_owned();
    assert_eq!(r.json()["user"]["email"], "carol@example.org");
    assert_eq!(r.json()["user"]["admin"], false);
    Client::new(&server.url).login("carol", &generated);
    // A typed password is not echoed.
    let r = t.post_json(
        "/api/admin/users",
        &json!({ "username": "dave", "password": "daves-password", "admin": true }),
    );
    assert_eq!(r.status, 201);
    assert!(r.json().get("generated_password").is_none());
    Client::new(&server.url).login("dave", "daves-password");
    let list = t.get("/api/admin/users").json();
    assert_eq!(user(&list, "dave")["admin"], true);
    assert_eq!(user(&list, "carol")["live_sessions"], 1);
    assert!(user(&list, "carol")["last_login"].is_string());
    assert!(user(&list, "admin")["last_login"].is_null());
}

#[test]
fn changes_end_sessions_and_the_last_admin_is_kept() {
    let (_dir, server) = multiple();
    let mut t = token_client(&server);
    let mut bob = bob(&server);

    // A password reset ends bob's sessions; the new (generated) one works.
    let r = send(
        &mut t,
        "PATCH",
        "/api/admin/users/bob",
        Some(json!({ "generate_password": true })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["sessions_ended"], 1);
    let new = r.json()["generated_password"]
        .as_str()
        .expect("password")
        .to_owned();
    let gone = bob.get("/api/session/time-remaining");
    assert_eq!(
        (gone.status, gone.json()["reason"].clone()),
        (401, json!("revoked"))
    );
    bob.login("bob", &new);

    // Disabling ends them too, and the login says why; enabling lets bob in again.
    let r = send(
        &mut t,
        "PATCH",
        "/api/admin/users/bob",
        Some(json!({ "disabled": true })),
    );
    assert_eq!(
        (r.status, r.json()["sessions_ended"].clone()),
        (200, json!(1))
    );
    let refused = Client::new(&server.url)
        .post_json("/login", &json!({ "login_id": "bob", "password": new }));
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("disabled"), "{}", refused.body);
    send(
        &mut t,
        "PATCH",
        "/api/admin/users/bob",
        Some(json!({ "disabled": false })),
    );
    bob.login("bob", &new);

    // Email set and removed; admin on and off.
    let r = send(
        &mut t,
        "PATCH",
        "/api/admin/users/bob",
        Some(json!({ "email": "b@example.org", "admin": true })),
    );
    assert_eq!(
        (
            r.json()["user"]["email"].clone(),
            r.json()["user"]["admin"].clone()
        ),
        (json!("b@example.org"), json!(true))
    );
    let r = send(
        &mut t,
        "PATCH",
        "/api/admin/users/bob",
        Some(json!({ "email": null, "admin": false })),
    );
    assert_eq!(
        (
            r.json()["user"]["email"].clone(),
            r.json()["user"]["admin"].clone()
        ),
        (Value::Null, json!(false))
    );
    assert!(
        bob.get("/api/session/time-remaining").status == 200,
        "email/admin changes keep sessions"
    );

    // The last admin: never demoted, disabled or removed.
    for change in [json!({ "admin": false }), json!({ "disabled": true })] {
        let r = send(
            &mut t,
            "PATCH",
            "/api/admin/users/admin",
            Some(change.clone()),
        );
        assert_eq!(r.status, 409, "{change}: {}", r.body);
        assert!(r.body.contains("last active admin"), "{}", r.body);
    }
    assert_eq!(t.delete("/api/admin/users/admin").status, 409);
    assert_eq!(
        send(
            &mut t,
            "PATCH",
            "/api/admin/users/nobody",
            Some(json!({ "admin": true }))
        )
        .status,
        404
    );
    assert_eq!(
        send(
            &mut t,
            "PATCH",
            "/api/admin/users/bob",
            Some(json!({ "password": "short" }))
        )
        .status,
        400
    );

    // Removing a user ends its sessions.
    let r = t.delete("/api/admin/users/bob");
    assert_eq!(
        (r.status, r.json()["sessions_ended"].clone()),
        (200, json!(1))
    );
    assert_eq!(bob.get("/api/session/time-remaining").status, 401);
    assert_eq!(t.delete("/api/admin/users/bob").status, 404);
    assert!(
        t.get("/api/admin/users").json()["users"]
            .as_array()
            .is_some_and(|u| u.len() == 1)
    );
}

/// Issue 22 item 5: an email equal to another user's username (written by an older version,
/// straight into the database) never makes an action hit the wrong account; new collisions
/// and non-addresses are refused with a sentence.
#[test]
fn one_name_is_one_account() {
    let (dir, server) = multiple();
    let mut token = token_client(&server);
    for (name, password) in [("alice", "alices-password"), ("bob", "bobs-password")] {
        let r = send(
            &mut token,
            "POST",
            "/api/admin/users",
            Some(json!({ "username": name, "password": password })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // An older version let alice's email be "bob" (and an escape code).
    let db = rusqlite::Connection::open(dir.path().join("users.db")).expect("db");
    db.execute(
        "UPDATE users SET email = 'bob' WHERE username = 'alice'",
        [],
    )
    .expect("plant");
    let mut alice = Client::new(&server.url);
    assert_eq!(alice.login("alice", "alices-password").status, 200);

    // The admin changes bob's password: bob's, not alice's, and alice's session stays.
    let r = send(
        &mut token,
        "PATCH",
        "/api/admin/users/bob",
        Some(json!({ "password": "bobs-new-password" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["user"]["username"], "bob", "{}", r.body);
    assert_eq!(alice.get("/api/session/time-remaining").status, 200);
    let mut as_bob = Client::new(&server.url);
    let login = as_bob.login("bob", "bobs-new-password");
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(
        as_bob.get("/api/session/time-remaining").json()["username"],
        "bob"
    );
    assert_eq!(
        Client::new(&server.url)
            .login("alice", "alices-password")
            .status,
        200
    );

    // The command line addresses bob too.
    let (ok, out) =
        builder(dir.path()).run_to_end(&["user", "passwd", "bob"], Some("bobs-third-password\n"));
    assert!(ok, "{out}");
    assert_eq!(
        Client::new(&server.url)
            .login("bob", "bobs-third-password")
            .status,
        200
    );
    assert_eq!(
        Client::new(&server.url)
            .login("alice", "alices-password")
            .status,
        200
    );

    // New collisions and non-addresses are refused.
    for (body, status, says) in [
        (
            json!({ "username": "carol", "email": "alice" }),
            400,
            "not an email address",
        ),
        (
            json!({ "username": "carol", "email": "\u{1b}[31mc@example.org" }),
            400,
            "control",
        ),
        (
            json!({ "username": "carol", "email": format!("{}@example.org", "c".repeat(60 * 1024)) }),
            400,
            "at most 254",
        ),
        (
            json!({ "username": "carol", "email": "Carol Smith, room 4" }),
            400,
            "email",
        ),
        (json!({ "username": "dave@example.org" }), 201, ""),
        (
            json!({ "username": "erin", "email": "Dave@Example.org" }),
            409,
            "username of another user",
        ),
        (
            json!({ "username": "frank", "email": "frank@example.org" }),
            201,
            "",
        ),
        (
            json!({ "username": "frank@example.org" }),
            409,
            "email address of user 'frank'",
        ),
    ] {
        let r = send(&mut token, "POST", "/api/admin/users", Some(body.clone()));
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(says), "{body}: {}", r.body);
    }
    let r = send(
        &mut token,
        "PATCH",
        "/api/admin/users/alice",
        Some(json!({ "email": "dave@example.org" })),
    );
    assert_eq!(r.status, 409, "{}", r.body);

    // An escape code an older version stored is shown, not run, by `user list`.
    db.execute(
        "UPDATE users SET email = 'x\u{1b}[2Jx@example.org' WHERE username = 'alice'",
        [],
    )
    .expect("plant");
    let (ok, out) = builder(dir.path()).run_to_end(&["user", "list"], None);
    assert!(ok, "{out}");
    assert!(!out.contains('\u{1b}'), "raw escape code printed: {out:?}");
    assert!(out.contains("x\\u{1b}[2Jx@example.org"), "{out}");
}
