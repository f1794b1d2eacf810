//! A real Flask + Flask-Session app (from PyPI) writes session files; the watcher counts them
//! live as browsers log in and out.

mod common;

use std::time::Duration;

use common::flask::FlaskDriver;
use yam_supervisor::watcher::SessionsWatcher;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_flask_session_files_are_counted_live() {
    let dir = tempfile::tempdir().expect("tmp");
    let sessions = dir.path().join("flask_session");
    std::fs::create_dir_all(&sessions).expect("mkdir");
    let watcher = SessionsWatcher::start(vec![sessions.clone()]);
    let mut counts = watcher.counts();
    let mut driver = FlaskDriver::start(&sessions.display().to_string()).await;
    let mut expect = async |live: usize, users: usize| {
        let ok = tokio::time::timeout(
            Duration::from_secs(10),
            counts.wait_for(|c| c.live == live && c.users == users),
        )
        .await;
        assert!(
            ok.is_ok(),
            "wanted {live} live / {users} users, have {:?}",
            watcher.current()
        );
    };
    driver.send("login 1");
    expect(1, 1).await;
    driver.send("login 2");
    driver.send("login 2");
    expect(3, 2).await;
    driver.send("logout 0");
    expect(2, 1).await;
    let c = watcher.current();
    assert_eq!(c.per_user.len(), 1);
    assert_eq!(
        (c.per_user[0].user_id.as_str(), c.per_user[0].sessions),
        ("2", 2)
    );
    assert_eq!(c.per_user[0].username.as_deref(), Some("user2"));
    assert_eq!(c.damaged, 0, "cachelib's bookkeeping file must not count");
}
