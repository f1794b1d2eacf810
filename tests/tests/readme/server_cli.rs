//! The `yam-server` lines, run against a server on port 5000 in one data folder
//! (`YAM_DATA_DIR`), in the README's order: users (on a running server), force logout,
//! selftest.

use std::time::Duration;

use yam_testkit::{Client, ServerBuilder};

use crate::readme::Readme;
use crate::shell::{Finished, Sh};

const ALICE_PASSWORD: &str = "alices-password";
const NEW_ADMIN_PASSWORD: &str = "the-admins-new-password";

pub fn users_force_logout_and_selftest(readme: &Readme) {
    let root = tempfile::tempdir().expect("tmp");
    let data = root.path().join("data");
    let cwd = root.path().join("cwd");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let server = ServerBuilder::new(yam_testkit::binary("yam-server"), &data)
        .arg("--allow-multiple-sessions")
        .port(5000)
        .spawn();
    let run = |command: &str, stdin: Option<&str>| -> Finished {
        let line = readme.line(command);
        let out = Sh::new(line)
            .current_dir(&cwd)
            .env("YAM_DATA_DIR", &data)
            .run_to_end(stdin, Duration::from_secs(60));
        assert!(out.success, "`{line}` failed:\n{}", out.text);
        out
    };

    let out = run(
        "yam-server user add alice --email alice@example.org",
        Some(&format!("{ALICE_PASSWORD}\n")),
    );
    assert!(out.text.contains("Added user 'alice'"), "{}", out.text);
    let out = run(
        "yam-server user add carol --admin",
        Some("carols-password\n"),
    );
    assert!(out.text.contains("Added user 'carol'") && out.text.contains("admin"));
    let out = run("yam-server user list", None);
    for expected in ["admin", "alice", "alice@example.org", "carol"] {
        assert!(out.text.contains(expected), "{expected}: {}", out.text);
    }

    // Changing a password ends the user's sessions on the running server, at once.
    let mut alice = Client::new(&server.url);
    alice.login("alice", ALICE_PASSWORD);
    assert_eq!(alice.get("/api/session/time-remaining").status, 200);
    let out = run(
        "yam-server user passwd alice",
        Some("alices-new-password\n"),
    );
    assert!(
        out.text.contains("Password changed for 'alice'"),
        "{}",
        out.text
    );
    assert_eq!(
        alice.get("/api/session/time-remaining").status,
        401,
        "alice's session outlived her password change"
    );
    alice.login("alice", "alices-new-password");

    assert!(data.join("initial-admin-password.txt").is_file());
    run(
        "yam-server user passwd admin",
        Some(&format!("{NEW_ADMIN_PASSWORD}\n")),
    );
    assert!(
        !data.join("initial-admin-password.txt").exists(),
        "the first-run password file outlived the admin's new password"
    );

    let out = run("yam-server user remove alice", None);
    assert!(out.text.contains("Removed user 'alice'"), "{}", out.text);
    assert_eq!(alice.get("/api/session/time-remaining").status, 401);

    let mut admin = Client::new(&server.url);
    admin.login("admin", NEW_ADMIN_PASSWORD);
    let out = run("yam-server force-logout", None);
    assert!(
        out.text.contains("Server at http://127.0.0.1:5000"),
        "{}",
        out.text
    );
    assert_eq!(admin.get("/api/session/time-remaining").status, 401);

    std::fs::write(cwd.join("password.txt"), format!("{NEW_ADMIN_PASSWORD}\n")).expect("w");
    let out = run(
        "yam-server selftest --url http://127.0.0.1:5000 < password.txt",
        None,
    );
    assert!(!out.text.contains("FAIL"), "{}", out.text);
    drop(server);
}
