//! Failed-login throttling per IP and per user, seen from several "machines" (127.x sources).

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use serde_json::json;

fn from(server: &ServerProcess, last: [u8; 3]) -> Client {
    Client::from_address(
        &server.url,
        IpAddr::V4(Ipv4Addr::new(127, last[0], last[1], last[2])),
    )
}

fn try_login(c: &mut Client, user: &str, password: &str) -> Reply {
    c.post_json("/login", &json!({ "login_id": user, "password": password }))
}

#[test]
fn guessing_is_slowed_per_address_and_admin_is_never_locked_out_for_long() {
    let (_dir, server) = multiple();
    let password = server.admin_password();
    // The admin's own PC logged in before.
    let mut admin_pc = from(&server, [0, 0, 2]);
    assert_eq!(try_login(&mut admin_pc, "admin", &password).status, 200);

    let mut stranger = from(&server, [0, 0, 5]);
    for _ in 0..5 {
        assert_eq!(try_login(&mut stranger, "admin", "guess-guess").status, 401);
    }
    assert_eq!(try_login(&mut stranger, "admin", "guess-guess").status, 401);
    let r = try_login(&mut stranger, "admin", &password);
    assert_eq!(
        r.status, 429,
        "even the right password waits while throttled"
    );
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!((1..=900).contains(&retry));
    assert!(
        r.json()["message"]
            .as_str()
            .expect("msg")
            .contains("Too many failed logins")
    );
    let r = stranger.post_form("/login", &[("login_id", "admin"), ("password", "x")]);
    assert_eq!(r.status, 429);
    assert!(r.body.contains("Too many failed logins"));

    // Many addresses guessing the same user: the user is slowed down, capped at 30 s.
    let mut guesses = 0;
    let throttled_at = (10..40u8).find(|i| {
        let status = try_login(&mut from(&server, [0, 1, *i]), "admin", "guess-guess").status;
        guesses += 1;
        status == 429
    });
    assert!(
        throttled_at.is_some(),
        "{guesses} addresses guessed admin freely"
    );
    assert!(
        guesses <= 6,
        "the per-user limit took {guesses} fresh addresses"
    );
    let r = try_login(&mut from(&server, [0, 0, 77]), "admin", &password);
    assert_eq!(r.status, 429);
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!(retry <= 30, "admin locked out for {retry} s");
    // The admin's own PC is not affected at all.
    assert_eq!(try_login(&mut admin_pc, "admin", &password).status, 200);
    // Other users from other addresses are not affected.
    let mut other = from(&server, [0, 0, 9]);
    assert_eq!(try_login(&mut other, "bob", "whatever1").status, 401);
}

/// Issue 22 item 12: with `--trusted-proxy 127.0.0.1` (the README's nginx on the same
/// machine), a local program that connects as 127.0.0.1 and invents a new `X-Forwarded-For`
/// per guess is throttled as the proxy once the addresses churn; a user logging in from an
/// address they used before still gets in.
#[test]
fn invented_forwarded_addresses_are_throttled_at_the_proxy() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path())
        .arg("--allow-multiple-sessions")
        .arg("--trusted-proxy")
        .arg("127.0.0.1")
        .spawn();
    let password = server.admin_password();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let login = |forwarded: &str, user: &str, password: &str| {
        http.post(format!("{}/login", server.url))
            .header("X-Forwarded-For", forwarded)
            .json(&json!({ "login_id": user, "password": password }))
            .send()
            .expect("login")
            .status()
            .as_u16()
    };
    assert_eq!(login("10.0.0.2", "admin", &password), 200, "the admin's PC");
    let statuses: Vec<u16> = (0..40u8)
        .map(|i| {
            login(
                &format!("10.9.8.{i}"),
                &format!("guess{i}"),
                "wrong-password",
            )
        })
        .collect();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    println!("40 guesses with invented X-Forwarded-For: {throttled} throttled: {statuses:?}");
    assert!(throttled >= 15, "{throttled} of 40 throttled: {statuses:?}");
    assert_eq!(
        login("10.0.0.2", "admin", &password),
        200,
        "the admin's PC again"
    );
}
