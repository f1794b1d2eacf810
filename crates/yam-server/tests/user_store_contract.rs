//! One behaviour suite for every users backend: SQLite (the default) and a real PostgreSQL.

use yam_server::users::{UserChange, UserError, Users};
use yam_services::Postgres;
use yam_sessions::UserDirectory as _;

/// Opens a new connection to one database: a second `Users` on it is another server or the
/// CLI acting at the same time.
type Open<'a> = &'a dyn Fn() -> Users;
/// One behaviour of the suite, by name.
type Case = (&'static str, fn(Open<'_>));

fn add_find_rename_remove(open: Open<'_>) {
    let store = open();
    assert_eq!(store.count().expect("count"), 0);
    let id = store
        .add("Alice", Some("alice@example.org"), "h", false)
        .expect("add");
    assert!(matches!(
        store.add("alice", None, "h", false),
        Err(UserError::Exists(_))
    ));
    assert!(matches!(
        store.add("someone", Some("ALICE@example.org"), "h", false),
        Err(UserError::Exists(_))
    ));
    assert!(matches!(
        store.add("bad name", None, "h", false),
        Err(UserError::InvalidName(_))
    ));
    for login in ["alice", "ALICE@example.org"] {
        assert_eq!(
            store.find_by_login(login).expect("find").map(|u| u.info.id),
            Some(id),
            "{login}"
        );
    }
    assert_eq!(
        store.lookup(id).expect("lookup").map(|u| u.username),
        Some("Alice".into())
    );
    store.set_password("alice", "h2").expect("passwd");
    assert_eq!(
        store
            .find_by_login("alice")
            .expect("find")
            .expect("row")
            .password_hash,
        "h2"
    );
    store.remove("alice").expect("remove");
    assert_eq!(store.lookup(id).expect("lookup"), None);
    assert!(matches!(store.remove("alice"), Err(UserError::NotFound(_))));
    // Ids are never reused, so an old session can never become another user's.
    let next = store.add("bob", None, "h", false).expect("add");
    assert!(next > id);
    assert_eq!(store.list().expect("list").len(), 1);
}

fn another_connections_changes_reach_the_cache(open: Open<'_>) {
    let server = open();
    let cli = open();
    server.refresh_if_changed().expect("refresh");
    assert!(!server.refresh_if_changed().expect("refresh"));
    // A user added elsewhere is found at once: a cache miss re-reads the database.
    let id = cli.add("carol", None, "h", false).expect("add");
    assert_eq!(
        server.lookup(id).expect("lookup").map(|u| u.username),
        Some("carol".into())
    );
    // A removal elsewhere reaches the cache at the next refresh.
    cli.remove("carol").expect("remove");
    assert!(
        server.lookup(id).expect("lookup").is_some(),
        "cached until the refresh"
    );
    assert!(server.refresh_if_changed().expect("refresh"));
    assert_eq!(server.lookup(id).expect("lookup"), None);
}

fn the_last_admin_stays_an_active_admin(open: Open<'_>) {
    let users = open();
    users.add("admin", None, "h", true).expect("add");
    users.add("bob", None, "h", false).expect("add");
    let demote = UserChange {
        is_admin: Some(false),
        ..UserChange::default()
    };
    let disable = UserChange {
        is_active: Some(false),
        ..UserChange::default()
    };
    for change in [&demote, &disable] {
        assert!(matches!(
            users.update("admin", change),
            Err(UserError::LastAdmin(_))
        ));
    }
    assert!(matches!(
        users.remove("ADMIN"),
        Err(UserError::LastAdmin(_))
    ));
    assert!(
        users
            .find_by_login("admin")
            .expect("find")
            .is_some_and(|u| u.info.is_admin && u.info.is_active)
    );
    let promote = UserChange {
        is_admin: Some(true),
        ..UserChange::default()
    };
    users.update("bob", &promote).expect("promote");
    users.update("admin", &disable).expect("disable now");
    assert!(
        matches!(users.remove("bob"), Err(UserError::LastAdmin(_))),
        "bob is the last active one"
    );
    users.remove("admin").expect("remove the disabled one");
}

/// Two admins disabling each other at the same moment, on two connections: one stays (20
/// rounds). Each round's pair are the only active admins when the race starts.
fn two_connections_cannot_both_disable_the_last_admins(open: Open<'_>) {
    let setup = open();
    let disable = UserChange {
        is_active: Some(false),
        ..UserChange::default()
    };
    let mut survivor: Option<String> = None;
    for round in 0..20 {
        let (a, b) = (format!("ann{round}"), format!("ben{round}"));
        setup.add(&a, None, "h", true).expect("ann");
        setup.add(&b, None, "h", true).expect("ben");
        if let Some(previous) = survivor.take() {
            setup
                .update(&previous, &disable)
                .expect("the previous survivor steps down");
        }
        let (one, two) = (open(), open());
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                start.wait();
                one.update(&a, &disable)
            });
            s.spawn(|| {
                start.wait();
                two.update(&b, &disable)
            });
        });
        let active: Vec<String> = setup
            .list()
            .expect("list")
            .into_iter()
            .filter(|u| u.info.is_admin && u.info.is_active)
            .map(|u| u.info.username)
            .collect();
        assert_eq!(active.len(), 1, "round {round}: active admins {active:?}");
        survivor = active.into_iter().next();
    }
}

