use super::*;
use RowKey::{File, Sid};

const HOUR: u64 = 3_600_000;
const PREFIX: &str = "session:";

fn keys(sid: &str) -> SidKeys {
    SidKeys::of(PREFIX, sid)
}

fn client(ip: &str) -> Client {
    Client {
        ip: Some(ip.into()),
        user_agent: Some(format!("browser at {ip}")),
    }
}

fn fresh() -> Sightings {
    Sightings::new(PREFIX, 4 * HOUR, Persisted::default())
}

/// YAM's answer set `sid` for a request that carried `carried`.
fn set(s: &mut Sightings, carried: Option<&str>, sid: &str, now: u64) -> AfterAnswer {
    s.answer(
        carried.map(keys).as_ref(),
        &Answered::Set {
            keys: keys(sid),
            expires: None,
        },
        None,
        client("10.0.0.1"),
        (now, now),
    )
}

#[test]
fn reads_the_sid_of_plain_and_signed_cookies() {
    assert_eq!(sid_of("abc-DEF_123"), Some("abc-DEF_123"));
    assert_eq!(sid_of("abc-DEF_123.c2lnbmF0dXJl"), Some("abc-DEF_123"));
    for bad in ["", ".sig", "a b", "a/b", "ä", &"x".repeat(129), "a;b"] {
        assert_eq!(sid_of(bad), None, "{bad:?}");
    }
}

#[test]
fn names_a_session_as_cachelib_names_its_file() {
    // Python: hashlib.sha256(b"session:Xy-_3").hexdigest(), and md5.
    let k = keys("Xy-_3");
    assert_eq!(
        k.id,
        "85a84b48ed613d9c7ccd1ff082eb76af7bce9f0c47268b799e240ec80358f9ee"
    );
    assert_eq!(k.md5, "28ebbbd48ee77336dabe4b76b222f48b");
}

#[test]
fn follows_a_session_from_login_to_logout() {
    let mut s = fresh();
    assert_eq!(set(&mut s, None, "a", 1_000), AfterAnswer::Keep);
    assert_eq!(s.live(1_000), 1);
    let seen = s
        .find(File(&keys("a").id))
        .expect("found by its sha256 file name");
    assert_eq!(seen.begun_at, Some(1_000));
    assert_eq!(seen.client, client("10.0.0.1"));
    assert!(
        s.find(File(&keys("a").md5)).is_some(),
        "and by its md5 file name"
    );
    assert!(s.find(Sid("a")).is_some(), "and by its sid (a Redis row)");

    // A later request continues it, from another address.
    s.answer(
        Some(&keys("a")),
        &Answered::Untouched,
        None,
        client("10.0.0.2"),
        (5_000, 5_000),
    );
    let seen = s.find(Sid("a")).expect("live");
    assert_eq!(
        (seen.last_activity, seen.client.clone()),
        (5_000, client("10.0.0.2"))
    );
    assert_eq!(seen.expires_at, 5_000 + 4 * HOUR);

    // A browser the door had not seen, whose session YAM refreshes: seen, not begun here.
    set(&mut s, Some("b"), "b", 6_000);
    assert_eq!(s.find(Sid("b")).map(|x| x.begun_at), Some(None));
    assert_eq!(s.live(6_000), 2);

    // Logout clears the cookie.
    s.answer(
        Some(&keys("a")),
        &Answered::Cleared,
        None,
        client("10.0.0.2"),
        (7_000, 7_000),
    );
    assert_eq!(s.live(7_000), 1);
    assert!(s.find(Sid("a")).is_none());
}

#[test]
fn a_new_session_id_ends_the_old_one() {
    let mut s = fresh();
    set(&mut s, None, "old", 1_000);
    set(&mut s, Some("old"), "new", 2_000);
    assert!(s.find(Sid("old")).is_none());
    assert_eq!(s.find(Sid("new")).map(|x| x.begun_at), Some(Some(2_000)));
    assert_eq!(s.live(2_000), 1);
}

