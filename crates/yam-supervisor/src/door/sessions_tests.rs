//! The door's view of YAM's secret key, with cookies made by Flask: YAM's own cookies prove
//! it, and a new key shows at the next login.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};

use super::sessions::{CookieRules, DoorSessions, SESSIONS_FILE, SecretCheck};
use crate::readers::flask_cookie::Secrets;
use crate::signins::Client;

const SECRET: &str = "yam-cookie-stand-in-secret";
/// Made by Flask 3.1 with `SECRET` (user 7), as in `readers::flask_cookie`'s tests.
const YAMS: &str = "eyJfdXNlcl9pZCI6IjcifQ.axXpbw.-uXSQMZ4kLs0YnDgYViYbCLOSH8";
/// Made by Flask 3.1 for bob with another key ("a-key-yam-was-given-later"): YAM restarted
/// with a new secret while the door's rules stayed.
const LATER: &str =
    ".eJyrVoovLU4tis9MUbJSMlLSUYLzjCDsvMTcVKBUUn6SUi0ATv4Ofw.axa8Uw.wJUtbyUt-1GIQTt3xr_6iuK8JPw";

fn door(dir: &std::path::Path) -> Arc<DoorSessions> {
    DoorSessions::open(CookieRules {
        session: "yam_session".into(),
        remember: "remember_token".into(),
        id_fields: vec!["_user_id".into(), "user_id".into()],
        name_field: "username".into(),
        secrets: Some(Secrets::new([SECRET])),
        lifetime_ms: 4 * 3_600_000,
        state_file: dir.join(SESSIONS_FILE),
    })
    .0
}

/// A request carrying `cookie` (or none), answered by YAM setting `set`.
fn exchange(d: &DoorSessions, cookie: Option<&str>, set: &str) {
    let mut request = HeaderMap::new();
    if let Some(c) = cookie {
        request.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("yam_session={c}")).expect("header"),
        );
    }
    let pending = d.on_request(&mut request, Client::default());
    let mut answer = HeaderMap::new();
    answer.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("yam_session={set}; HttpOnly; Path=/")).expect("header"),
    );
    d.on_answer(pending, &mut answer);
}

#[test]
fn yams_own_cookies_prove_the_key_and_a_new_key_shows_at_the_next_login() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = door(dir.path());
    assert_eq!(d.secret_check(), SecretCheck::Unconfirmed);
    assert!(d.verified());
    exchange(&d, None, YAMS);
    assert_eq!(d.secret_check(), SecretCheck::Confirmed);
    // Answers to a signed-in browser are not checked again (the cost stays one read).
    exchange(&d, Some(YAMS), YAMS);
    assert_eq!(d.secret_check(), SecretCheck::Confirmed);
    // YAM now signs with another key: the next login's cookie shows it.
    exchange(&d, None, LATER);
    assert_eq!(d.secret_check(), SecretCheck::Mismatch);
    assert!(!d.verified());
    // And a cookie YAM made with the old key again puts it right.
    exchange(&d, None, YAMS);
    assert_eq!(d.secret_check(), SecretCheck::Confirmed);
}
