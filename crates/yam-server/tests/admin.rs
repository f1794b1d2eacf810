//! Who may call the admin endpoints: every endpoint × every kind of caller.

mod common;

use common::*;

#[derive(Clone, Copy, Debug)]
enum Caller {
    Nobody,
    User,
    Admin,
    GoodToken,
    WrongToken,
    EmptyToken,
}

#[derive(Clone, Copy, Debug)]
enum Endpoint {
    ListSessions,
    Revoke,
    Stats,
    ClearSessions,
    ForceLogoutJson,
    DebugSession,
}

fn client_for(server: &ServerProcess, caller: Caller) -> Client {
    match caller {
        Caller::Nobody => Client::new(&server.url),
        Caller::User => bob(server),
        Caller::Admin => admin(server),
        Caller::GoodToken => with_token(server, &server.control_token()),
        Caller::WrongToken => with_token(server, "not-the-token-0123456789"),
        Caller::EmptyToken => with_token(server, ""),
    }
}

fn call(server: &ServerProcess, caller: Caller, endpoint: Endpoint) -> u16 {
    // A victim session to revoke, made fresh for each call.
    let victim = admin(server);
    let key = yam_sessions::SessionId::parse(victim.cookie.as_deref().expect("cookie"))
        .expect("id")
        .key()
        .to_hex();
    let mut c = client_for(server, caller);
    let reply = match endpoint {
        Endpoint::ListSessions => c.get("/api/admin/sessions"),
        Endpoint::Revoke => c.delete(&format!("/api/admin/sessions/{key}")),
        Endpoint::Stats => c.get("/api/admin/stats"),
        Endpoint::ClearSessions => c.post("/admin/clear-sessions"),
        Endpoint::ForceLogoutJson => c.post("/force-logout"),
        Endpoint::DebugSession => c.get("/debug/session"),
    };
    if reply.status >= 400 {
        assert!(
            reply.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{endpoint:?} {caller:?}: no message"
        );
    }
    reply.status
}

