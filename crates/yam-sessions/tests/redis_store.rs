//! What the Redis store must do beyond the shared contract: several servers on one Redis,
//! expiry kept by Redis itself, key prefixes, and Redis going away and coming back.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use yam_services::{Redis, RedisOptions};
use yam_sessions::{
    ClientInfo, Clock, DamageKind, Loaded, RecordSeal, RedisStore, Renewal, Saved, SessionKey,
    SessionMode, SessionPolicy, SessionRecord, SessionStore, SystemClock, Timestamp,
};

fn record(user_id: i64, name: &str) -> SessionRecord {
    SessionPolicy::new(SessionMode::Multiple).new_record(
        user_id,
        name,
        ClientInfo::default(),
        SystemClock.now(),
        "e1",
    )
}

const SECRET: &[u8] = b"the deployment's shared secret for tests";

fn store(redis: &Redis, prefix: &str) -> RedisStore {
    RedisStore::open(&redis.url(), prefix, RecordSeal::from_secret(SECRET)).expect("open")
}

/// Two servers share one Redis: one renews a session while the other deletes it. Deletion
/// always wins: 0 of 200 sessions come back.
#[test]
fn a_deletion_beats_a_concurrent_renewal_on_another_server() {
    let redis = Redis::start();
    let renewer = Arc::new(store(&redis, "yam:"));
    let deleter = Arc::new(store(&redis, "yam:"));
    let mut resurrected = 0;
    for _ in 0..200 {
        let key = renewer.create(record(1, "alice")).expect("create").key();
        assert!(matches!(
            renewer.load(&key).expect("load"),
            Loaded::Found(_)
        ));
        let start = Arc::new(Barrier::new(2));
        std::thread::scope(|scope| {
            let (r, b) = (Arc::clone(&renewer), Arc::clone(&start));
            scope.spawn(move || {
                b.wait();
                for i in 1..=20u64 {
                    let at = SystemClock.now().plus(Duration::from_millis(i));
                    let renewal = Renewal {
                        last_seen: at,
                        expires_at: at.plus(Duration::from_secs(3600)),
                    };
                    let _ = r.touch(&key, renewal);
                    let _ = r.flush_renewals(Timestamp(i64::MAX));
                    let _ = r.replace(&key, record(1, "alice"));
                }
            });
            let (d, b) = (Arc::clone(&deleter), Arc::clone(&start));
            scope.spawn(move || {
                b.wait();
                d.delete(&key).expect("delete");
            });
        });
        renewer.flush_renewals(Timestamp(i64::MAX)).expect("flush");
        if renewer.load(&key).expect("load") != Loaded::Missing {
            resurrected += 1;
        }
    }
    assert_eq!(
        resurrected, 0,
        "{resurrected} of 200 deleted sessions came back"
    );
    assert_eq!(
        deleter
            .counts(SystemClock.now(), Duration::ZERO)
            .expect("counts")
            .live,
        0
    );
}

/// Single session mode on two servers: two logins of one user at once, one on each, leave
/// exactly one session (200 rounds). Each server serialises its own logins; only the store's
/// atomic create-and-displace can order logins on different servers.
#[test]
fn logins_on_two_servers_at_once_leave_exactly_one_session() {
    let redis = Redis::start();
    let servers = [
        Arc::new(store(&redis, "yam:")),
        Arc::new(store(&redis, "yam:")),
    ];
    let mut wrong = Vec::new();
    for round in 0..200 {
        let start = Arc::new(Barrier::new(2));
        std::thread::scope(|scope| {
            for server in &servers {
                let (s, b) = (Arc::clone(server), Arc::clone(&start));
                scope.spawn(move || {
                    b.wait();
                    s.create_displacing(record(7, "dora")).expect("login");
                });
            }
        });
        let left = servers[0].list_by_user(7).expect("list").len();
        if left != 1 {
            wrong.push((round, left));
        }
    }
    assert!(
        wrong.is_empty(),
        "rounds that did not leave one session: {wrong:?}"
    );
}

