//! Cross-crate: what the real yam-server writes is exactly what the session engine (and so
//! the supervisor's counters) reads back.

use std::time::Duration;

use yam_sessions::{Clock, FileStore, SessionStore, SystemClock};
use yam_testkit::{Client, ServerBuilder, binary};

#[test]
fn sessions_written_by_the_server_are_counted_from_the_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = ServerBuilder::new(binary("yam-server"), dir.path()).arg("--allow-multiple-sessions");
    let server = b.spawn();
    let (ok, out) = b.run_to_end(&["user", "add", "bob"], Some("bobs-password\n"));
    assert!(ok, "{out}");
    let password = server.admin_password();
    let mut a1 = Client::new(&server.url);
    a1.login("admin", &password);
    let mut a2 = Client::new(&server.url);
    a2.login("admin", &password);
    let mut bob = Client::new(&server.url);
    bob.login("bob", "bobs-password");

    let (store, report) = FileStore::open(server.sessions_dir()).expect("open");
    assert_eq!((report.sessions, report.damaged), (3, 0));
    let counts = store
        .counts(SystemClock.now(), Duration::from_secs(600))
        .expect("counts");
    assert_eq!((counts.live, counts.users, counts.expiring_soon), (3, 2, 0));
    assert_eq!(
        counts.per_user.values().copied().collect::<Vec<_>>(),
        vec![2, 1]
    );

    assert_eq!(a2.post("/api/session/logout").status, 200);
    store.rescan().expect("rescan");
    assert_eq!(
        store
            .counts(SystemClock.now(), Duration::ZERO)
            .expect("counts")
            .live,
        2
    );
}
