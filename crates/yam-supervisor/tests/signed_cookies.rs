//! A YAM whose sessions are Flask's signed cookies (the real YAM's way; the stand-in is
//! `tests/fixtures/yam_cookie_app`: default sessions, a Flask-Login-style remember cookie, YAM's
//! login form and command line), supervised behind the door: browsers are counted and listed
//! with the right users, one is revoked, everyone is logged out (and sees the login page once,
//! no loop), a new login works, the logout survives a supervisor restart, a forged cookie is
//! refused, an old cookie replayed later stays refused — and health checks never consume
//! YAM's `force_session_reset.txt`.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::steps::running_other_than;
use common::yam_python::{Stand, python_harness, python_settings};
use common::*;
use yam_supervisor::status::Status;
use yam_testkit::Browser;

const PASSWORD: &str = "yam-password";

/// Signs a browser in with YAM's login form; it then holds a session, a remember cookie and
/// the door's companion.
fn sign_in(base: &str, email: &str, agent: &str) -> Browser {
    let mut b = Browser::new(base, agent);
    let page = b.post_form("/login", &[("email", email), ("password", PASSWORD)]);
    assert_eq!(
        (page.status, page.location.as_deref()),
        (302, Some("/")),
        "{page:?}"
    );
    for name in ["yam_session", "remember_token", "yam_tray_sid"] {
        assert!(b.cookie(name).is_some(), "{name} after login");
    }
    b
}

/// The browser asks for a page: signed in (200), or sent to the login page.
fn signed_in(b: &mut Browser) -> bool {
    b.get("/api/session/time-remaining").status == 200
}

/// A logged-out browser gets one redirect to YAM's login page, which answers: no loop.
fn sees_login_page_once(b: &mut Browser) {
    let home = b.get("/");
    assert_eq!(
        (home.status, home.location.as_deref()),
        (302, Some("/login")),
        "{home:?}"
    );
    let login = b.get("/login");
    assert_eq!(login.status, 200, "{login:?}");
    assert!(login.body.contains("<form"), "{}", login.body);
    assert!(
        b.cookie("remember_token").is_none(),
        "the remember cookie was cleared"
    );
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("join")
}

