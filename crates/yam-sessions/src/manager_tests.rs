use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use super::*;
use crate::store::{FileStore, MemoryStore};
use crate::time::ManualClock;

#[derive(Default)]
struct Users(RwLock<HashMap<UserId, UserInfo>>);

impl Users {
    fn add(&self, id: UserId, name: &str) -> UserInfo {
        let user = UserInfo {
            id,
            username: name.into(),
            is_admin: false,
            is_active: true,
        };
        self.0.write().insert(id, user.clone());
        user
    }
}

impl UserDirectory for Users {
    fn lookup(&self, id: UserId) -> Result<Option<UserInfo>, DirectoryUnavailable> {
        Ok(self.0.read().get(&id).cloned())
    }
}

struct Fixture {
    manager: SessionManager,
    clock: ManualClock,
    users: Arc<Users>,
}

fn fixture_with(
    store: Arc<dyn SessionStore>,
    mode: SessionMode,
    conflict_resolution: bool,
) -> Fixture {
    let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
    let users = Arc::new(Users::default());
    let manager = SessionManager::new(
        store,
        users.clone(),
        Arc::new(clock.clone()),
        ManagerSettings {
            mode,
            conflict_resolution,
            epoch: "test".into(),
            max_sessions_per_user: 5,
        },
    );
    Fixture {
        manager,
        clock,
        users,
    }
}

fn fixture(mode: SessionMode) -> Fixture {
    fixture_with(Arc::new(MemoryStore::new()), mode, true)
}

fn valid(outcome: AuthOutcome) -> Authenticated {
    match outcome {
        AuthOutcome::Valid(a) => a,
        AuthOutcome::Rejected(r) => panic!("rejected: {r:?}"),
    }
}

fn rejected(outcome: AuthOutcome) -> EndReason {
    match outcome {
        AuthOutcome::Valid(_) => panic!("unexpectedly valid"),
        AuthOutcome::Rejected(r) => r,
    }
}

#[test]
fn multiple_mode_keeps_every_session_of_a_user() {
    let f = fixture(SessionMode::Multiple);
    let alice = f.users.add(1, "alice");
    let a = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    let b = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    assert_eq!(b.displaced, 0);
    for login in [&a, &b] {
        valid(
            f.manager
                .authenticate(login.id.as_str(), Access::Probe)
                .expect("auth"),
        );
    }
    assert_eq!(
        f.manager
            .counts(Duration::ZERO)
            .expect("counts")
            .per_user
            .get(&1),
        Some(&2)
    );
}

#[test]
fn a_login_beyond_the_per_user_cap_ends_the_oldest_session() {
    let f = fixture(SessionMode::Multiple);
    let alice = f.users.add(1, "alice");
    let bob = f.users.add(2, "bob");
    let bobs = f.manager.login(&bob, ClientInfo::default()).expect("bob");
    let mut logins = Vec::new();
    for _ in 0..8 {
        f.clock.advance(Duration::from_secs(1));
        logins.push(
            f.manager
                .login(&alice, ClientInfo::default())
                .expect("login"),
        );
    }
    let counts = f.manager.counts(Duration::ZERO).expect("counts");
    assert_eq!(counts.per_user.get(&1), Some(&5));
    for old in &logins[..3] {
        let reason = rejected(
            f.manager
                .authenticate(old.id.as_str(), Access::Probe)
                .expect("auth"),
        );
        assert_eq!(reason, EndReason::SessionLimit);
    }
    for new in logins[3..].iter().chain([&bobs]) {
        valid(
            f.manager
                .authenticate(new.id.as_str(), Access::Probe)
                .expect("auth"),
        );
    }
}

#[test]
fn single_mode_displaces_with_a_reason() {
    let f = fixture(SessionMode::Single);
    let alice = f.users.add(1, "alice");
    let bob = f.users.add(2, "bob");
    let first = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    let bobs = f.manager.login(&bob, ClientInfo::default()).expect("login");
    let second = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    assert_eq!(second.displaced, 1);
    let reason = rejected(
        f.manager
            .authenticate(first.id.as_str(), Access::Activity)
            .expect("auth"),
    );
    assert_eq!(reason, EndReason::Displaced);
    valid(
        f.manager
            .authenticate(second.id.as_str(), Access::Activity)
            .expect("auth"),
    );
    valid(
        f.manager
            .authenticate(bobs.id.as_str(), Access::Activity)
            .expect("auth"),
    );
}

