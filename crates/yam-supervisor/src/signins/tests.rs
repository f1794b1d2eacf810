use super::*;

const HOUR: u64 = 3_600_000;

fn registry() -> SignIns {
    SignIns::new(4 * HOUR, Persisted::default())
}

fn as_user(id: &str, name: &str, signed_at_ms: u64) -> CookieView {
    CookieView {
        user: Some((id.into(), Some(name.into()))),
        signed_at: signed_at_ms / 1000,
    }
}

fn browser(ip: &str) -> Client {
    Client {
        ip: Some(ip.into()),
        user_agent: Some("Firefox".into()),
    }
}

/// A login answered at `now`: the companion id the door sets.
fn login(r: &mut SignIns, id: &str, name: &str, ip: &str, now: u64) -> String {
    let set = Answer::Set {
        view: as_user(id, name, now),
        expires: Some(now / 1000 + 4 * 3600),
    };
    match r.answer(None, None, &set, browser(ip), (now, now)) {
        Companion::Set { id, .. } => id,
        other => panic!("{other:?}"),
    }
}

/// A later request of that browser: admitted? and what happens to its companion.
fn visit(r: &mut SignIns, companion: &str, cookie: CookieView, now: u64) -> (Admit, Companion) {
    let req = Request {
        companion: Some(companion),
        session: Some(cookie.clone()),
        ..Request::default()
    };
    let admit = r.admit(&req);
    if admit != Admit::Pass {
        // The door took the cookies out: YAM saw a browser that is not signed in, and the
        // answer clears them (as `DoorSessions::on_answer` does).
        return (admit, Companion::LogOut);
    }
    let admitted = Some(cookie.clone());
    let answer = Answer::Set {
        view: cookie,
        expires: Some(now / 1000 + 4 * 3600),
    };
    let companion = r.answer(
        Some(companion),
        admitted.as_ref(),
        &answer,
        browser("10.0.0.9"),
        (now, now),
    );
    (admit, companion)
}

#[test]
fn a_sign_in_is_one_browser_across_re_signed_cookies() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    let b = login(&mut r, "1", "admin", "10.0.0.2", 2_000);
    let c = login(&mut r, "2", "bob", "10.0.0.3", 3_000);
    assert!(valid_id(&a) && a != b);
    // Flask signs the cookie again at every answer: still the same three sign-ins.
    for t in [10_000, 20_000, 30_000] {
        assert_eq!(
            visit(&mut r, &a, as_user("1", "admin", t), t),
            (Admit::Pass, Companion::Keep)
        );
    }
    let counts = r.counts(30_000, 600_000);
    assert_eq!((counts.live, counts.users, counts.logins_seen), (3, 2, 3));
    assert_eq!(counts.per_user[0].sessions, 2);
    let list = r.list(30_000);
    assert_eq!(list[0].id, a, "most recently active first");
    assert_eq!(list[0].client.ip.as_deref(), Some("10.0.0.9"));
    assert_eq!(list[0].signed_in_at, Some(1_000));
    let _ = (b, c);
}

#[test]
fn what_yam_ended_itself_is_told_from_the_rest() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    let b = login(&mut r, "2", "bob", "10.0.0.2", 1_000);
    let open = r.live_ids(2_000);
    let cookie = as_user("1", "admin", 3_000);
    r.answer(
        Some(&a),
        Some(&cookie),
        &Answer::Cleared,
        Client::default(),
        (3_000, 3_000),
    );
    r.revoke(&b, 3_000);
    assert_eq!(
        r.ended_by_yam_since(2_000, &open),
        1,
        "a revoke is the admin's, not YAM's"
    );
    assert_eq!(r.ended_by_yam_since(4_000, &open), 0);
}

#[test]
fn a_logout_ends_the_sign_in_and_clears_the_companion() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    let cookie = as_user("1", "admin", 5_000);
    let companion = r.answer(
        Some(&a),
        Some(&cookie),
        &Answer::Cleared,
        Client::default(),
        (5_000, 5_000),
    );
    assert_eq!(companion, Companion::Clear);
    assert_eq!(r.counts(5_000, 0).live, 0);
}

#[test]
fn a_revoked_sign_in_is_logged_out_when_it_comes_back_and_only_that_one() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    let b = login(&mut r, "1", "admin", "10.0.0.2", 1_000);
    assert!(r.revoke(&a, 2_000));
    assert!(!r.revoke(&a, 2_000), "once");
    assert_eq!(
        visit(&mut r, &a, as_user("1", "admin", 1_000), 3_000).0,
        Admit::LogOut(Ended::Revoked)
    );
    assert_eq!(
        visit(&mut r, &b, as_user("1", "admin", 3_000), 3_000).0,
        Admit::Pass
    );
    assert_eq!(r.counts(3_000, 0).live, 1);
    assert!(r.persisted().revoked.contains_key(&a), "kept for a restart");
    // Remembered until it would have expired, then forgotten.
    assert!(r.expire(5 * HOUR));
    assert!(r.persisted().revoked.is_empty());
}

