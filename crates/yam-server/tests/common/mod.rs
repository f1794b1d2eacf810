#![allow(dead_code, unused_imports)]

use std::path::Path;

pub use yam_testkit::{Client, Reply, ServerBuilder, ServerProcess, lan_ip, wait_until};

pub const BIN: &str = env!("CARGO_BIN_EXE_yam-server");

pub fn builder(data: &Path) -> ServerBuilder {
    ServerBuilder::new(BIN, data)
}

/// A server in multiple-sessions mode (as server.bat starts YAM) in a fresh temp folder.
pub fn multiple() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path()).arg("--allow-multiple-sessions").spawn();
    (dir, server)
}

/// A server in the default single-session mode.
pub fn single() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path()).spawn();
    (dir, server)
}

pub fn admin(server: &ServerProcess) -> Client {
    let mut c = Client::new(&server.url);
    c.login("admin", &server.admin_password());
    c
}

pub fn session_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

/// Seconds left as the server reports them.
pub fn remaining(reply: &Reply) -> i64 {
    reply.json()["time_remaining_seconds"]
        .as_i64()
        .expect("time_remaining_seconds")
}

/// A non-admin user `bob` with a session.
pub fn bob(server: &ServerProcess) -> Client {
    let (ok, out) =
        builder(&server.data_dir).run_to_end(&["user", "add", "bob"], Some("bobs-password\n"));
    assert!(ok || out.contains("already exists"), "{out}");
    let mut c = Client::new(&server.url);
    c.login("bob", "bobs-password");
    c
}

pub fn with_token(server: &ServerProcess, token: &str) -> Client {
    let mut c = Client::new(&server.url);
    c.bearer = Some(token.to_owned());
    c
}