#[test]
fn activity_slides_expiry_but_probes_do_not() {
    let f = fixture(SessionMode::Multiple);
    let alice = f.users.add(1, "alice");
    let login = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    let created_expiry = login.record.expires_at;

    f.clock.advance(Duration::from_secs(3 * 3600));
    let probed = valid(
        f.manager
            .authenticate(login.id.as_str(), Access::Probe)
            .expect("auth"),
    );
    assert_eq!(probed.record.expires_at, created_expiry);

    let active = valid(
        f.manager
            .authenticate(login.id.as_str(), Access::Activity)
            .expect("auth"),
    );
    assert_eq!(
        active.record.expires_at,
        f.clock.now().plus(Duration::from_secs(4 * 3600))
    );

    // Only probes for 4 h: the idle tab expires.
    f.clock.advance(Duration::from_secs(4 * 3600));
    let reason = rejected(
        f.manager
            .authenticate(login.id.as_str(), Access::Probe)
            .expect("auth"),
    );
    assert_eq!(reason, EndReason::Expired);
    assert_eq!(f.manager.counts(Duration::ZERO).expect("counts").live, 0);
}

#[test]
fn logout_is_never_undone_by_a_request_in_flight() {
    let f = fixture(SessionMode::Multiple);
    let alice = f.users.add(1, "alice");
    let login = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    let in_flight = valid(
        f.manager
            .authenticate(login.id.as_str(), Access::Probe)
            .expect("auth"),
    );
    assert!(
        f.manager
            .end(&login.key, EndReason::LoggedOut)
            .expect("end")
    );
    assert_eq!(f.manager.extend(&in_flight).expect("extend"), None);
    f.clock.advance(Duration::from_secs(120));
    f.manager.flush_all().expect("flush");
    let reason = rejected(
        f.manager
            .authenticate(login.id.as_str(), Access::Activity)
            .expect("auth"),
    );
    assert_eq!(reason, EndReason::LoggedOut);
}

#[test]
fn removed_or_inactive_users_lose_their_sessions() {
    let f = fixture(SessionMode::Multiple);
    let alice = f.users.add(1, "alice");
    let login = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    f.users.0.write().get_mut(&1).expect("alice").is_active = false;
    let reason = rejected(
        f.manager
            .authenticate(login.id.as_str(), Access::Probe)
            .expect("auth"),
    );
    assert_eq!(reason, EndReason::UserInvalid);
}

#[test]
fn a_renamed_user_is_re_initialised_with_conflict_resolution() {
    let f = fixture(SessionMode::Multiple);
    let alice = f.users.add(1, "alice");
    let login = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    f.users.add(1, "alice2");
    let auth = valid(
        f.manager
            .authenticate(login.id.as_str(), Access::Probe)
            .expect("auth"),
    );
    assert_eq!(auth.record.username, "alice2");
}

#[test]
fn a_renamed_user_is_rejected_without_conflict_resolution() {
    let f = fixture_with(Arc::new(MemoryStore::new()), SessionMode::Multiple, false);
    let alice = f.users.add(1, "alice");
    let login = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    f.users.add(1, "alice2");
    let reason = rejected(
        f.manager
            .authenticate(login.id.as_str(), Access::Probe)
            .expect("auth"),
    );
    assert_eq!(reason, EndReason::Damaged);
}