/// Redis drops a session at its own expiry (no sweeper), and a renewal moves that expiry.
#[test]
fn redis_expires_each_session_at_its_expiry() {
    let redis = Redis::start();
    let store = store(&redis, "yam:");
    let rec = record(1, "alice");
    let key = store.create(rec.clone()).expect("create").key();
    let name = format!("yam:s:{}", key.to_hex());
    let expiry = |redis: &Redis| -> i64 {
        let reply = redis.command(&["PEXPIRETIME", &name]).expect("pexpiretime");
        reply
            .trim_start_matches(':')
            .trim()
            .parse()
            .expect("integer reply")
    };
    assert_eq!(expiry(&redis), rec.expires_at.as_millis());

    let later = rec.last_seen.plus(Duration::from_secs(120));
    let renewal = Renewal {
        last_seen: later,
        expires_at: later.plus(Duration::from_secs(4 * 3600)),
    };
    assert_eq!(store.touch(&key, renewal).expect("touch"), Saved::Written);
    assert_eq!(
        expiry(&redis),
        rec.expires_at.as_millis(),
        "written only at the flush"
    );
    assert_eq!(store.flush_renewals(Timestamp(i64::MAX)).expect("flush"), 1);
    assert_eq!(expiry(&redis), renewal.expires_at.as_millis());

    // A session whose expiry has passed is gone from Redis without any sweep.
    let mut short = record(2, "bob");
    short.expires_at = SystemClock.now().plus(Duration::from_millis(300));
    let gone = store.create(short).expect("create").key();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(store.load(&gone).expect("load"), Loaded::Missing);
}

/// A renewal on one server is seen by the other once written; a logout on one is seen by the
/// other at once.
#[test]
fn two_servers_see_each_others_changes() {
    let redis = Redis::start();
    let (a, b) = (store(&redis, "yam:"), store(&redis, "yam:"));
    let rec = record(1, "alice");
    let key = a.create(rec.clone()).expect("create").key();
    let Loaded::Found(seen_by_b) = b.load(&key).expect("load") else {
        panic!("server b does not see the session")
    };
    assert_eq!(seen_by_b.username, "alice");
    let later = rec.last_seen.plus(Duration::from_secs(90));
    let renewal = Renewal {
        last_seen: later,
        expires_at: later.plus(Duration::from_secs(3600)),
    };
    a.touch(&key, renewal).expect("touch");
    a.flush_renewals(rec.last_seen).expect("flush");
    let Loaded::Found(seen_by_b) = b.load(&key).expect("load") else {
        panic!("gone")
    };
    assert_eq!(seen_by_b.expires_at, renewal.expires_at);
    assert!(b.delete(&key).expect("delete"));
    assert_eq!(a.load(&key).expect("load"), Loaded::Missing);
    assert_eq!(a.touch(&key, renewal).expect("touch"), Saved::Gone);
}

/// Two deployments on one Redis, each under its own prefix, never see each other.
#[test]
fn prefixes_keep_deployments_apart() {
    let redis = Redis::start();
    let (one, two) = (store(&redis, "yam:"), store(&redis, "other-yam:"));
    let k1 = one.create(record(1, "alice")).expect("create").key();
    two.create(record(1, "alice")).expect("create");
    two.create(record(2, "bob")).expect("create");
    let now = SystemClock.now();
    assert_eq!(one.counts(now, Duration::ZERO).expect("counts").live, 1);
    assert_eq!(two.counts(now, Duration::ZERO).expect("counts").live, 2);
    assert_eq!(two.load(&k1).expect("load"), Loaded::Missing);
    assert_eq!(two.delete_all().expect("all"), 2);
    assert!(matches!(one.load(&k1).expect("load"), Loaded::Found(_)));
    assert!(
        RedisStore::open(&redis.url(), "", RecordSeal::Unchecked).is_err(),
        "an empty prefix is refused"
    );
}