#[test]
fn force_logout_refuses_every_older_cookie_and_a_new_login_works() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    login(&mut r, "2", "bob", "10.0.0.2", 1_500);
    assert_eq!(r.force_logout(10_400), 2);
    assert_eq!(r.counts(10_400, 0).live, 0);
    // The browser comes back with its old cookie: logged out.
    let old = as_user("1", "admin", 9_000);
    assert_eq!(
        visit(&mut r, &a, old.clone(), 11_000).0,
        Admit::LogOut(Ended::ForcedOut)
    );
    // Signed in the same second as the force logout, by a browser the door did not see log in
    // after it: refused too.
    let same_second = as_user("1", "admin", 10_000);
    let req = Request {
        session: Some(same_second),
        ..Request::default()
    };
    assert_eq!(r.admit(&req), Admit::LogOut(Ended::ForcedOut));
    // Its remember cookie alone would sign it back in: refused.
    let remembered = Request {
        remember_user: Some("1"),
        ..Request::default()
    };
    assert_eq!(r.admit(&remembered), Admit::LogOut(Ended::ForcedOut));
    // A new login (even within the same second) works, and its cookie from then on.
    let fresh = login(&mut r, "1", "admin", "10.0.0.1", 10_600);
    assert_eq!(
        visit(&mut r, &fresh, as_user("1", "admin", 10_600), 10_700).0,
        Admit::Pass
    );
    assert_eq!(r.admit(&remembered), Admit::Pass, "admin signed in again");
    // An old cookie replayed much later stays refused.
    assert_eq!(
        r.admit(&Request {
            session: Some(old),
            ..Request::default()
        }),
        Admit::LogOut(Ended::ForcedOut)
    );
    // Persisted: a new registry from the saved state refuses it too.
    let again = SignIns::new(4 * HOUR, r.persisted().clone());
    assert_eq!(
        again.admit(&Request {
            session: Some(as_user("2", "bob", 9_000)),
            ..Request::default()
        }),
        Admit::LogOut(Ended::ForcedOut)
    );
}

#[test]
fn a_forged_cookie_is_refused_and_not_counted() {
    let r = registry();
    let req = Request {
        forged_session: true,
        ..Request::default()
    };
    assert_eq!(r.admit(&req), Admit::LogOut(Ended::Forged));
    assert_eq!(r.counts(0, 0).live, 0);
}

#[test]
fn a_browser_signed_in_before_the_door_saw_it_is_counted_when_it_comes_back() {
    let mut r = registry();
    let cookie = as_user("2", "bob", 500);
    let companion = r.answer(
        None,
        Some(&cookie),
        &Answer::Untouched,
        browser("10.0.0.5"),
        (60_000, 60_000),
    );
    let Companion::Set { id, .. } = companion else {
        panic!("{companion:?}")
    };
    let s = &r.list(60_000)[0];
    assert_eq!(
        (s.id.as_str(), s.signed_in_at, s.seen_at),
        (id.as_str(), None, 60_000)
    );
    assert_eq!(
        r.counts(60_000, 0).logins_seen,
        0,
        "not a login the door saw"
    );
    // After a supervisor restart the browser's companion is adopted, not replaced.
    let mut restarted = registry();
    assert_eq!(
        restarted.answer(
            Some(&id),
            Some(&cookie),
            &Answer::Untouched,
            Client::default(),
            (70_000, 70_000)
        ),
        Companion::Keep
    );
    assert_eq!(restarted.counts(70_000, 0).live, 1);
}

#[test]
fn sessions_expire_with_their_cookie_or_the_lifetime() {
    let mut r = registry();
    login(&mut r, "1", "admin", "10.0.0.1", 0);
    assert_eq!(r.counts(4 * HOUR - 1, 600_000).expiring_soon, 1);
    assert_eq!(
        r.counts(4 * HOUR, 0).live,
        0,
        "expired sessions are not counted"
    );
    assert!(r.expire(4 * HOUR));
    // Without an expiry of its own: the lifetime after the last request.
    let mut r = SignIns::new(2 * HOUR, Persisted::default());
    let view = as_user("1", "admin", 0);
    r.answer(
        None,
        Some(&view),
        &Answer::Set {
            view: view.clone(),
            expires: None,
        },
        Client::default(),
        (0, 0),
    );
    assert_eq!(r.list(0)[0].expires_at, 2 * HOUR);
}

/// Single-session mode turned on: YAM (2 h now) signs the cookie again with an expiry 2 h away;
/// the sign-in expires with it, not 4 h after its login (the window showed 3:59 left).
#[test]
fn the_cookies_own_expiry_wins_when_yam_shortens_it() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 0);
    assert_eq!(r.list(0)[0].expires_at, 4 * HOUR);
    r.set_lifetime(2 * HOUR);
    let later = 60_000;
    let view = as_user("1", "admin", later);
    r.answer(
        Some(&a),
        Some(&view),
        &Answer::Set {
            view: view.clone(),
            expires: Some(later / 1000 + 2 * 3600),
        },
        browser("10.0.0.1"),
        (later, later),
    );
    assert_eq!(r.list(later)[0].expires_at, later + 2 * HOUR);
    // An answer that leaves the cookie alone leaves its expiry alone.
    r.answer(
        Some(&a),
        Some(&view),
        &Answer::Untouched,
        browser("10.0.0.1"),
        (later + 1_000, later + 1_000),
    );
    assert_eq!(r.list(later + 1_000)[0].expires_at, later + 2 * HOUR);
}