#[test]
fn damaged_files_are_repaired_or_quarantined() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = FileStore::open(dir.path()).expect("open");
    let store = Arc::new(store);
    let f = fixture_with(store.clone(), SessionMode::Multiple, true);
    let alice = f.users.add(1, "alice");
    let login = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    let path = dir.path().join(format!("{}.json", login.key.to_hex()));
    let json = std::fs::read(&path).expect("read");

    // Truncated but the user is readable and valid: repaired.
    std::fs::write(&path, &json[..json.len() / 2]).expect("write");
    let auth = valid(
        f.manager
            .authenticate(login.id.as_str(), Access::Activity)
            .expect("auth"),
    );
    assert_eq!(auth.user.username, "alice");
    assert!(SessionRecord::from_json(&std::fs::read(&path).expect("read")).is_ok());

    // Garbage: nothing to restore, quarantined.
    std::fs::write(&path, b"\x00\xffgarbage").expect("write");
    let reason = rejected(
        f.manager
            .authenticate(login.id.as_str(), Access::Activity)
            .expect("auth"),
    );
    assert_eq!(reason, EndReason::Damaged);
    assert!(!path.exists());
    let quarantined = std::fs::read_dir(dir.path().join(".quarantine"))
        .expect("q")
        .count();
    assert_eq!(quarantined, 1);
    let again = rejected(
        f.manager
            .authenticate(login.id.as_str(), Access::Activity)
            .expect("auth"),
    );
    assert_eq!(again, EndReason::Damaged);
}

#[test]
fn renewals_are_persisted_at_most_once_a_minute() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = FileStore::open(dir.path()).expect("open");
    let f = fixture_with(Arc::new(store), SessionMode::Multiple, true);
    let alice = f.users.add(1, "alice");
    let login = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    let path = dir.path().join(format!("{}.json", login.key.to_hex()));
    let on_disk = || SessionRecord::from_json(&std::fs::read(&path).expect("read")).expect("parse");

    f.clock.advance(Duration::from_secs(30));
    valid(
        f.manager
            .authenticate(login.id.as_str(), Access::Activity)
            .expect("auth"),
    );
    assert_eq!(
        f.manager.flush_due().expect("flush"),
        0,
        "written too early"
    );
    assert_eq!(on_disk().last_seen, login.record.last_seen);

    f.clock.advance(Duration::from_secs(31));
    assert_eq!(f.manager.flush_due().expect("flush"), 1);
    assert_eq!(
        on_disk().last_seen,
        login.record.last_seen.plus(Duration::from_secs(30))
    );
    assert_eq!(
        f.manager.flush_due().expect("flush"),
        0,
        "nothing new to write"
    );
}

#[test]
fn sweep_deletes_expired_sessions_and_remembers_why() {
    let f = fixture(SessionMode::Single);
    let alice = f.users.add(1, "alice");
    let login = f
        .manager
        .login(&alice, ClientInfo::default())
        .expect("login");
    f.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(f.manager.sweep().expect("sweep"), 1);
    let reason = rejected(
        f.manager
            .authenticate(login.id.as_str(), Access::Probe)
            .expect("auth"),
    );
    assert_eq!(reason, EndReason::Expired);
}

#[test]
fn hostile_cookies_are_unknown_without_touching_the_store() {
    let f = fixture(SessionMode::Multiple);
    for bad in ["../../etc/passwd", "a\0b", &"x".repeat(10_000)] {
        let reason = rejected(f.manager.authenticate(bad, Access::Activity).expect("auth"));
        assert_eq!(reason, EndReason::Unknown);
    }
}

/// A users database that cannot answer: the request fails (503 upstream), the session stays.
struct Unreachable;

impl UserDirectory for Unreachable {
    fn lookup(&self, _: UserId) -> Result<Option<UserInfo>, DirectoryUnavailable> {
        Err(DirectoryUnavailable("connection refused".into()))
    }
}

#[test]
fn an_unreachable_users_database_never_ends_a_session() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let manager = SessionManager::new(
        Arc::clone(&store),
        Arc::new(Unreachable),
        Arc::new(ManualClock::new(Timestamp::from_secs(1_800_000_000))),
        ManagerSettings {
            mode: SessionMode::Multiple,
            conflict_resolution: true,
            epoch: "test".into(),
            max_sessions_per_user: 5,
        },
    );
    let user = UserInfo {
        id: 1,
        username: "alice".into(),
        is_admin: false,
        is_active: true,
    };
    let login = manager.login(&user, ClientInfo::default()).expect("login");
    let err = manager
        .authenticate(login.id.as_str(), Access::Activity)
        .expect_err("cannot tell");
    assert!(err.is_users_unavailable(), "{err}");
    assert!(matches!(
        store.load(&login.key).expect("load"),
        Loaded::Found(_)
    ));
}