fn counted(live: usize, users: usize) -> impl Fn(&Status) -> bool {
    move |s| s.sessions.live == live && s.sessions.users == users
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browsers_are_counted_revoked_and_logged_out_at_the_door() {
    let h = python_harness(Stand::SignedCookie, |_| {}).await;
    let status = h.running().await;
    let caps = status.capabilities.expect("capabilities");
    assert!(caps.live_counts && caps.revoke_session && caps.force_logout);
    assert!(
        caps.notes
            .iter()
            .any(|n| n.contains("signed cookies") && n.contains("SECRET_KEY")),
        "{:?}",
        caps.notes
    );
    let base = h.url();

    // Three browsers, two users: counted and listed with their users.
    let b = base.clone();
    let (mut a1, mut a2, mut bob) = blocking(move || {
        (
            sign_in(&b, "admin@example.com", "Firefox A"),
            sign_in(&b, "admin@example.com", "Chrome B"),
            sign_in(&b, "bob@example.com", "Safari C"),
        )
    })
    .await;
    h.wait("3 sessions of 2 users", counted(3, 2)).await;
    let list = h.supervisor.sessions().await.expect("list");
    assert_eq!((list.source.as_str(), list.total), ("door", 3));
    let mut who: Vec<(String, String)> = list
        .sessions
        .iter()
        .map(|r| {
            (
                r.username.clone().unwrap_or_default(),
                r.user_agent.clone().unwrap_or_default(),
            )
        })
        .collect();
    who.sort();
    assert_eq!(
        who,
        vec![
            ("admin".into(), "Chrome B".into()),
            ("admin".into(), "Firefox A".into()),
            ("bob".into(), "Safari C".into())
        ]
    );
    assert!(
        list.sessions
            .iter()
            .all(|r| r.ip.as_deref() == Some("127.0.0.1"))
    );
    // Flask signs the cookie again at every answer: still three sign-ins.
    (a1, a2, bob) = blocking(move || {
        for _ in 0..3 {
            assert!(signed_in(&mut a1) && signed_in(&mut a2) && signed_in(&mut bob));
        }
        (a1, a2, bob)
    })
    .await;
    assert_eq!(h.supervisor.status().sessions.live, 3);

    // Revoke one: only that browser is logged out.
    let chrome = list
        .sessions
        .iter()
        .find(|r| r.user_agent.as_deref() == Some("Chrome B"))
        .expect("row")
        .key
        .clone();
    h.supervisor.revoke(&chrome).await.expect("revoke");
    h.wait("2 sessions after the revoke", counted(2, 2)).await;
    let b = base.clone();
    (a1, _, bob) = blocking(move || {
        // Whoever copied Chrome's cookies keeps only the remember cookie: still refused.
        let mut thief = Browser::new(&b, "curl");
        thief.set_cookie(
            "remember_token",
            a2.cookie("remember_token")
                .expect("Chrome's remember cookie"),
        );
        assert!(
            !signed_in(&mut thief),
            "a revoked user's remember cookie is refused"
        );
        sees_login_page_once(&mut a2);
        assert!(!signed_in(&mut a2), "revoked stays out");
        assert!(
            signed_in(&mut a1) && signed_in(&mut bob),
            "the others stay in"
        );
        (a1, a2, bob)
    })
    .await;

    // Force logout: everyone, and the cookies kept from before stay refused.
    let old_jar = a1.jar();
    let message = h.supervisor.force_logout().await.expect("force logout");
    assert!(message.contains("at the door"), "{message}");
    h.wait("nobody", counted(0, 0)).await;
    let b = base.clone();
    let mut again = blocking(move || {
        sees_login_page_once(&mut a1);
        sees_login_page_once(&mut bob);
        // A new login works at once.
        let mut again = sign_in(&b, "admin@example.com", "Firefox A");
        assert!(signed_in(&mut again));
        // The old cookies, replayed later, stay refused.
        let mut replay = Browser::new(&b, "Replayer");
        replay.restore(old_jar);
        assert!(!signed_in(&mut replay));
        again
    })
    .await;
    h.wait("the new login", counted(1, 1)).await;
    assert!(blocking(move || signed_in(&mut again)).await);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_force_logout_survives_a_supervisor_restart_and_forged_cookies_are_refused() {
    let h = python_harness(Stand::SignedCookie, |_| {}).await;
    h.running().await;
    let base = h.url();
    let b = base.clone();
    let (browser, mut forged) = blocking(move || {
        let browser = sign_in(&b, "bob@example.com", "Firefox");
        // A cookie claiming to be admin, with a signature YAM's secret did not make.
        let mut forged = Browser::new(&b, "Forger");
        let real = browser.cookie("yam_session").expect("cookie").to_owned();
        let (_, stamp_and_signature) = real.split_once('.').expect("dots");
        let claim = URL_SAFE_NO_PAD.encode(br#"{"_user_id":"1","user_id":1,"username":"admin"}"#);
        forged.set_cookie("yam_session", &format!("{claim}.{stamp_and_signature}"));
        (browser, forged)
    })
    .await;
    h.wait("bob", counted(1, 1)).await;
    forged = blocking(move || {
        assert!(!signed_in(&mut forged), "a forged cookie is not a session");
        forged
    })
    .await;
    assert_eq!(
        h.supervisor.status().sessions.live,
        1,
        "the forged one is not counted"
    );
    drop(forged);

    h.supervisor.force_logout().await.expect("force logout");
    let jar = browser.jar();
    // A new supervisor on the same folders: the logout holds.
    let yam = h.dir.path().join("YAM");
    let dir = h.stop().await;
    let settings = python_settings(&yam).await;
    let again = harness_tuned(&settings, free_port(), dir, |_| {});
    again.running().await;
    let b = again.url();
    blocking(move || {
        let mut back = Browser::new(&b, "Firefox");
        back.restore(jar);
        assert!(!signed_in(&mut back), "logged out for good");
    })
    .await;
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_checks_never_consume_yams_force_reset_marker() {
    let h = python_harness(Stand::SignedCookie, |o| {
        o.health_every = Duration::from_millis(100);
    })
    .await;
    h.running().await;
    let marker = h.dir.path().join("YAM/force_session_reset.txt");
    std::fs::write(&marker, "reset\n").expect("marker");
    // Many health checks later, the marker still waits for a browser.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(marker.exists(), "a health check consumed the marker");
    assert_eq!(h.supervisor.status().phase_label, "Running");
    let b = h.url();
    blocking(move || Browser::new(&b, "First visitor").get("/")).await;
    assert!(
        until(Duration::from_secs(5), || !marker.exists()).await,
        "the first browser request consumes it"
    );
    h.stop().await;
}

/// The real YAM logs every open session out when it starts in single-session mode; the window
/// says so from what the door saw, not from an assumption.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_yam_did_to_open_sessions_at_a_mode_switch_is_measured() {
    let h = python_harness(Stand::SignedCookie, |_| {}).await;
    std::fs::write(h.dir.path().join("YAM/single_session_logout.on"), "").expect("flag");
    let before = h.running().await;
    let b = h.url();
    let (mut one, mut two) = blocking(move || {
        (
            sign_in(&b, "admin@example.com", "Firefox"),
            sign_in(&b, "bob@example.com", "Chrome"),
        )
    })
    .await;
    h.wait("2 sessions", counted(2, 2)).await;
    h.supervisor
        .set_multiple_sessions(false)
        .await
        .expect("single mode");
    h.wait("YAM in single mode", |s| {
        s.phase_label == "Running" && s.pid.is_some() && s.pid != before.pid
    })
    .await;
    blocking(move || {
        assert!(!signed_in(&mut one), "YAM logged the session out itself");
        assert!(!signed_in(&mut two));
    })
    .await;
    let s = h
        .wait("the switch's effect", |s| {
            s.mode_switch.is_some_and(|m| m.ended == 2)
        })
        .await;
    let effect = s.mode_switch.expect("effect");
    assert_eq!(
        (effect.to_multiple, effect.open, effect.ended),
        (false, 2, 2)
    );
    h.stop().await;
}

/// A wrong YAM secret in Settings (found by an admin's walk: every browser was sent back to the
/// login page, silently, while the window counted them). YAM's own cookies prove the secret
/// wrong: the door then lets them through and counts them unverified, and the status says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_secret_in_the_settings_locks_nobody_out_and_is_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let yam = dir.path().join("YAM");
    copy_dir(&yam_testkit::fixture("yam_cookie_app"), &yam).expect("copy the stand-in");
    let settings = format!(
        "{}yam_secret_key = \"not-the-secret-yam-signs-with\"\n",
        python_settings(&yam).await
    );
    let h = harness_tuned(&settings, free_port(), dir, |_| {});
    h.running().await;
    let b = h.url();
    let bob = blocking(move || {
        let mut bob = sign_in(&b, "bob@example.com", "Firefox");
        for _ in 0..3 {
            assert!(signed_in(&mut bob), "signed in with the cookie YAM made");
        }
        bob
    })
    .await;
    h.wait("bob counted", counted(1, 1)).await;
    let status = h.supervisor.status();
    assert_eq!(status.sessions_source, "door_unverified");
    assert!(
        status
            .warnings
            .iter()
            .any(|w| w.contains("secret key") && w.contains("does not match the one YAM signs")),
        "{:?}",
        status.warnings
    );

    // A force logout still holds against that browser's old cookies, also for a new
    // supervisor that has not seen one of YAM's cookies yet (the key not proven either way).
    h.supervisor.force_logout().await.expect("force logout");
    let with_remember = bob.jar();
    let mut session_only = with_remember.clone();
    session_only.remove("remember_token");
    let dir = h.stop().await;
    let again = harness_tuned(&settings, free_port(), dir, |_| {});
    again.running().await;
    let b = again.url();
    blocking(move || {
        for jar in [session_only, with_remember] {
            let mut back = Browser::new(&b, "Firefox");
            back.restore(jar);
            assert!(!signed_in(&mut back), "an old cookie stays logged out");
        }
        let mut fresh = sign_in(&b, "bob@example.com", "Firefox");
        assert!(signed_in(&mut fresh), "a new login works");
    })
    .await;
    again.stop().await;
}

/// Changing the profile (the built-in server ↔ a Python YAM) closes and reopens the public port
/// (one takes the socket over, the other is proxied): the status must not say "nobody was
/// refused" for that switch (found by an admin's walk: 4 requests refused, the window said none
/// were), while a plain restart still keeps the port.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_profile_change_that_reopens_the_port_is_not_called_seamless() {
    let dir = tempfile::tempdir().expect("tmp");
    let yam = dir.path().join("YAM");
    copy_dir(&yam_testkit::fixture("yam_cookie_app"), &yam).expect("copy the stand-in");
    let h = harness_tuned("", free_port(), dir, |_| {});
    let first = h.running().await;
    let mut settings = h.supervisor.settings();
    settings.profile = yam_supervisor::settings::ProfileKind::Python;
    settings.yam_dir = Some(yam);
    settings.python = Some(
        tokio::task::spawn_blocking(yam_testkit::flask_python)
            .await
            .expect("venv"),
    );
    let saved = h.supervisor.save_settings(settings).await.expect("saved");
    assert!(saved.restarted, "{}", saved.message);
    h.wait("the Python YAM answering", running_other_than(first.pid))
        .await;
    let status = h.supervisor.status();
    assert_eq!(
        status.profile,
        yam_supervisor::settings::ProfileKind::Python
    );
    assert!(status.last_switch.is_some(), "{status:?}");
    assert!(status.port_reopened_in_last_switch, "{status:?}");

    h.supervisor.restart(false).await.expect("restart");
    h.wait("a plain restart", running_other_than(status.pid))
        .await;
    assert!(!h.supervisor.status().port_reopened_in_last_switch);
    h.stop().await;
}
