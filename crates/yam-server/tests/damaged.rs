//! Damaged session files: repaired (conflict resolution, user still valid) or quarantined,
//! never a 5xx.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn file_of(dir: &Path, cookie: &str) -> PathBuf {
    let key = yam_sessions::SessionId::parse(cookie).expect("id").key();
    dir.join(format!("{}.json", key.to_hex()))
}

/// Logs in four times, stops the server, damages each file in its own way.
fn four_damaged_sessions(b: &ServerBuilder) -> (Vec<String>, PathBuf) {
    let mut server = b.spawn();
    let cookies: Vec<String> = (0..4)
        .map(|_| admin(&server).cookie.expect("cookie"))
        .collect();
    let sessions = server.sessions_dir();
    assert!(server.stop());
    let files: Vec<_> = cookies.iter().map(|c| file_of(&sessions, c)).collect();
    let json = std::fs::read(&files[0]).expect("read");
    std::fs::write(&files[0], &json[..json.len() / 2]).expect("truncate");
    std::fs::write(&files[1], b"\x00\x9f garbage \xff").expect("garbage");
    std::fs::write(&files[2], b"").expect("empty");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[3]).expect("r")).expect("json");
    v["version"] = 99.into();
    std::fs::write(&files[3], serde_json::to_vec(&v).expect("v")).expect("version");
    (cookies, sessions)
}

fn status_of(server: &ServerProcess, cookie: &str) -> (u16, serde_json::Value) {
    let r = Client::with_cookie(&server.url, cookie).get("/api/session/time-remaining");
    (r.status, r.json())
}

fn quarantined(sessions: &Path) -> usize {
    std::fs::read_dir(sessions.join(".quarantine")).map_or(0, |d| d.count())
}

#[test]
fn with_conflict_resolution_damaged_sessions_are_repaired_or_quarantined() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = builder(dir.path()).arg("--allow-multiple-sessions");
    let (cookies, sessions) = four_damaged_sessions(&b);
    let server = b.spawn();
    assert!(server.output().contains("damaged=4"), "{}", server.output());

    let (truncated, body) = status_of(&server, &cookies[0]);
    assert_eq!(
        truncated, 200,
        "truncated file with a readable user is repaired: {body}"
    );
    assert!(server.wait_for_output(
        "Re-initialized session for user admin (multiple sessions mode)",
        std::time::Duration::from_secs(5)
    ));
    let (garbage, body) = status_of(&server, &cookies[1]);
    assert_eq!(garbage, 401);
    assert_eq!(body["reason"], "damaged");
    assert_eq!(status_of(&server, &cookies[2]).0, 401);
    let (versioned, _) = status_of(&server, &cookies[3]);
    assert_eq!(
        versioned, 200,
        "unknown version with a valid user is repaired"
    );
    assert!(
        server.wait_for_output(
            "Session conflict resolved",
            std::time::Duration::from_secs(10)
        ),
        "{}",
        server.output()
    );
    assert_eq!(quarantined(&sessions), 2);
    // The repaired files are whole again.
    for cookie in [&cookies[0], &cookies[3]] {
        let bytes = std::fs::read(file_of(&sessions, cookie)).expect("repaired file");
        yam_sessions::SessionRecord::from_json(&bytes).expect("valid record");
    }
    // Asking again gives the same clean answer, not an error.
    assert_eq!(status_of(&server, &cookies[1]).0, 401);
}

#[test]
fn without_conflict_resolution_damaged_sessions_are_rejected_and_quarantined() {
    let dir = tempfile::tempdir().expect("tmp");
    // Multiple sessions from the env var alone: conflict resolution stays off.
    let b = builder(dir.path()).env("YAM_ALLOW_MULTIPLE_SESSIONS", "1");
    let (cookies, sessions) = four_damaged_sessions(&b);
    let server = b.spawn();
    for cookie in &cookies {
        let (status, body) = status_of(&server, cookie);
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["reason"], "damaged");
    }
    assert_eq!(quarantined(&sessions), 4);
    assert!(session_files(&sessions).is_empty());
    let mut page = Client::with_cookie(&server.url, &cookies[0]);
    assert_eq!(page.get("/").status, 302);
}

#[test]
fn files_that_are_not_sessions_are_left_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let sessions = dir.path().join("sessions");
    std::fs::create_dir_all(&sessions).expect("mkdir");
    std::fs::write(sessions.join(".gitkeep"), b"").expect("w");
    std::fs::write(
        sessions.join("2029240f6d1128be89ddc32729463129"),
        b"\x00\x00\x00\x00\x80\x04",
    )
    .expect("w");
    let server = builder(dir.path()).arg("--allow-multiple-sessions").spawn();
    admin(&server);
    assert!(sessions.join(".gitkeep").exists());
    assert!(sessions.join("2029240f6d1128be89ddc32729463129").exists());
    assert!(server.output().contains("ignored=2"), "{}", server.output());
}
