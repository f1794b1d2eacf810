//! The server's own pages as a person reads them: the time a session runs until is local
//! time with its zone (never raw UTC), every page has one `h1`, counts read "1 session" /
//! "2 sessions", and the tab has an icon (`/favicon.ico` answered, allowed by the policy).

mod common;

use common::*;

fn h1_count(body: &str) -> usize {
    body.matches("<h1").count()
}

#[test]
fn pages_show_local_times_one_heading_and_an_icon() {
    let (_dir, server) = multiple();
    let mut c = admin(&server);
    let home = c.get("/");
    assert_eq!(home.status, 200);
    let until = home
        .body
        .split("(until ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the home page says until when")
        .to_owned();
    // "14:43 on Mon 7 Dec, UTC+01:00" — not "2026-12-07T13:43:20.087Z".
    assert!(
        !until.contains('Z') && !until.contains("T0") && !until.contains("T1"),
        "{until}"
    );
    assert!(until.contains(", UTC"), "the zone is named: {until}");
    assert_eq!(h1_count(&home.body), 1, "{}", home.body);

    let login = Client::new(&server.url).get("/login");
    assert_eq!(h1_count(&login.body), 1, "{}", login.body);

    let confirm = c.get("/force-logout");
    assert!(
        confirm
            .body
            .contains("This ends <strong>all 1 session</strong> of 1 user"),
        "{}",
        confirm.body
    );

    let icon = c.get("/favicon.ico");
    assert_eq!(icon.status, 200);
    assert_eq!(
        icon.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/x-icon")
    );
    let policy = home
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(policy.contains("img-src 'self'"), "{policy}");
}
