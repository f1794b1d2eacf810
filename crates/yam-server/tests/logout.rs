//! Item 12 and the cookie parser: logging out cannot be forced from another site, and
//! another application's cookie is not a session.

mod common;

use common::*;

fn get_with(c: &mut Client, path: &str, header: (&str, &str)) -> Reply {
    let cookie = c.cookie.clone().unwrap_or_default();
    let url = c.url(path);
    let r = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(url)
        .header("Cookie", format!("yam_session={cookie}"))
        .header(header.0, header.1)
        .send()
        .expect("request");
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().unwrap_or_default(),
    }
}

fn alive(c: &mut Client) -> bool {
    c.get("/api/session/time-remaining").status == 200
}

#[test]
fn logout_by_link_from_another_site_only_asks() {
    let (_dir, server) = multiple();
    let mut c = admin(&server);
    for (header, value) in [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
        ("X-Nothing", "no fetch metadata at all"),
    ] {
        let r = get_with(&mut c, "/logout", (header, value));
        assert_eq!(r.status, 200, "{header}: {value}: {}", r.body);
        assert!(
            r.body.contains("method=\"post\" action=\"/logout\""),
            "{}",
            r.body
        );
        assert!(
            alive(&mut c),
            "GET /logout ({header}: {value}) ended the session"
        );
    }
    // The user's own click (same origin, or typed in the address bar) logs out.
    let r = get_with(&mut c, "/logout", ("Sec-Fetch-Site", "same-origin"));
    assert_eq!(r.status, 302);
    assert!(!alive(&mut c));

    let mut c = admin(&server);
    let r = get_with(&mut c, "/logout", ("Sec-Fetch-Site", "none"));
    assert_eq!(r.status, 302);
    assert!(!alive(&mut c));
}

#[test]
fn logout_by_post_and_the_page_uses_a_form() {
    let (_dir, server) = multiple();
    let mut c = admin(&server);
    let home = c.get("/");
    assert!(
        home.body.contains("method=\"post\" action=\"/logout\""),
        "{}",
        home.body
    );
    c.origin = Some("http://evil.example".into());
    assert_eq!(c.post_form("/logout", &[]).status, 403);
    assert!(alive(&mut c));
    c.origin = None;
    let r = c.post_form("/logout", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/login?reason=logged_out"));
    assert!(!alive(&mut c));
}

#[test]
fn another_applications_cookie_is_not_a_session() {
    let (_dir, server) = multiple();
    for cookie in ["yam_session_x=1", "my_yam_session=abc", "yam_sessionx=1"] {
        let r = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(format!("{}/", server.url))
            .header("Cookie", cookie)
            .send()
            .expect("request");
        assert_eq!(r.status().as_u16(), 302);
        assert_eq!(
            r.headers()["location"],
            "/login",
            "{cookie} was taken for a stale session"
        );
        assert!(r.headers().get("set-cookie").is_none(), "{cookie}");
    }
}
