//! `--store redis://…`: the HTTP contract with sessions in a real redis-server, and what
//! clients hear while Redis is down or hangs (503 + Retry-After, a plain sentence, never a panic).

mod common;

use common::*;
use yam_services::{Redis, RedisOptions};

fn redis_server(data: &std::path::Path, redis: &Redis) -> ServerProcess {
    builder(data)
        .arg("--allow-multiple-sessions")
        .arg("--store")
        .arg(redis.url())
        .spawn()
}

#[test]
fn sessions_live_in_redis_and_survive_a_redis_outage() {
    let mut redis = Redis::start_with(RedisOptions {
        aof: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let mut server = redis_server(dir.path(), &redis);
    let mut alice = admin(&server);
    let health = alice.get("/api/health");
    assert_eq!(health.json()["store"], "ok", "{}", health.body);
    assert_eq!(alice.get("/api/session/time-remaining").status, 200);
    // The session is in Redis, not in a folder.
    assert!(session_files(&server.sessions_dir()).is_empty());
    let keys = redis.command(&["KEYS", "yam:s:*"]).expect("keys");
    assert!(keys.starts_with("*1"), "one session key in Redis: {keys}");
    let info = alice.get("/api/server-info").json();
    assert!(
        info["features"]
            .as_array()
            .expect("features")
            .contains(&"redis_sessions".into()),
        "{info}"
    );

    redis.kill();
    let during = alice.get("/api/session/time-remaining");
    assert_eq!(during.status, 503, "{}", during.body);
    assert_eq!(during.header("retry-after"), Some("5"));
    assert!(
        during.json()["message"]
            .as_str()
            .expect("message")
            .contains("not answering")
    );
    let mut newcomer = Client::new(&server.url);
    let login = newcomer.post_json(
        "/login",
        &serde_json::json!({ "login_id": "admin", "password": server.admin_password() }),
    );
    assert_eq!(login.status, 503, "{}", login.body);
    let health = newcomer.get("/api/health");
    assert_eq!(health.status, 200, "the process itself is fine");
    assert_eq!(health.json()["store"], "unavailable");
    assert_eq!(health.json()["healthy"], false);
    assert!(server.is_running(), "{}", server.output());
    assert!(!server.output().contains("panicked"), "{}", server.output());

    // Back by itself, with the session it had (AOF).
    redis.restart();
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        alice.get("/api/health").json()["store"] == "ok"
    }));
    let after = alice.get("/api/session/time-remaining");
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(after.json()["username"], "admin");
    assert_eq!(
        newcomer.login("admin", &server.admin_password()).status,
        200
    );
}

/// A Redis that accepts connections and never answers (stopped, not crashed): requests hear
/// 503 within seconds instead of waiting with it, and all goes on when it answers again.
#[test]
fn a_hanging_redis_is_unavailable_within_seconds_and_recovers() {
    use std::time::{Duration, Instant};
    let redis = Redis::start();
    let dir = tempfile::tempdir().expect("tmp");
    let server = redis_server(dir.path(), &redis);
    let mut alice = admin(&server);

    let frozen = redis.freeze();
    let started = Instant::now();
    let during = alice.get("/api/session/time-remaining");
    assert_eq!(during.status, 503, "{}", during.body);
    let login = Client::new(&server.url).post_json(
        "/login",
        &serde_json::json!({ "login_id": "admin", "password": server.admin_password() }),
    );
    assert_eq!(login.status, 503, "{}", login.body);
    assert_eq!(alice.get("/api/health").json()["store"], "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "three requests took {:?}",
        started.elapsed()
    );
    drop(frozen);

    assert!(wait_until(Duration::from_secs(10), || {
        alice.get("/api/health").json()["store"] == "ok"
    }));
    assert_eq!(alice.get("/api/session/time-remaining").status, 200);
    assert!(!server.output().contains("panicked"), "{}", server.output());
}

/// The same Redis, two deployments: each server sees only the sessions under its prefix, and
/// `force-logout` with the server down clears that prefix only, leaving no marker behind.
#[test]
fn prefixes_separate_deployments_and_offline_force_logout_clears_one() {
    let redis = Redis::start();
    let (one_dir, two_dir) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let one = builder(one_dir.path())
        .arg("--store")
        .arg(redis.url())
        .spawn();
    let mut two = builder(two_dir.path())
        .arg("--store")
        .arg(redis.url())
        .arg("--store-prefix")
        .arg("other:")
        .spawn();
    let _a = admin(&one);
    let mut b = admin(&two);
    let stats = b.get("/api/admin/stats").json();
    assert_eq!(stats["live_sessions"], 1, "{stats}");
    assert!(two.stop());
    let (ok, out) = builder(two_dir.path()).run_to_end(
        &[
            "force-logout",
            "--store",
            &redis.url(),
            "--store-prefix",
            "other:",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("Deleted 1 session in the shared store"),
        "{out}"
    );
    assert!(!two_dir.path().join("force_session_reset.txt").exists());
    assert!(
        redis
            .command(&["KEYS", "other:s:*"])
            .expect("keys")
            .starts_with("*0")
    );
    assert!(
        redis
            .command(&["KEYS", "yam:s:*"])
            .expect("keys")
            .starts_with("*1")
    );
}

#[test]
fn a_wrong_store_address_is_refused_at_start_with_a_sentence() {
    let dir = tempfile::tempdir().expect("tmp");
    let (ok, out) = builder(dir.path()).run_to_end(&["--store", "mysql://db"], None);
    assert!(!ok);
    assert!(out.contains("must be `folder` or a Redis address"), "{out}");
}

/// Issue 22 item 4: someone who can write to the Redis plants a session record for `admin`
/// under an id they chose: the server refuses it (its seal does not match) and it is damaged;
/// a restarted server still serves the sessions it sealed before (the key is kept).
#[test]
fn a_session_planted_in_redis_is_refused() {
    let redis = Redis::start();
    let dir = tempfile::tempdir().expect("tmp");
    let mut server = redis_server(dir.path(), &redis);
    let mut real = admin(&server);
    assert_eq!(real.get("/api/admin/users").status, 200);

    let id = yam_sessions::SessionId::generate().expect("id");
    let now = yam_sessions::Clock::now(&yam_sessions::SystemClock);
    let record = yam_sessions::SessionPolicy::new(yam_sessions::SessionMode::Multiple).new_record(
        1,
        "admin",
        Default::default(),
        now,
        "planted",
    );
    let mut conn = redis::Client::open(redis.url())
        .expect("client")
        .get_connection()
        .expect("connection");
    redis::cmd("HSET")
        .arg(format!("yam:s:{}", id.key().to_hex()))
        .arg("rec")
        .arg(record.to_json())
        .arg("seen")
        .arg(now.as_millis())
        .arg("exp")
        .arg(record.expires_at.as_millis())
        .arg("uid")
        .arg(1)
        .query::<i64>(&mut conn)
        .expect("plant");
    let forged = Client::with_cookie(&server.url, id.as_str()).get("/api/admin/users");
    assert_eq!(
        forged.status, 401,
        "a planted record was a session: {}",
        forged.body
    );
    assert!(dir.path().join("session-seal-key").is_file());

    // The seal key outlives a restart: the real session is still served.
    assert!(server.stop());
    let server = redis_server(dir.path(), &redis);
    let mut again = Client::with_cookie(&server.url, &real.cookie.clone().expect("cookie"));
    assert_eq!(again.get("/api/admin/users").status, 200);
}
