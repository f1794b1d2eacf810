//! A poisoned Flask-Session file or Redis value is a damaged session, never the end of the
//! supervisor: a 240 KB memo bomb (70,000 references to one 100 KB string: `yamctl up` grew
//! to 2.8 GB and aborted) and 120,000 nested lists (the counting thread's stack overflowed),
//! in the YAM folder before the supervisor starts, and under `session:<sid>` in Redis with a
//! value of 1 MB beside them.

mod common;

use std::path::Path;
use std::time::Duration;

use common::yam_python::python_settings;
use common::*;
use yam_services::Redis;
use yam_supervisor::counting::{Counting, Source};
use yam_supervisor::redis_watcher::{RedisLayout, RedisSource};

/// A pickle: PROTO 4, `body`, STOP.
fn pickle(body: &[u8]) -> Vec<u8> {
    [b"\x80\x04".as_slice(), body, b"."].concat()
}

/// `{"_user_id": [s, s, …]}` with one 100 KB string referenced 70,000 times.
fn memo_bomb() -> Vec<u8> {
    let mut body = vec![b'X'];
    body.extend(100_000u32.to_le_bytes());
    body.extend(std::iter::repeat_n(b'a', 100_000));
    body.extend(b"\x94\x30}\x8c\x08_user_id](");
    body.extend(b"h\x00".repeat(70_000));
    body.extend(b"es");
    pickle(&body)
}

fn nested_lists() -> Vec<u8> {
    pickle(&[vec![b'('; 120_000], vec![b'l'; 120_000]].concat())
}

/// A cachelib file: 4-byte little-endian expiry (an hour from now), then the pickle.
fn cachelib(dir: &Path, name: &str, pickle: &[u8]) {
    let expiry = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        + 3600) as u32;
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(
        dir.join(name),
        [expiry.to_le_bytes().as_slice(), pickle].concat(),
    )
    .expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoned_session_files_are_damaged_and_the_supervisor_lives() {
    let dir = tempfile::tempdir().expect("tmp");
    let yam = dir.path().join("YAM");
    copy_dir(&yam_testkit::fixture("yam_app"), &yam).expect("stand-in");
    let sessions = yam.join("flask_session");
    cachelib(&sessions, &"a".repeat(32), &memo_bomb());
    cachelib(&sessions, &"b".repeat(32), &nested_lists());
    let settings = python_settings(&yam).await;
    let h = harness_with(&settings, Default::default(), free_port(), dir);
    let status = h
        .wait("two damaged sessions counted", |s| s.sessions.damaged == 2)
        .await;
    assert_eq!(
        status.sessions.live, 0,
        "damaged files are no live sessions"
    );
    h.running().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoned_redis_values_are_damaged_and_counting_goes_on() {
    let redis = Redis::start();
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client.get_connection().expect("connect");
    for (key, value) in [
        ("session:bomb", memo_bomb()),
        ("session:deep", nested_lists()),
        ("session:huge", vec![b'x'; 1024 * 1024]),
    ] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query(&mut conn)
            .expect("set");
    }
    let source = RedisSource {
        url: redis.url(),
        prefix: "session:".into(),
        layout: RedisLayout::Flask,
    };
    let counting = Counting::start(Source::Redis(&source));
    let mut counts = counting.counts();
    let damaged =
        tokio::time::timeout(Duration::from_secs(15), counts.wait_for(|c| c.damaged == 3))
            .await
            .is_ok();
    assert!(damaged, "the three poisoned values are counted as damaged");
    // And the counting goes on: a real session is seen next to them.
    let _: () = redis::cmd("SET")
        .arg("session:real")
        .arg(r#"{"_user_id": "7", "username": "bob"}"#)
        .query(&mut conn)
        .expect("set");
    let live = tokio::time::timeout(
        Duration::from_secs(15),
        counts.wait_for(|c| c.authenticated == 1),
    )
    .await
    .is_ok();
    assert!(live, "counting went on");
}
