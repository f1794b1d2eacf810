//! One behaviour suite, run against every `SessionStore` backend.

use std::sync::Arc;
use std::time::Duration;

use yam_services::Redis;
use yam_sessions::{
    ClientInfo, FileStore, Loaded, MemoryStore, RedisStore, Renewal, Saved, SessionMode,
    SessionPolicy, SessionRecord, SessionStore, Timestamp,
};

const NOW: Timestamp = Timestamp(1_800_000_000_000);

fn record(user_id: i64, name: &str) -> SessionRecord {
    SessionPolicy::new(SessionMode::Multiple).new_record(
        user_id,
        name,
        ClientInfo::default(),
        NOW,
        "e1",
    )
}

fn found(store: &dyn SessionStore, key: &yam_sessions::SessionKey) -> Arc<SessionRecord> {
    match store.load(key).expect("load") {
        Loaded::Found(r) => r,
        other => panic!("expected a session, got {other:?}"),
    }
}

pub fn create_load_delete(store: &dyn SessionStore) {
    let id = store.create(record(1, "alice")).expect("create");
    let key = id.key();
    assert_eq!(found(store, &key).username, "alice");
    assert!(store.delete(&key).expect("delete"));
    assert_eq!(store.load(&key).expect("load"), Loaded::Missing);
    assert!(!store.delete(&key).expect("delete twice"));
}

pub fn ids_are_unique(store: &dyn SessionStore) {
    let mut keys = std::collections::HashSet::new();
    for _ in 0..200 {
        assert!(keys.insert(store.create(record(1, "alice")).expect("create").key()));
    }
    assert_eq!(store.counts(NOW, Duration::ZERO).expect("counts").live, 200);
}

pub fn no_resurrection(store: &dyn SessionStore) {
    let key = store.create(record(1, "alice")).expect("create").key();
    store.delete(&key).expect("delete");
    let renewal = Renewal {
        last_seen: NOW.plus(Duration::from_secs(5)),
        expires_at: NOW.plus(Duration::from_secs(9999)),
    };
    assert_eq!(store.touch(&key, renewal).expect("touch"), Saved::Gone);
    assert_eq!(
        store.replace(&key, record(1, "alice")).expect("replace"),
        Saved::Gone
    );
    store.flush_renewals(Timestamp(i64::MAX)).expect("flush");
    assert_eq!(store.load(&key).expect("load"), Loaded::Missing);
    assert_eq!(store.counts(NOW, Duration::ZERO).expect("counts").live, 0);
}

pub fn touch_then_flush(store: &dyn SessionStore) {
    let key = store.create(record(1, "alice")).expect("create").key();
    let later = NOW.plus(Duration::from_secs(90));
    let renewal = Renewal {
        last_seen: later,
        expires_at: later.plus(Duration::from_secs(3600)),
    };
    assert_eq!(store.touch(&key, renewal).expect("touch"), Saved::Written);
    assert_eq!(found(store, &key).last_seen, later);
    // Written at NOW; a flush of sessions written before NOW-1ms does nothing.
    assert_eq!(
        store
            .flush_renewals(NOW.minus(Duration::from_millis(1)))
            .expect("f"),
        0
    );
    assert_eq!(store.flush_renewals(NOW).expect("flush"), 1);
    assert_eq!(store.flush_renewals(NOW).expect("flush"), 0);
    // An older renewal arriving late never moves time backwards.
    let stale = Renewal {
        last_seen: NOW.plus(Duration::from_secs(1)),
        expires_at: NOW.plus(Duration::from_secs(2)),
    };
    store.touch(&key, stale).expect("touch");
    assert_eq!(found(store, &key).expires_at, renewal.expires_at);
}

pub fn lists_and_counts_by_user(store: &dyn SessionStore) {
    let a1 = store.create(record(1, "alice")).expect("c").key();
    let a2 = store.create(record(1, "alice")).expect("c").key();
    let b1 = store.create(record(2, "bob")).expect("c").key();
    let mut expired = record(3, "carol");
    expired.expires_at = NOW.minus(Duration::from_secs(1));
    let c1 = store.create(expired).expect("c").key();

    assert_eq!(store.list().expect("list").len(), 4);
    let mut alice: Vec<_> = store
        .list_by_user(1)
        .expect("list")
        .into_iter()
        .map(|s| s.key)
        .collect();
    alice.sort();
    let mut want = vec![a1, a2];
    want.sort();
    assert_eq!(alice, want);

    let counts = store
        .counts(NOW, Duration::from_secs(5 * 3600))
        .expect("counts");
    assert_eq!((counts.live, counts.users, counts.expiring_soon), (3, 2, 3));
    assert_eq!(counts.per_user.get(&1), Some(&2));
    assert_eq!(counts.per_user.get(&3), None);
    assert_eq!(
        store
            .counts(NOW, Duration::from_secs(60))
            .expect("counts")
            .expiring_soon,
        0
    );

    assert_eq!(store.purge_expired(NOW).expect("purge"), vec![c1]);
    assert_eq!(
        store.delete_by_user(1, Some(&a2)).expect("by user"),
        vec![a1]
    );
    assert_eq!(store.list_by_user(1).expect("list").len(), 1);
    assert!(
        store
            .list_by_user(99)
            .expect("a user without sessions")
            .is_empty()
    );
    assert_eq!(store.delete_all().expect("all"), 2);
    assert_eq!(store.load(&b1).expect("load"), Loaded::Missing);
    assert_eq!(
        store.counts(NOW, Duration::ZERO).expect("counts"),
        Default::default()
    );
}