/// Redis down: every call fails fast with `Unavailable` (no panic, no hang); back up, the
/// same store works again by itself. With AOF, the restart lost no session.
#[test]
fn redis_down_is_unavailable_and_back_is_recovered() {
    let mut redis = Redis::start_with(RedisOptions {
        aof: true,
        ..Default::default()
    });
    let store = store(&redis, "yam:");
    let keys: Vec<SessionKey> = (0..20)
        .map(|i| store.create(record(i % 3, "u")).expect("create").key())
        .collect();
    redis.kill();
    let started = Instant::now();
    let errors = [
        store.load(&keys[0]).expect_err("load while down"),
        store
            .create(record(1, "alice"))
            .expect_err("create while down"),
        store
            .counts(SystemClock.now(), Duration::ZERO)
            .expect_err("counts while down"),
        store.check().expect_err("check while down"),
    ];
    assert!(errors.iter().all(|e| e.is_unavailable()), "{errors:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "failing took {:?}",
        started.elapsed()
    );
    assert!(
        errors[0].to_string().contains("is not answering"),
        "{}",
        errors[0]
    );

    redis.restart();
    store.check().expect("back");
    for key in &keys {
        assert!(
            matches!(store.load(key).expect("load"), Loaded::Found(_)),
            "lost {key:?}"
        );
    }
    assert_eq!(
        store
            .counts(SystemClock.now(), Duration::ZERO)
            .expect("counts")
            .live,
        20
    );
}

/// A value under a session's name that is not ours is damaged, never a panic, and is moved
/// aside for inspection.
#[test]
fn a_foreign_value_is_damaged_and_quarantined() {
    let redis = Redis::start();
    let store = store(&redis, "yam:");
    let key = store.create(record(1, "alice")).expect("create").key();
    let name = format!("yam:s:{}", key.to_hex());
    redis.command(&["DEL", &name]).expect("del");
    redis.command(&["SET", &name, "garbage"]).expect("set");
    assert!(matches!(
        store.load(&key).expect("load"),
        Loaded::Damaged(_)
    ));
    store.quarantine(&key).expect("quarantine");
    assert_eq!(store.load(&key).expect("load"), Loaded::Missing);
    let kept = redis
        .command(&["GET", &format!("yam:q:{}", key.to_hex())])
        .expect("get");
    assert!(kept.contains("garbage"), "{kept}");

    let other = store.create(record(2, "bob")).expect("create").key();
    redis
        .command(&[
            "HSET",
            &format!("yam:s:{}", other.to_hex()),
            "rec",
            "{broken",
        ])
        .expect("hset");
    assert!(matches!(
        store.load(&other).expect("load"),
        Loaded::Damaged(_)
    ));
}

/// The change mark moves with every change and stays put for reads, so a watcher polling it
/// re-reads the index only when something happened.
#[test]
fn the_change_mark_moves_with_changes_only() {
    let redis = Redis::start();
    let store = store(&redis, "yam:");
    let start = store.change_mark().expect("mark");
    let key = store.create(record(1, "alice")).expect("create").key();
    let after_create = store.change_mark().expect("mark");
    assert!(after_create > start);
    store.load(&key).expect("load");
    store
        .counts(SystemClock.now(), Duration::ZERO)
        .expect("counts");
    assert_eq!(
        store.change_mark().expect("mark"),
        after_create,
        "reads change nothing"
    );
    let index = store.live_index(SystemClock.now()).expect("index");
    assert_eq!((index.len(), index[0].user_id, index[0].key), (1, 1, key));
    store.delete(&key).expect("delete");
    assert!(store.change_mark().expect("mark") > after_create);
}

