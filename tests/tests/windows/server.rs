//! `yam-server.exe` under Wine: the users CLI, the session contract in both modes, admin
//! endpoints with the control token, restarts that keep or clear, offline force logout,
//! marker files, a damaged session repaired; and renewals beside a Windows program that holds
//! the session files the way Python does (the sharing violations YAM admins met).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use yam_testkit::{Client, Wine};

use crate::{server, stop};

fn login(url: &str, user: &str, password: &str) -> Client {
    let mut c = Client::new(url);
    c.login(user, password);
    c
}

fn alive(c: &mut Client) -> bool {
    c.get("/api/session/time-remaining").status == 200
}

#[test]
fn wine_yam_server_users_sessions_admin_and_restarts() {
    let wine = Wine::get();
    let folder = wine.folder_with("server", &["yam-server.exe"]);
    // One port for every start, so the clients' addresses stay right.
    let port = yam_testkit::free_port();
    let multiple = server(&folder, "data")
        .port(port)
        .arg("--allow-multiple-sessions");

    let (ok, out) = multiple.run_to_end(
        &["user", "add", "alice", "--email", "alice@example.org"],
        Some("alices-password\n"),
    );
    assert!(ok && out.contains("Added user 'alice'"), "{out}");
    let (ok, out) =
        multiple.run_to_end(&["user", "add", "boss", "--admin"], Some("boss-password\n"));
    assert!(ok, "{out}");
    let (ok, out) = multiple.run_to_end(&["user", "list"], None);
    assert!(
        ok && out.contains("alice@example.org") && out.contains("boss"),
        "{out}"
    );

    let mut s = multiple.spawn();
    let startup = std::fs::read_to_string(folder.path("data/server_startup_marker.txt"))
        .expect("server_startup_marker.txt");
    assert!(
        startup.contains("url=http://127.0.0.1:") && startup.contains("pid="),
        "{startup}"
    );
    assert!(startup.contains(&folder.win("data\\sessions")), "{startup}");

    // Multiple sessions: two logins of one user, both valid and independent.
    let mut a1 = login(&s.url, "alice", "alices-password");
    let mut a2 = login(&s.url, "alice", "alices-password");
    assert!(alive(&mut a1) && alive(&mut a2));
    assert_eq!(a1.post_empty("/api/session/extend").status, 200);
    assert_eq!(a1.post_empty("/api/session/logout").status, 200);
    assert!(!alive(&mut a1) && alive(&mut a2));

    // Admin endpoints with the control token (from loopback).
    let mut admin = Client::new(&s.url);
    admin.bearer = Some(s.control_token());
    let stats = admin.get("/api/admin/stats").json();
    assert_eq!(stats["live_sessions"], 1, "{stats}");
    let list = admin.get("/api/admin/sessions").json();
    let key = list["sessions"][0]["key"].as_str().expect("key").to_owned();
    assert_eq!(
        admin.delete(&format!("/api/admin/sessions/{key}")).status,
        200
    );
    assert!(!alive(&mut a2), "a revoked session lives on");

    // A damaged session is repaired (conflict resolution is on with the flag).
    let mut a3 = login(&s.url, "alice", "alices-password");
    let cookie = a3.cookie.clone().expect("cookie");
    let key = yam_sessions::SessionId::parse(&cookie).expect("id").key();
    let file = folder.path(&format!("data/sessions/{}.json", key.to_hex()));
    let json = std::fs::read(&file).expect("session file");
    std::fs::write(&file, &json[..json.len() / 2]).expect("truncate");
    assert!(alive(&mut a3), "the damaged session was not repaired");
    assert!(s.wait_for_output(
        "Re-initialized session for user alice (multiple sessions mode)",
        Duration::from_secs(5)
    ));

    stop(&mut s);
    assert!(folder.path("data/server_shutdown_marker.txt").is_file());
    assert!(
        !folder.path("data/control-token").exists(),
        "the token outlived the server"
    );

    // Restart in single mode keeping sessions; a new login displaces the user's others.
    let single = server(&folder, "data").port(port);
    let mut s = single.spawn();
    assert!(alive(&mut a3), "--on-restart keep lost a session");
    let mut a4 = login(&s.url, "alice", "alices-password");
    assert!(alive(&mut a4));
    let r = a3.get("/api/session/time-remaining");
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (401, json!("displaced"))
    );
    stop(&mut s);

    // Restart clearing sessions (server.bat parity).
    let mut s = server(&folder, "data")
        .port(port)
        .arg("--on-restart")
        .arg("clear")
        .spawn();
    assert!(!alive(&mut a4));
    let files = std::fs::read_dir(folder.path("data/sessions"))
        .expect("sessions folder")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count();
    assert_eq!(files, 0);

    // Force logout while the server is down: the folder, then the marker at the next start.
    let mut a5 = login(&s.url, "boss", "boss-password");
    stop(&mut s);
    let (ok, out) = single.run_to_end(&["force-logout"], None);
    assert!(ok && out.contains("deleted 1 session file in"), "{out}");
    assert!(folder.path("data/force_session_reset.txt").is_file());
    let s = single.spawn();
    assert!(s.wait_for_output(
        "Force session reset marker detected - clearing all sessions",
        Duration::from_secs(10)
    ));
    assert!(!folder.path("data/force_session_reset.txt").exists());
    assert!(!alive(&mut a5));
}

/// Renewals (each replaces its session file) while a Windows program reads the files the way
/// Python's `open()` does (no delete sharing): no request fails, no reader sees a torn file.
#[test]
fn wine_renewals_beside_a_reader_that_holds_the_files() {
    let wine = Wine::get();
    let folder = wine.folder_with("read-while-renew", &["yam-server.exe"]);
    std::fs::copy(
        yam_testkit::helper_exe("share-reader"),
        folder.path("share-reader.exe"),
    )
    .expect("copy the reader");
    let s = server(&folder, "data")
        .arg("--allow-multiple-sessions")
        .spawn();
    let password = s.admin_password();
    let cookies: Vec<String> = (0..6)
        .map(|_| login(&s.url, "admin", &password).cookie.expect("cookie"))
        .collect();

    let mut reader = wine.command(&folder, "share-reader.exe");
    reader.arg(folder.win("data\\sessions")).arg("6000");
    let reader = std::thread::spawn(move || {
        let out = reader.output().expect("share-reader.exe");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    });
    let stop_flag = Arc::new(AtomicBool::new(false));
    let (requests, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = cookies
        .into_iter()
        .map(|cookie| {
            let url = s.url.clone();
            let (stop_flag, requests, failures) =
                (stop_flag.clone(), requests.clone(), failures.clone());
            std::thread::spawn(move || {
                let mut c = Client::with_cookie(&url, &cookie);
                while !stop_flag.load(Ordering::SeqCst) {
                    for path in ["/api/session/extend", "/api/session/activity"] {
                        let status = c.post_empty(path).status;
                        requests.fetch_add(1, Ordering::SeqCst);
                        if status != 200 {
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    let reader = reader.join().expect("reader thread");
    stop_flag.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client");
    }
    let (requests, failures) = (
        requests.load(Ordering::SeqCst),
        failures.load(Ordering::SeqCst),
    );
    println!("{requests} renewals, {failures} failed; reader: {reader}");
    assert_eq!(
        failures,
        0,
        "{failures} of {requests} renewals failed:\n{}",
        s.output()
    );
    assert!(requests > 100, "only {requests} renewals");
    let count = |name: &str| -> u64 {
        reader
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("reader said: {reader}"))
    };
    assert!(count("reads") > 100, "{reader}");
    assert_eq!((count("torn"), count("failed")), (0, 0), "{reader}");
}