#[test]
fn a_request_that_yam_answers_without_a_session_is_not_followed() {
    let mut s = fresh();
    s.answer(
        Some(&keys("never-set")),
        &Answered::Untouched,
        None,
        client("10.0.0.1"),
        (1_000, 1_000),
    );
    assert_eq!(s.live(1_000), 0);
}

#[test]
fn expiry_uses_the_cookie_else_the_lifetime() {
    let mut s = fresh();
    s.answer(
        None,
        &Answered::Set {
            keys: keys("a"),
            expires: Some(100),
        },
        None,
        client("10.0.0.1"),
        (1_000, 1_000),
    );
    set(&mut s, None, "b", 1_000);
    assert_eq!(s.live(99_999), 2);
    s.expire(100_000);
    assert_eq!(s.live(100_000), 1, "a expired with its cookie");
    s.expire(1_000 + 4 * HOUR);
    assert_eq!(s.live(1_000 + 4 * HOUR), 0);
    assert!(
        s.find(File(&keys("b").md5)).is_none(),
        "the md5 index is cleaned too"
    );
}

#[test]
fn a_revoked_browser_is_logged_out_with_its_remember_cookie() {
    let a = keys("a");
    for row in [File(&a.id), File(&a.md5), Sid("a")] {
        let mut s = fresh();
        set(&mut s, None, "a", 1_000);
        set(&mut s, None, "b", 1_000);
        assert!(s.revoke(row, Some("1"), 2_000), "{row:?}");
        assert_eq!(s.live(2_000), 1);
        assert_eq!(
            s.admit(Some(&keys("a")), Some("1")),
            Admit::LogOut(Ended::Revoked)
        );
        assert_eq!(s.admit(Some(&keys("b")), Some("2")), Admit::Pass);
        assert_eq!(s.admit(Some(&keys("b")), None), Admit::Pass);
        assert!(s.persisted().revoked.contains_key(&keys("a").id));
        assert!(
            !serde_json::to_string(s.persisted())
                .expect("json")
                .contains("\"a\""),
            "the sid itself is never kept"
        );
        // The revoked browser (or whoever holds its cookies) drops its session cookie and
        // keeps the remember cookie: still refused, with any session, until user 1 signs in.
        assert_eq!(s.admit(None, Some("1")), Admit::LogOut(Ended::Revoked));
        set(&mut s, None, "anonymous", 2_500);
        assert_eq!(
            s.admit(Some(&keys("anonymous")), Some("1")),
            Admit::LogOut(Ended::Revoked)
        );
        // Remembered until the session would have expired.
        s.expire(1_000 + 4 * HOUR);
        assert_eq!(s.admit(Some(&keys("a")), None), Admit::Pass);
        // User 1 signs in again (YAM gives them a new remember cookie): theirs counts again.
        s.answer(
            None,
            &Answered::Set {
                keys: keys("a2"),
                expires: None,
            },
            Some("1"),
            client("10.0.0.1"),
            (3_000, 3_000),
        );
        assert_eq!(s.admit(None, Some("1")), Admit::Pass);
    }
    let mut s = fresh();
    assert!(
        !s.revoke(File("0123456789abcdef0123456789abcdef"), Some("7"), 1),
        "an md5 name the door never saw cannot be named"
    );
    assert_eq!(
        s.admit(None, Some("7")),
        Admit::LogOut(Ended::Revoked),
        "but its user's remember cookie is refused all the same"
    );
}

#[test]
fn a_revoke_while_the_request_is_under_way_clears_what_yam_sets() {
    let mut s = fresh();
    set(&mut s, None, "a", 1_000);
    assert_eq!(s.admit(Some(&keys("a")), None), Admit::Pass);
    s.revoke(Sid("a"), None, 1_500);
    assert_eq!(set(&mut s, Some("a"), "a", 2_000), AfterAnswer::LogOut);
    assert_eq!(s.live(2_000), 0);
}