fn changes_apply_and_logins_are_recorded(open: Open<'_>) {
    let users = open();
    users
        .add("carol", Some("c@example.org"), "h1", false)
        .expect("add");
    let change = UserChange {
        email: Some(None),
        password_hash: Some("h2".into()),
        ..UserChange::default()
    };
    assert!(change.ends_sessions());
    let carol = users.update("carol", &change).expect("update");
    assert_eq!((carol.email, carol.password_hash.as_str()), (None, "h2"));
    assert!(matches!(
        users.update("nobody", &change),
        Err(UserError::NotFound(_))
    ));
    users
        .add("dave", Some("d@example.org"), "h", false)
        .expect("add");
    assert!(matches!(
        users.update(
            "carol",
            &UserChange {
                email: Some(Some("D@example.org".into())),
                ..UserChange::default()
            }
        ),
        Err(UserError::Exists(_))
    ));
    users
        .record_login(carol.info.id, 1_800_000_000)
        .expect("login");
    let carol = users.find_by_login("carol").expect("find").expect("carol");
    assert_eq!(carol.last_login_at, Some(1_800_000_000));
}

/// Every function above, each on a fresh database of the backend.
fn run_suite(fresh: &mut dyn FnMut() -> Box<dyn Fn() -> Users>) {
    let suite: [Case; 5] = [
        ("add_find_rename_remove", add_find_rename_remove),
        (
            "another_connections_changes_reach_the_cache",
            another_connections_changes_reach_the_cache,
        ),
        (
            "the_last_admin_stays_an_active_admin",
            the_last_admin_stays_an_active_admin,
        ),
        (
            "two_connections_cannot_both_disable_the_last_admins",
            two_connections_cannot_both_disable_the_last_admins,
        ),
        (
            "changes_apply_and_logins_are_recorded",
            changes_apply_and_logins_are_recorded,
        ),
    ];
    for (name, test) in suite {
        eprintln!("user store contract: {name}");
        let open = fresh();
        test(&*open);
    }
}

#[test]
fn sqlite_users() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut n = 0;
    run_suite(&mut || {
        n += 1;
        let path = dir.path().join(format!("users-{n}.db"));
        Box::new(move || Users::open_sqlite(&path).expect("open sqlite"))
    });
}

#[test]
fn postgres_users() {
    let pg = Postgres::start();
    let mut n = 0;
    run_suite(&mut || {
        n += 1;
        let url = pg.create_database(&format!("contract_{n}"));
        Box::new(move || {
            Users::open(Some(&url), std::path::Path::new("unused")).expect("open postgres")
        })
    });
}

/// Two servers starting at once on an empty database both create and migrate the schema
/// without an error (an advisory lock orders them), 10 times.
#[test]
fn postgres_schema_is_created_once_by_servers_starting_together() {
    let pg = Postgres::start();
    for round in 0..10 {
        let url = pg.create_database(&format!("race_{round}"));
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| Users::open(Some(&url), std::path::Path::new("unused")).map(|_| ()))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        for r in results {
            r.unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        let version = pg.psql(&format!("race_{round}"), "SELECT version FROM yam_schema");
        assert_eq!(version.trim(), "2");
    }
}

#[test]
fn postgres_down_is_unavailable_and_back_is_recovered() {
    let mut pg = Postgres::start();
    let url = pg.create_database("outage");
    let users = Users::open(Some(&url), std::path::Path::new("unused")).expect("open");
    users.add("erin", None, "h", false).expect("add");
    pg.kill();
    let e = users.find_by_login("erin").expect_err("down");
    assert!(e.is_unavailable(), "{e}");
    pg.restart();
    assert!(
        users.find_by_login("erin").expect("back").is_some(),
        "the same Users reconnects by itself"
    );
}

/// A PostgreSQL that accepts connections and never answers (stopped, not crashed): every
/// caller hears "unavailable" within seconds — none waits behind another's stuck query —
/// and the same `Users` goes on once it answers again.
#[test]
fn postgres_hanging_is_unavailable_within_seconds_and_recovers() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let pg = Postgres::start();
    let url = pg.create_database("hang");
    let users = Arc::new(Users::open(Some(&url), std::path::Path::new("unused")).expect("open"));
    users.add("frank", None, "h", false).expect("add");

    let frozen = pg.freeze();
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..4 {
        let (users, tx) = (Arc::clone(&users), tx.clone());
        std::thread::spawn(move || {
            let _ = tx.send((users.find_by_login("frank"), started.elapsed()));
        });
    }
    for caller in 0..4 {
        let (answer, after) = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("caller {caller} still waits after 30 s"));
        let e = answer.expect_err("hanging");
        assert!(e.is_unavailable(), "{e}");
        assert!(after < Duration::from_secs(12), "answered after {after:?}");
    }
    drop(frozen);
    assert!(
        users.find_by_login("frank").expect("back").is_some(),
        "the same Users goes on by itself"
    );
}
