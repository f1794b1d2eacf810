//! `--database postgres://…`: the first-run admin and the users CLI on a real PostgreSQL, and
//! what clients hear while it is down or hangs.

mod common;

use common::*;
use yam_services::Postgres;

#[test]
fn users_live_in_postgres_and_open_sessions_outlive_an_outage() {
    let mut pg = Postgres::start();
    let database = pg.create_database("yam");
    let dir = tempfile::tempdir().expect("tmp");
    let b = builder(dir.path())
        .arg("--allow-multiple-sessions")
        .arg("--database")
        .arg(&database);
    let server = b.spawn();
    assert!(
        server.output().contains("PostgreSQL"),
        "{}",
        server.output()
    );
    let (ok, out) = b.run_to_end(
        &["user", "add", "bob", "--database", &database],
        Some("bobs-password\n"),
    );
    assert!(ok, "{out}");
    let (ok, out) = b.run_to_end(&["user", "list", "--database", &database], None);
    assert!(ok && out.contains("admin") && out.contains("bob"), "{out}");
    let names = pg.psql(
        "yam",
        "SELECT string_agg(username, ',' ORDER BY id) FROM yam_users",
    );
    assert_eq!(names.trim(), "admin,bob");
    let mut bob = Client::new(&server.url);
    bob.login("bob", "bobs-password");

    // Hanging (stopped, not crashed): a login hears 503 within seconds, open sessions go on.
    let frozen = pg.freeze();
    let started = std::time::Instant::now();
    let login = Client::new(&server.url).post_json(
        "/login",
        &serde_json::json!({ "login_id": "bob", "password": "bobs-password" }),
    );
    assert_eq!(login.status, 503, "{}", login.body);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(bob.get("/api/session/time-remaining").status, 200);
    drop(frozen);

    pg.kill();
    assert_eq!(
        bob.get("/api/session/time-remaining").status,
        200,
        "an open session goes on"
    );
    let mut newcomer = Client::new(&server.url);
    let login = newcomer.post_json(
        "/login",
        &serde_json::json!({ "login_id": "bob", "password": "bobs-password" }),
    );
    assert_eq!(login.status, 503, "{}", login.body);
    assert_eq!(login.header("retry-after"), Some("5"));
    assert!(
        login.json()["message"]
            .as_str()
            .expect("message")
            .contains("users database")
    );

    pg.restart();
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        newcomer
            .post_json(
                "/login",
                &serde_json::json!({ "login_id": "bob", "password": "bobs-password" }),
            )
            .status
            == 200
    }));
}