pub fn replace_overwrites(store: &dyn SessionStore) {
    let key = store.create(record(1, "alice")).expect("create").key();
    let mut changed = record(1, "alice-renamed");
    changed.data.insert("theme".into(), "dark".into());
    assert_eq!(
        store.replace(&key, changed.clone()).expect("replace"),
        Saved::Written
    );
    assert_eq!(*found(store, &key), changed);
    store.quarantine(&key).expect("quarantine");
    assert_eq!(store.load(&key).expect("load"), Loaded::Missing);
}

/// Many threads renewing, replacing and reading one session while it is deleted: no panic,
/// no torn record, and once deleted it stays deleted.
pub fn concurrent_writers_and_a_delete(store: Arc<dyn SessionStore>) {
    let key = store.create(record(1, "alice")).expect("create").key();
    std::thread::scope(|scope| {
        for t in 0..8i64 {
            let store = Arc::clone(&store);
            scope.spawn(move || {
                for i in 0..50i64 {
                    let at = NOW.plus(Duration::from_millis((t * 1000 + i) as u64));
                    let _ = store.touch(
                        &key,
                        Renewal {
                            last_seen: at,
                            expires_at: at.plus(Duration::from_secs(60)),
                        },
                    );
                    if i % 10 == 0 {
                        let _ = store.replace(&key, record(1, "alice"));
                        let _ = store.flush_renewals(Timestamp(i64::MAX));
                    }
                    match store.load(&key).expect("load") {
                        Loaded::Found(r) => assert_eq!(r.username, "alice"),
                        Loaded::Missing => {}
                        Loaded::Damaged(d) => panic!("torn write seen: {d}"),
                    }
                }
            });
        }
        let store = Arc::clone(&store);
        scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            store.delete(&key).expect("delete");
        });
    });
    store.flush_renewals(Timestamp(i64::MAX)).expect("flush");
    assert_eq!(store.load(&key).expect("load"), Loaded::Missing);
}

/// A cached answer, when a store gives one, is the answer `load` gives.
pub fn cached_loads_agree_with_load(store: &dyn SessionStore) {
    let key = store.create(record(1, "alice")).expect("create").key();
    let renewal = Renewal {
        last_seen: NOW.plus(Duration::from_secs(5)),
        expires_at: NOW.plus(Duration::from_secs(9999)),
    };
    store.touch(&key, renewal).expect("touch");
    for _ in 0..2 {
        if let Some(cached) = store.load_cached(&key) {
            assert_eq!(cached, store.load(&key).expect("load"));
        }
        store.flush_renewals(Timestamp(i64::MAX)).expect("flush");
    }
    store.delete(&key).expect("delete");
    if let Some(cached) = store.load_cached(&key) {
        assert_eq!(cached, Loaded::Missing);
    }
}

macro_rules! contract_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn create_load_delete() {
                let (store, _guard) = $make;
                super::create_load_delete(&*store);
            }
            #[test]
            fn ids_are_unique() {
                let (store, _guard) = $make;
                super::ids_are_unique(&*store);
            }
            #[test]
            fn no_resurrection() {
                let (store, _guard) = $make;
                super::no_resurrection(&*store);
            }
            #[test]
            fn touch_then_flush() {
                let (store, _guard) = $make;
                super::touch_then_flush(&*store);
            }
            #[test]
            fn lists_and_counts_by_user() {
                let (store, _guard) = $make;
                super::lists_and_counts_by_user(&*store);
            }
            #[test]
            fn replace_overwrites() {
                let (store, _guard) = $make;
                super::replace_overwrites(&*store);
            }
            #[test]
            fn cached_loads_agree_with_load() {
                let (store, _guard) = $make;
                super::cached_loads_agree_with_load(&*store);
            }
            #[test]
            fn concurrent_writers_and_a_delete() {
                let (store, _guard) = $make;
                super::concurrent_writers_and_a_delete(store);
            }
        }
    };
}

fn memory() -> (Arc<dyn SessionStore>, ()) {
    (Arc::new(MemoryStore::new()), ())
}

fn file() -> (Arc<dyn SessionStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = FileStore::open(dir.path()).expect("open");
    (Arc::new(store), dir)
}

/// A real redis-server per test; the store under a prefix of its own, as a deployment has.
fn redis() -> (Arc<dyn SessionStore>, Redis) {
    let server = Redis::start();
    let store = RedisStore::open(
        &server.url(),
        "contract:",
        yam_sessions::RecordSeal::from_secret(b"contract tests' shared secret"),
    )
    .expect("open");
    (Arc::new(store), server)
}

contract_suite!(memory_store, memory());
contract_suite!(file_store, file());
contract_suite!(redis_store, redis());