#[test]
fn every_admin_endpoint_with_every_kind_of_caller() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path())
        .arg("--allow-multiple-sessions")
        .arg("--debug")
        .spawn();
    let endpoints = [
        Endpoint::ListSessions,
        Endpoint::Revoke,
        Endpoint::Stats,
        Endpoint::ClearSessions,
        Endpoint::ForceLogoutJson,
        Endpoint::DebugSession,
    ];
    let expectations = [
        (Caller::Nobody, 401),
        (Caller::User, 403),
        (Caller::Admin, 200),
        (Caller::GoodToken, 200),
        (Caller::WrongToken, 401),
        (Caller::EmptyToken, 401),
    ];
    let mut checked = 0;
    for endpoint in endpoints {
        for (caller, want) in expectations {
            let got = call(&server, caller, endpoint);
            assert_eq!(got, want, "{endpoint:?} as {caller:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 36);
    assert!(
        !server.output().contains(&server.control_token()),
        "the token was logged"
    );
}

#[test]
fn the_control_token_is_refused_from_a_non_loopback_address() {
    let Some(ip) = lan_ip() else {
        eprintln!("skipped: this machine has no non-loopback address");
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path()).arg("--host").arg("0.0.0.0").spawn();
    let port = server.url.rsplit(':').next().expect("port");
    let mut remote = Client::new(&format!("http://{ip}:{port}"));
    remote.bearer = Some(server.control_token());
    let r = remote.get("/api/admin/stats");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .expect("msg")
            .contains("only from this computer")
    );
    let mut local = with_token(&server, &server.control_token());
    assert_eq!(local.get("/api/admin/stats").status, 200);
}

#[test]
fn debug_session_exists_only_with_debug() {
    let (_dir, server) = multiple();
    let mut c = admin(&server);
    assert_eq!(c.get("/debug/session").status, 404);
}

#[test]
fn sessions_list_is_paged_and_describes_each_session() {
    let (_dir, server) = multiple();
    let me = admin(&server);
    for _ in 0..4 {
        admin(&server);
    }
    bob(&server);
    let mut token = with_token(&server, &server.control_token());
    let page = token.get("/api/admin/sessions?per_page=2&page=2").json();
    assert_eq!(
        (
            page["total"].as_u64(),
            page["pages"].as_u64(),
            page["page"].as_u64()
        ),
        (Some(6), Some(3), Some(2))
    );
    assert_eq!(page["sessions"].as_array().expect("list").len(), 2);
    let s = &page["sessions"][0];
    for field in [
        "key",
        "username",
        "created_at",
        "last_activity",
        "expires_at",
        "ip",
        "user_agent",
        "expires_in_seconds",
    ] {
        assert!(!s[field].is_null(), "{field} missing: {s}");
    }
    assert_eq!(s["ip"], "127.0.0.1");
    let bobs = token.get("/api/admin/sessions?user=bob").json();
    assert_eq!(bobs["total"], 1);
    assert_eq!(bobs["sessions"][0]["username"], "bob");
    // An admin sees which one is their own.
    let mut me = me;
    let mine = me.get("/api/admin/sessions?per_page=100").json();
    let current: Vec<_> = mine["sessions"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    let stats = token.get("/api/admin/stats").json();
    assert_eq!(
        (stats["live_sessions"].as_u64(), stats["users"].as_u64()),
        (Some(6), Some(2))
    );
    assert_eq!(stats["damaged"], 0);
    assert!(
        stats["per_user"]
            .as_array()
            .expect("per user")
            .iter()
            .any(|u| u["username"] == "bob" && u["sessions"] == 1)
    );
}

#[test]
fn revoke_ends_only_that_session_and_force_logout_ends_all() {
    let (_dir, server) = multiple();
    let mut a = admin(&server);
    let mut b = admin(&server);
    let mut c = bob(&server);
    let key = yam_sessions::SessionId::parse(b.cookie.as_deref().expect("cookie"))
        .expect("id")
        .key()
        .to_hex();
    let mut token = with_token(&server, &server.control_token());
    assert_eq!(
        token.delete(&format!("/api/admin/sessions/{key}")).status,
        200
    );
    assert_eq!(
        token.delete(&format!("/api/admin/sessions/{key}")).status,
        404
    );
    let r = b.get("/api/session/time-remaining");
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (401, serde_json::json!("revoked"))
    );
    assert_eq!(a.get("/api/session/time-remaining").status, 200);
    assert_eq!(c.get("/api/session/time-remaining").status, 200);

    let r = a.post("/admin/clear-sessions");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sessions_ended"], 2);
    let r = c.get("/api/session/time-remaining");
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (401, serde_json::json!("force_logout"))
    );
    assert!(session_files(&server.sessions_dir()).is_empty());
}

#[test]
fn shutdown_stops_the_server_gracefully() {
    let (dir, mut server) = multiple();
    let session = admin(&server);
    assert_eq!(
        Client::new(&server.url).post("/api/admin/shutdown").status,
        401
    );
    let r = with_token(&server, &server.control_token()).post("/api/admin/shutdown");
    assert_eq!(r.status, 202);
    assert!(
        wait_until(std::time::Duration::from_secs(15), || !server.is_running()),
        "still running"
    );
    assert!(dir.path().join("server_shutdown_marker.txt").is_file());
    assert!(
        !dir.path().join("control-token").exists(),
        "token file left behind"
    );
    let server = builder(dir.path()).arg("--allow-multiple-sessions").spawn();
    let mut again = Client::with_cookie(&server.url, session.cookie.as_deref().expect("cookie"));
    assert_eq!(
        again.get("/api/session/time-remaining").status,
        200,
        "sessions survive a graceful stop"
    );
}

#[test]
fn yamctl_like_token_from_the_environment_is_used() {
    let dir = tempfile::tempdir().expect("tmp");
    let token = "supervisor-token-0123456789abcdef";
    let server = builder(dir.path()).env("YAM_CONTROL_TOKEN", token).spawn();
    assert_eq!(
        with_token(&server, token).get("/api/admin/stats").status,
        200
    );
    assert_eq!(server.control_token(), token);
    let dir = tempfile::tempdir().expect("tmp");
    let refused = builder(dir.path())
        .env("YAM_CONTROL_TOKEN", "short")
        .try_spawn();
    assert!(refused.is_err_and(|out| out.contains("YAM_CONTROL_TOKEN must be")));
}
