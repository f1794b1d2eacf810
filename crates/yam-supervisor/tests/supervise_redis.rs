//! Sessions in Redis: the supervisor counts them there (not in a folder), lists, revokes and
//! force-logs-out there when the server is stopped; and it counts a Flask app's sessions kept
//! by Flask-Session's Redis backend. A real redis-server, a real yam-server, a real Flask.

mod common;

use std::time::{Duration, Instant};

use common::flask::FlaskDriver;
use common::*;
use yam_services::Redis;
use yam_supervisor::counting::{Counting, Source};
use yam_supervisor::redis_watcher::{RedisLayout, RedisSource};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_server_with_redis_is_counted_and_managed_in_redis() {
    let redis = Redis::start();
    let h = harness(&format!("session_store = \"{}\"\n", redis.url()));
    h.running().await;
    let mut latencies = Vec::new();
    let mut cookies = Vec::new();
    for n in 1..=3 {
        cookies.push(h.login().await);
        let t = Instant::now();
        h.wait(&format!("{n} sessions"), |s| s.sessions.live == n)
            .await;
        latencies.push(t.elapsed());
    }
    println!("count update latency from Redis after a login: {latencies:?}");
    assert!(
        !h.data_dir()
            .join("sessions")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "nothing is written to a sessions folder"
    );
    let keys = redis.command(&["KEYS", "yam:s:*"]).expect("keys");
    assert!(keys.starts_with("*3"), "{keys}");
    let status = h.supervisor.status();
    assert_eq!(status.sessions.per_user.len(), 1);
    assert_eq!(
        status.sessions.per_user[0].username.as_deref(),
        Some("admin")
    );

    // With the server stopped, the table, revoke and force logout work on Redis directly.
    h.supervisor.stop().await.expect("stop");
    h.wait("stopped", |s| s.phase_label == "Stopped").await;
    let list = h.supervisor.sessions().await.expect("sessions");
    assert_eq!((list.source.as_str(), list.total), ("redis", 3), "{list:?}");
    let key = list.sessions[0].key.clone();
    h.supervisor.revoke(&key).await.expect("revoke");
    h.wait("2 sessions", |s| s.sessions.live == 2).await;
    let message = h.supervisor.force_logout().await.expect("force logout");
    assert!(message.contains("deleted 2 sessions in Redis"), "{message}");
    h.wait("0 sessions", |s| s.sessions.live == 0).await;
    assert!(
        redis
            .command(&["KEYS", "yam:s:*"])
            .expect("keys")
            .starts_with("*0")
    );
    assert!(
        !h.data_dir().join("force_session_reset.txt").exists(),
        "no marker: the store may be shared with other servers"
    );
    drop(h.stop().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flask_session_redis_sessions_are_counted_live() {
    let redis = Redis::start();
    let source = RedisSource {
        url: redis.url(),
        prefix: "session:".into(),
        layout: RedisLayout::Flask,
    };
    let counting = Counting::start(Source::Redis(&source));
    let mut counts = counting.counts();
    let mut driver = FlaskDriver::start(&redis.url()).await;
    let mut expect = async |live: usize, users: usize| {
        let ok = tokio::time::timeout(
            Duration::from_secs(10),
            counts.wait_for(|c| c.live == live && c.users == users),
        )
        .await;
        assert!(ok.is_ok(), "wanted {live} live / {users} users");
    };
    driver.send("login 1");
    expect(1, 1).await;
    driver.send("login 2");
    driver.send("login 2");
    expect(3, 2).await;
    let keys = redis.command(&["KEYS", "session:*"]).expect("keys");
    assert!(
        keys.starts_with("*3"),
        "Flask-Session wrote its keys: {keys}"
    );
    driver.send("logout 0");
    expect(2, 1).await;
    let c = counts.borrow().clone();
    assert_eq!(
        (
            c.per_user[0].user_id.as_str(),
            c.per_user[0].username.as_deref(),
            c.per_user[0].sessions
        ),
        ("2", Some("user2"), 2)
    );
    assert_eq!(c.logins_seen, 3);
}
