//! A Flask-Session YAM (sessions are files in its folder; the stand-in is
//! `tests/fixtures/yam_app`, with a Flask-Login-style remember cookie) behind the door: the
//! folder stays the source of the counts, and the door follows each browser's session id. The
//! sessions table shows the address, browser and last activity only the door sees; the door's
//! count agrees with the folder's; a revoke and a force logout hold against the remember
//! cookie, which would otherwise sign the browser straight back in; a new login works.

mod common;

use common::yam_python::{Stand, python_harness};
use yam_supervisor::status::{SessionList, Status};
use yam_testkit::Browser;

/// Signs a browser in (with "remember me"): it then holds a session id and a remember cookie.
fn sign_in(base: &str, user: u32, agent: &str) -> Browser {
    let mut b = Browser::new(base, agent);
    let page = b.post_json(
        "/login",
        &serde_json::json!({
            "login_id": format!("user{user}"),
            "user_id": user,
            "password": "yam-password",
            "remember": true,
        }),
    );
    assert_eq!(page.status, 200, "{page:?}");
    for name in ["yam_session", "remember_token"] {
        assert!(b.cookie(name).is_some(), "{name} after login");
    }
    b
}

fn signed_in(b: &mut Browser) -> bool {
    b.get("/api/session/time-remaining").status == 200
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("join")
}

fn counted(live: usize, users: usize) -> impl Fn(&Status) -> bool {
    move |s| s.sessions.live == live && s.sessions.users == users
}

fn agents(list: &SessionList) -> Vec<String> {
    let mut agents: Vec<String> = list
        .sessions
        .iter()
        .filter_map(|r| r.user_agent.clone())
        .collect();
    agents.sort();
    agents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_door_follows_a_flask_session_yam_and_agrees_with_its_folder() {
    let h = python_harness(Stand::FlaskSession, |_| {}).await;
    h.running().await;
    let base = h.url();

    // Two browsers of two users: the folder counts them, the door sees where they are.
    let b = base.clone();
    let (mut firefox, mut chrome) =
        blocking(move || (sign_in(&b, 1, "Firefox A"), sign_in(&b, 2, "Chrome B"))).await;
    h.wait("2 sessions in the folder", counted(2, 2)).await;
    let list = h.supervisor.sessions().await.expect("list");
    assert_eq!((list.source.as_str(), list.total), ("folder", 2));
    assert_eq!(list.door_seen, Some(2), "the door's count agrees");
    assert_eq!(agents(&list), vec!["Chrome B", "Firefox A"]);
    for row in &list.sessions {
        assert_eq!(row.ip.as_deref(), Some("127.0.0.1"), "{row:?}");
        assert!(
            row.last_activity.is_some() && row.created_at.is_some(),
            "{row:?}"
        );
    }
    assert!(
        list.note
            .as_deref()
            .is_some_and(|n| n.contains("The door follows 2")),
        "{:?}",
        list.note
    );

    // Flask-Session refreshes the cookie at every answer: still two.
    (firefox, chrome) = blocking(move || {
        for _ in 0..3 {
            assert!(signed_in(&mut firefox) && signed_in(&mut chrome));
        }
        (firefox, chrome)
    })
    .await;
    let list = h.supervisor.sessions().await.expect("list");
    assert_eq!((list.total, list.door_seen), (2, Some(2)));

    // Revoke Chrome: its file goes, and its remember cookie does not sign it back in.
    let key = list
        .sessions
        .iter()
        .find(|r| r.user_agent.as_deref() == Some("Chrome B"))
        .expect("Chrome's row")
        .key
        .clone();
    h.supervisor.revoke(&key).await.expect("revoke");
    h.wait("1 session after the revoke", counted(1, 1)).await;
    let b = base.clone();
    (firefox, chrome) = blocking(move || {
        // Whoever copied Chrome's cookies keeps only the remember cookie: still refused.
        let mut thief = Browser::new(&b, "curl");
        thief.set_cookie(
            "remember_token",
            chrome
                .cookie("remember_token")
                .expect("Chrome's remember cookie"),
        );
        assert!(
            !signed_in(&mut thief),
            "a revoked user's remember cookie is refused"
        );
        assert!(!signed_in(&mut chrome), "the revoked browser is logged out");
        assert!(
            chrome.cookie("remember_token").is_none(),
            "its remember cookie was cleared"
        );
        assert!(!signed_in(&mut chrome), "and stays logged out");
        assert!(signed_in(&mut firefox), "the other browser is not touched");
        (firefox, chrome)
    })
    .await;
    let list = h.supervisor.sessions().await.expect("list");
    assert_eq!((list.total, list.door_seen), (1, Some(1)));
    assert_eq!(agents(&list), vec!["Firefox A"]);

    // Force logout: the files go, and the remember cookie is refused.
    let said = h.supervisor.force_logout().await.expect("force logout");
    assert!(said.contains("Remember-me cookies are refused"), "{said}");
    h.wait("no session after the force logout", counted(0, 0))
        .await;
    blocking(move || {
        assert!(!signed_in(&mut firefox), "logged out");
        assert!(firefox.cookie("remember_token").is_none());
        assert!(!signed_in(&mut firefox), "and stays logged out");
    })
    .await;
    let list = h.supervisor.sessions().await.expect("list");
    assert_eq!((list.total, list.door_seen), (0, Some(0)));

    // A new login works, and its own remember cookie signs the browser back in.
    let b = base.clone();
    let mut again = blocking(move || sign_in(&b, 1, "Firefox A")).await;
    h.wait("1 session after a new login", counted(1, 1)).await;
    again = blocking(move || {
        again.forget("yam_session");
        assert!(signed_in(&mut again), "the new remember cookie is honoured");
        again
    })
    .await;
    drop(again);
    drop(chrome);
    // The session the browser forgot is still a file (until it expires), beside the new one.
    h.wait("2 sessions of user 1", counted(2, 1)).await;
    let list = h.supervisor.sessions().await.expect("list");
    assert_eq!((list.total, list.door_seen), (2, Some(2)), "{list:?}");
    h.stop().await;
}
