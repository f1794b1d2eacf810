//! Cross-site attempts never end a session; the confirmation form does, with its token.

mod common;

use common::*;

fn alive(server: &ServerProcess, cookie: &str) -> bool {
    Client::with_cookie(&server.url, cookie)
        .get("/api/session/time-remaining")
        .status
        == 200
}

#[test]
fn foreign_origins_and_token_less_forms_end_nothing() {
    let (_dir, server) = multiple();
    let victim = admin(&server);
    let cookie = victim.cookie.clone().expect("cookie");
    let mut attacker = Client::with_cookie(&server.url, &cookie);
    attacker.origin = Some("http://evil.example".into());
    let mut attempts = 0;
    for path in [
        "/force-logout",
        "/admin/clear-sessions",
        "/api/session/logout",
        "/api/admin/shutdown",
    ] {
        let r = attacker.post(path);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.body.contains("Cross-site request refused"));
        attempts += 1;
    }
    let key = yam_sessions::SessionId::parse(&cookie)
        .expect("id")
        .key()
        .to_hex();
    assert_eq!(
        attacker
            .delete(&format!("/api/admin/sessions/{key}"))
            .status,
        403
    );
    attempts += 1;
    let r = attacker.post_form("/force-logout", &[("csrf_token", "x")]);
    assert_eq!(r.status, 403);
    attempts += 1;

    // Same site but no token: an old browser that sends no Origin, or a forged form.
    let mut no_token = Client::with_cookie(&server.url, &cookie);
    assert_eq!(no_token.post_form("/force-logout", &[]).status, 403);
    assert_eq!(
        no_token
            .post_form(
                "/force-logout",
                &[("csrf_token", "0123456789abcdef0123456789abcdef")]
            )
            .status,
        403
    );
    // Cross-site forms can only send form, multipart or text bodies: JSON endpoints refuse them.
    let r = no_token.post_raw("/api/session/logout", "text/plain", b"x".to_vec());
    assert_eq!(r.status, 415);
    let r = no_token.post_raw(
        "/admin/clear-sessions",
        "application/x-www-form-urlencoded",
        b"a=b".to_vec(),
    );
    assert_eq!(r.status, 415);
    attempts += 4;

    // GET only asks.
    let page = no_token.get("/force-logout");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("This ends <strong>all 1 session<"),
        "{}",
        page.body
    );
    attempts += 1;

    assert!(
        alive(&server, &cookie),
        "a session ended after {attempts} cross-site attempts"
    );
    assert_eq!(session_files(&server.sessions_dir()).len(), 1);
}

#[test]
fn the_confirmation_form_ends_every_session() {
    let (_dir, server) = multiple();
    let other = admin(&server);
    let mut me = admin(&server);
    let page = me.get("/force-logout").body;
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token in the form")
        .to_owned();
    me.origin = Some(server.url.clone());
    let r = me.post_form("/force-logout", &[("csrf_token", &token)]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("2 sessions ended"));
    assert!(r.clears_cookie());
    assert!(!alive(&server, other.cookie.as_deref().expect("cookie")));
}

#[test]
fn force_logout_page_needs_an_admin() {
    let (_dir, server) = multiple();
    let r = Client::new(&server.url).get("/force-logout");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/login?next=%2Fforce-logout"));
    let mut user = bob(&server);
    let r = user.get("/force-logout");
    assert_eq!(r.status, 403);
    assert!(r.body.contains("not an admin"));
    // YAM's docs show `curl -X POST /force-logout` without auth: refused, with the proper way.
    let r = Client::new(&server.url).post_empty("/force-logout");
    assert_eq!(r.status, 401);
    assert!(
        r.json()["message"]
            .as_str()
            .expect("msg")
            .contains("Authorization: Bearer")
    );
}

#[test]
fn scripts_without_origin_keep_working() {
    let (_dir, server) = multiple();
    let mut script = admin(&server);
    assert_eq!(script.post_empty("/api/session/activity").status, 200);
    assert_eq!(script.post_empty("/api/session/extend").status, 200);
    let mut same_site = admin(&server);
    same_site.origin = Some(server.url.clone());
    assert_eq!(same_site.post("/api/session/activity").status, 200);
}