#[test]
fn another_user_in_the_same_browser_is_a_new_sign_in() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    let bob = as_user("2", "bob", 2_000);
    let admin = as_user("1", "admin", 2_000);
    let companion = r.answer(
        Some(&a),
        Some(&admin),
        &Answer::Set {
            view: bob,
            expires: None,
        },
        Client::default(),
        (2_000, 2_000),
    );
    assert!(
        matches!(companion, Companion::Set { ref id, .. } if *id != a),
        "{companion:?}"
    );
    let c = r.counts(2_000, 0);
    assert_eq!((c.live, c.users, c.logins_seen), (1, 1, 2));
}

#[test]
fn an_answer_to_a_request_under_way_at_a_force_logout_or_revoke_logs_out() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    let cookie = as_user("1", "admin", 1_000);
    // The request came in at 2 s; the admin logged everyone out at 2.5 s; YAM answers at 3 s
    // with a freshly signed cookie: it must not outlive the logout.
    r.force_logout(2_500);
    let set = Answer::Set {
        view: as_user("1", "admin", 3_000),
        expires: None,
    };
    assert_eq!(
        r.answer(
            Some(&a),
            Some(&cookie),
            &set,
            Client::default(),
            (2_000, 3_000)
        ),
        Companion::LogOut
    );
    let mut r = registry();
    let b = login(&mut r, "2", "bob", "10.0.0.2", 1_000);
    r.revoke(&b, 2_500);
    assert_eq!(
        r.answer(
            Some(&b),
            Some(&as_user("2", "bob", 1_000)),
            &set,
            Client::default(),
            (2_000, 3_000)
        ),
        Companion::LogOut
    );
}

#[test]
fn parallel_first_requests_of_one_browser_are_one_sign_in() {
    let mut r = registry();
    let cookie = as_user("1", "admin", 500);
    let first = r.answer(
        None,
        Some(&cookie),
        &Answer::Untouched,
        browser("10.0.0.7"),
        (1_000, 1_000),
    );
    let second = r.answer(
        None,
        Some(&cookie),
        &Answer::Untouched,
        browser("10.0.0.7"),
        (1_000, 1_020),
    );
    let (Companion::Set { id: a, .. }, Companion::Set { id: b, .. }) = (first, second) else {
        panic!("both answers set the companion")
    };
    assert_eq!(a, b);
    assert_eq!(r.counts(1_020, 0).live, 1);
    // Another browser of the same user is another sign-in.
    r.answer(
        None,
        Some(&cookie),
        &Answer::Untouched,
        browser("10.0.0.8"),
        (1_100, 1_100),
    );
    assert_eq!(r.counts(1_100, 0).live, 2);
}

/// Red team, round 4: whoever holds a revoked browser's cookies drops the session and
/// companion cookies and keeps the remember cookie, or pairs it with a new anonymous session.
#[test]
fn a_revoked_users_remember_cookie_is_refused_until_they_sign_in_again() {
    let mut r = registry();
    let a = login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    let other = login(&mut r, "1", "admin", "10.0.0.2", 1_000);
    assert!(r.revoke(&a, 2_000));
    let only_remember = Request {
        remember_user: Some("1"),
        ..Request::default()
    };
    assert_eq!(r.admit(&only_remember), Admit::LogOut(Ended::Revoked));
    let anonymous = Request {
        session: Some(CookieView {
            user: None,
            signed_at: 3,
        }),
        remember_user: Some("1"),
        ..Request::default()
    };
    assert_eq!(r.admit(&anonymous), Admit::LogOut(Ended::Revoked));
    // The user's other browser, signed in by its session, is not touched.
    assert_eq!(
        visit(&mut r, &other, as_user("1", "admin", 3_000), 3_000).0,
        Admit::Pass
    );
    // They sign in again with YAM's form: their remember cookie counts again.
    login(&mut r, "1", "admin", "10.0.0.1", 4_000);
    assert_eq!(r.admit(&only_remember), Admit::Pass);
}

#[test]
fn after_a_force_logout_an_anonymous_session_does_not_carry_an_old_remember_cookie_in() {
    let mut r = registry();
    login(&mut r, "1", "admin", "10.0.0.1", 1_000);
    r.force_logout(2_000);
    let anonymous = Request {
        session: Some(CookieView {
            user: None,
            signed_at: 3,
        }),
        remember_user: Some("1"),
        ..Request::default()
    };
    assert_eq!(r.admit(&anonymous), Admit::LogOut(Ended::ForcedOut));
}