#[test]
fn force_logout_holds_against_remember_cookies_until_their_user_signs_in() {
    let mut s = fresh();
    set(&mut s, None, "a", 1_000);
    set(&mut s, None, "b", 1_000);
    assert_eq!(s.force_logout(2_000), 2);
    assert_eq!(s.live(2_000), 0);
    // An old session id alone: YAM no longer has it, nothing to take out.
    assert_eq!(s.admit(Some(&keys("a")), None), Admit::Pass);
    // A remember cookie would sign the browser back in.
    assert_eq!(
        s.admit(Some(&keys("a")), Some("1")),
        Admit::LogOut(Ended::ForcedOut)
    );
    assert_eq!(s.admit(None, Some("1")), Admit::LogOut(Ended::ForcedOut));

    // A request under way at the force logout: what YAM sets is cleared.
    let under_way = s.answer(
        Some(&keys("b")),
        &Answered::Set {
            keys: keys("b"),
            expires: None,
        },
        None,
        client("10.0.0.1"),
        (1_900, 2_100),
    );
    assert_eq!(under_way, AfterAnswer::LogOut);
    assert_eq!(s.live(2_100), 0);

    // User 1 signs in again (a new session, a new remember cookie): theirs count again.
    s.answer(
        None,
        &Answered::Set {
            keys: keys("a2"),
            expires: None,
        },
        Some("1"),
        client("10.0.0.1"),
        (3_000, 3_000),
    );
    assert_eq!(s.live(3_000), 1);
    assert_eq!(s.admit(Some(&keys("a2")), Some("1")), Admit::Pass);
    assert_eq!(s.admit(None, Some("1")), Admit::Pass, "user 1 is back");
    assert_eq!(s.admit(None, Some("2")), Admit::LogOut(Ended::ForcedOut));
    assert!(s.persisted().back_since_logout.contains("1"));
}

#[test]
fn a_new_anonymous_session_does_not_carry_an_old_remember_cookie_in() {
    let mut s = fresh();
    s.force_logout(2_000);
    // YAM gave the refused browser a new, anonymous session (its login page's flash).
    set(&mut s, None, "c", 3_000);
    assert_eq!(
        s.admit(Some(&keys("c")), Some("3")),
        Admit::LogOut(Ended::ForcedOut)
    );
    assert_eq!(s.admit(Some(&keys("c")), None), Admit::Pass);
}

#[test]
fn a_request_under_way_while_the_files_are_deleted_has_its_session_refused() {
    let mut s = fresh();
    set(&mut s, None, "a", 1_000);
    s.force_logout(2_000);
    s.cleared(2_050);
    // Began after the door's logout, before the files were gone: YAM may write the session
    // back, whatever its answer says.
    let after = s.answer(
        Some(&keys("a")),
        &Answered::Untouched,
        None,
        client("10.0.0.1"),
        (2_020, 2_100),
    );
    assert_eq!(after, AfterAnswer::Keep);
    assert_eq!(
        s.admit(Some(&keys("a")), None),
        Admit::LogOut(Ended::Revoked),
        "that session id is refused from now on"
    );
    assert_eq!(s.live(2_100), 0);
    // A request that began after the files were gone is not touched.
    set(&mut s, None, "b", 2_200);
    assert_eq!(s.live(2_200), 1);
}

#[test]
fn the_sessions_followed_are_bounded() {
    let mut s = fresh();
    for i in 0..MAX_FOLLOWED + 10 {
        set(&mut s, None, &format!("sid{i}"), 1_000 + i as u64);
    }
    // Full: the least recently active tenth went at once, so the next inserts cost nothing.
    assert_eq!(s.live(1_000), MAX_FOLLOWED - MAX_FOLLOWED / 10 + 10);
    assert!(
        s.find(Sid("sid0")).is_none(),
        "the least recently active went first"
    );
    assert!(s.find(Sid(&format!("sid{}", MAX_FOLLOWED + 9))).is_some());
}