/// Issue 22 item 4: a Redis writer cannot forge a session. A record planted or altered
/// without the servers' key is damaged (and nothing is salvaged from it); one sealed with
/// another deployment's key is refused and left alone; a copy under another session's name
/// does not verify.
#[test]
fn planted_or_altered_records_are_refused() {
    let redis = Redis::start();
    let store = store(&redis, "yam:");
    let real = store.create(record(1, "alice")).expect("create").key();
    let name = |key: &SessionKey| format!("yam:s:{}", key.to_hex());
    let planted = SessionKey::parse_hex(&"7".repeat(64)).expect("key");
    let json = String::from_utf8(record(1, "admin").to_json()).expect("utf8");
    let exp = SystemClock
        .now()
        .plus(Duration::from_secs(3600))
        .as_millis()
        .to_string();
    let seen = SystemClock.now().as_millis().to_string();
    let mut conn = redis::Client::open(redis.url())
        .expect("client")
        .get_connection()
        .expect("connection");
    let mut plant = |key: &SessionKey, mac: Option<&str>| {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(name(key))
            .arg("rec")
            .arg(&json)
            .arg("seen")
            .arg(&seen)
            .arg("exp")
            .arg(&exp)
            .arg("uid")
            .arg(1);
        if let Some(mac) = mac {
            cmd.arg("mac").arg(mac);
        }
        cmd.query::<i64>(&mut conn).expect("hset");
    };
    let damaged_by_seal = |loaded: Loaded| match loaded {
        Loaded::Damaged(d) => d.kind == DamageKind::BadSeal && d.salvage.is_none(),
        _ => false,
    };
    // No seal, a made-up seal, and a real seal of another record.
    plant(&planted, None);
    assert!(damaged_by_seal(store.load(&planted).expect("load")));
    let ours = RecordSeal::from_secret(SECRET);
    let forged = format!("v1:{}:{}", ours.key_id().expect("id"), "ab".repeat(32));
    plant(&planted, Some(&forged));
    assert!(damaged_by_seal(store.load(&planted).expect("load")));
    let mut read = redis::Client::open(redis.url())
        .expect("client")
        .get_connection()
        .expect("connection");
    let real_mac: String = redis::cmd("HGET")
        .arg(name(&real))
        .arg("mac")
        .query(&mut read)
        .expect("hget");
    plant(&planted, Some(&real_mac));
    assert!(damaged_by_seal(store.load(&planted).expect("load")));
    // Altered in place: the user changed, the seal kept.
    redis::cmd("HSET")
        .arg(name(&real))
        .arg("rec")
        .arg(&json)
        .query::<i64>(&mut read)
        .expect("alter");
    let altered = store.load(&real).expect("load");
    assert!(damaged_by_seal(altered.clone()), "{altered:?}");
    // Another deployment's key: refused, not touched.
    let other = RedisStore::open(
        &redis.url(),
        "yam:",
        RecordSeal::from_secret(b"another deployment's secret, long enough"),
    )
    .expect("open");
    let theirs = other.create(record(2, "bob")).expect("create").key();
    assert_eq!(store.load(&theirs).expect("load"), Loaded::Missing);
    assert!(matches!(
        other.load(&theirs).expect("load"),
        Loaded::Found(_)
    ));
}

/// Issue 22 item 4: a prefix is matched literally: clearing `yam?` leaves `yamX`'s sessions.
#[test]
fn a_prefix_with_glob_characters_matches_only_itself() {
    let redis = Redis::start();
    let (odd, neighbour) = (store(&redis, "yam?"), store(&redis, "yamX"));
    let kept = neighbour.create(record(1, "alice")).expect("create").key();
    // A stray value under the neighbour's session name (not indexed): SCAN is what finds it.
    redis
        .command(&["SET", &format!("yamXs:{}", "5".repeat(64)), "stray"])
        .expect("set");
    odd.create(record(2, "bob")).expect("create");
    assert_eq!(odd.delete_all().expect("all"), 1);
    assert!(matches!(
        neighbour.load(&kept).expect("load"),
        Loaded::Found(_)
    ));
    assert_eq!(
        redis
            .command(&["EXISTS", &format!("yamXs:{}", "5".repeat(64))])
            .expect("exists")
            .trim(),
        ":1"
    );
}
