//! The real Flask-Session sample files give exactly the counts in their manifests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use yam_sessions::Timestamp;
use yam_supervisor::readers;
use yam_supervisor::tally::Tally;

fn fixtures() -> PathBuf {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/flask-session");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/flask-session")
}

fn check(generation: &str) {
    let dir = fixtures().join(generation);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join(format!("{generation}.manifest.json"))).expect("manifest"),
    )
    .expect("json");
    let mut tally = Tally::default();
    let mut ignored = 0;
    for entry in std::fs::read_dir(&dir).expect("ls").flatten() {
        match readers::read(&entry.path()) {
            Some(info) => tally.upsert(entry.path(), info),
            None => ignored += 1,
        }
    }
    let expected = &manifest["expected"];
    let generated = manifest["generated_unix"].as_i64().expect("generated_unix");
    let c = tally.counts(Timestamp::from_secs(generated), Duration::from_secs(600));
    assert_eq!(
        c.live as u64,
        expected["live_sessions"].as_u64().expect("n"),
        "{generation}"
    );
    assert_eq!(
        c.authenticated as u64,
        expected["live_authenticated"].as_u64().expect("n")
    );
    assert_eq!(
        c.anonymous as u64,
        expected["anonymous_live"].as_u64().expect("n")
    );
    assert_eq!(
        ignored as u64,
        expected["bookkeeping_files"].as_u64().expect("n")
    );
    assert_eq!(c.damaged, 0);
    for (user, n) in expected["users"].as_object().expect("users") {
        let got = c
            .per_user
            .iter()
            .find(|u| &u.user_id == user)
            .map(|u| u.sessions);
        assert_eq!(
            got,
            n.as_u64().map(|n| n as usize),
            "user {user} in {generation}"
        );
    }
    assert_eq!(c.users, expected["users"].as_object().expect("users").len());
    let expired_user = expected["expired_user"].as_str().expect("user");
    assert!(!c.per_user.iter().any(|u| u.user_id == expired_user));
}

#[test]
fn cachelib_0_17_sha256_files() {
    check("cachelib-0.17-sha256");
}

#[test]
fn cachelib_0_13_md5_files() {
    check("cachelib-0.13-md5");
}
