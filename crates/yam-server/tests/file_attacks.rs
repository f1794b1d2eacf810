//! What another process can do to the sessions and data folders, against the real binary:
//! delete sessions while clients renew them, plant special files and links, leave files
//! readable by others.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use yam_sessions::SessionId;

fn session_file(dir: &Path, cookie: &str) -> PathBuf {
    let key = SessionId::parse(cookie).expect("a session id").key();
    dir.join(format!("{}.json", key.to_hex()))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Keeps `POST /api/session/extend` going on `cookie` from 3 connections until stopped.
fn extenders(url: &str, cookie: &str, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    (0..3)
        .map(|_| {
            let mut c = Client::with_cookie(url, cookie);
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let r = c.post_empty("/api/session/extend");
                    if r.status != 200 {
                        // Seen the end: a browser would go to the login page now.
                        break;
                    }
                }
            })
        })
        .collect()
}

/// Item 2: a session file deleted by another process never comes back, however hard its
/// client keeps renewing.
#[test]
fn a_deleted_session_stays_deleted_while_its_client_keeps_extending() {
    let (_dir, server) = multiple();
    let sessions = server.sessions_dir();
    let password = server.admin_password();
    let mut resurrected = 0;
    for round in 0..200 {
        let mut c = Client::new(&server.url);
        c.login("admin", &password);
        let cookie = c.cookie.clone().expect("cookie");
        let file = session_file(&sessions, &cookie);
        let stop = Arc::new(AtomicBool::new(false));
        let threads = extenders(&server.url, &cookie, &stop);
        std::thread::sleep(Duration::from_millis(round % 7));
        std::fs::remove_file(&file).expect("delete the session file");
        std::thread::sleep(Duration::from_millis(30));
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().expect("extender");
        }
        let back = file.exists() || c.get("/api/session/time-remaining").status == 200;
        if back {
            resurrected += 1;
            let _ = std::fs::remove_file(&file);
        }
    }
    assert_eq!(
        resurrected, 0,
        "{resurrected} of 200 deleted sessions came back"
    );
}

/// Item 2: `user passwd` / `user remove` end the user's sessions on a running server, even
/// while the user's browser keeps renewing them.
#[test]
fn user_passwd_and_remove_end_sessions_on_a_running_server() {
    let (_dir, server) = multiple();
    let _ = bob(&server);
    for round in 0..15 {
        let password = format!("bobs-password-{round}");
        let mut c = Client::new(&server.url);
        let previous = if round == 0 {
            "bobs-password".to_owned()
        } else {
            format!("bobs-password-{}", round - 1)
        };
        c.login("bob", &previous);
        let cookie = c.cookie.clone().expect("cookie");
        let stop = Arc::new(AtomicBool::new(false));
        let threads = extenders(&server.url, &cookie, &stop);
        let (ok, out) = builder(&server.data_dir)
            .run_to_end(&["user", "passwd", "bob"], Some(&format!("{password}\n")));
        assert!(ok, "{out}");
        // Round 0 also ends the session the `bob` helper left.
        let ended = if round == 0 {
            "2 sessions ended"
        } else {
            "1 session ended"
        };
        assert!(out.contains(ended), "round {round}: {out}");
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().expect("extender");
        }
        let mut again = Client::with_cookie(&server.url, &cookie);
        assert_eq!(
            again.get("/api/session/time-remaining").status,
            401,
            "round {round}: bob's session outlived his password change"
        );
        assert!(!session_file(&server.sessions_dir(), &cookie).exists());
    }
    let mut c = Client::new(&server.url);
    c.login("bob", "bobs-password-14");
    let (ok, out) = builder(&server.data_dir).run_to_end(&["user", "remove", "bob"], None);
    assert!(ok && out.contains("1 session ended"), "{out}");
    assert_eq!(c.get("/api/session/time-remaining").status, 401);
}

/// Item 4: FIFOs, links to devices and folders named like sessions never hang or exhaust the
/// server (at start or per request); they are refused and moved aside.
#[test]
fn special_files_named_like_sessions_are_refused_promptly() {
    let root = tempfile::tempdir().expect("tmp");
    let data = root.path().join("data");
    let sessions = data.join("sessions");
    std::fs::create_dir_all(&sessions).expect("mkdir");
    let ids: Vec<String> = (0..6)
        .map(|_| SessionId::generate().expect("id").as_str().to_owned())
        .collect();
    let path = |i: usize| session_file(&sessions, &ids[i]);
    for i in 0..3 {
        let status = std::process::Command::new("mkfifo")
            .arg(path(i))
            .status()
            .expect("mkfifo");
        assert!(status.success());
    }
    std::os::unix::fs::symlink("/dev/zero", path(3)).expect("link to /dev/zero");
    let outside = root.path().join("outside.json");
    std::fs::write(&outside, "{}").expect("w");
    std::os::unix::fs::symlink(&outside, path(4)).expect("link outside");
    std::fs::create_dir(path(5)).expect("a folder named like a session");

    let started = Instant::now();
    let server = builder(&data).arg("--allow-multiple-sessions").spawn();
    println!(
        "started in {:?} with special files in sessions/",
        started.elapsed()
    );
    let rss_before = yam_testkit::rss_kib(server.pid());
    let url = server.url.clone();
    let answers: Vec<_> = (0..6)
        .map(|i| {
            let (url, id) = (url.clone(), ids[i].clone());
            std::thread::spawn(move || {
                let t = Instant::now();
                let s = Client::with_cookie(&url, &id)
                    .get("/api/session/time-remaining")
                    .status;
                (s, t.elapsed())
            })
        })
        .collect();
    let mut health = Client::new(&server.url);
    assert_eq!(health.get("/api/health").status, 200);
    for (i, t) in answers.into_iter().enumerate() {
        let (status, took) = t.join().expect("request");
        assert_eq!(status, 401, "special file {i}");
        assert!(
            took < Duration::from_secs(5),
            "special file {i} took {took:?}"
        );
    }
    let grown = yam_testkit::rss_kib(server.pid()).saturating_sub(rss_before);
    assert!(
        grown < 64 * 1024,
        "the server grew by {grown} KiB reading special files"
    );
    assert_eq!(std::fs::read_to_string(&outside).expect("outside"), "{}");
    for i in 0..4 {
        assert!(
            std::fs::symlink_metadata(path(i)).is_err(),
            "special file {i} is still in service"
        );
    }
    // The log line travels through a pipe and a reader thread: wait for it, don't race it.
    assert!(
        server.wait_for_output("not a regular file", Duration::from_secs(10)),
        "{}",
        server.output()
    );
}

/// Item 6: the start-up cleanup removes only the store's own temp files, never follows links.
#[test]
fn start_up_cleanup_removes_only_the_stores_own_temp_files() {
    let root = tempfile::tempdir().expect("tmp");
    let data = root.path().join("data");
    let sessions = data.join("sessions");
    std::fs::create_dir_all(&sessions).expect("mkdir");
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    let keep = [
        ".env.tmpl",
        ".bashrc.tmp",
        ".notes.tmp.txt",
        ".tmp",
        "..tmp",
    ];
    for name in keep {
        let f = std::fs::File::create(sessions.join(name)).expect("create");
        f.set_modified(old).expect("age it");
    }
    let ours = format!(".{}.tmp{}", "ab".repeat(32), "0123456789ab");
    let f = std::fs::File::create(sessions.join(&ours)).expect("create");
    f.set_modified(old).expect("age it");
    let server = builder(&data).spawn();
    for name in keep {
        assert!(sessions.join(name).exists(), "start-up deleted {name}");
    }
    assert!(
        !sessions.join(&ours).exists(),
        "its own stale temp file stayed"
    );
    drop(server);
}

/// Item 7: the write probe never follows a planted link (it used a predictable name).
#[test]
fn the_write_probe_never_follows_a_planted_link() {
    let root = tempfile::tempdir().expect("tmp");
    let data = root.path().join("data");
    let sessions = data.join("sessions");
    std::fs::create_dir_all(&sessions).expect("mkdir");
    let victim = root.path().join("victim.txt");
    std::fs::write(&victim, "precious").expect("w");
    let next: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .expect("ns_last_pid")
        .trim()
        .parse()
        .expect("pid");
    for pid in next..next + 3000 {
        let _ =
            std::os::unix::fs::symlink(&victim, sessions.join(format!(".write-probe.tmp{pid}")));
    }
    let server = builder(&data).spawn();
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious",
        "the write probe truncated a linked file (server pid {})",
        server.pid()
    );
}

/// Item 8: a `.quarantine` that is a link is refused: damaged files never leave the folder.
#[test]
fn a_linked_quarantine_folder_is_refused() {
    let root = tempfile::tempdir().expect("tmp");
    let data = root.path().join("data");
    let sessions = data.join("sessions");
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir_all(&sessions).expect("mkdir");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::os::unix::fs::symlink(&elsewhere, sessions.join(".quarantine")).expect("link");
    let server = builder(&data).spawn();
    let id = SessionId::generate().expect("id");
    let damaged = session_file(&sessions, id.as_str());
    std::fs::write(&damaged, "{ not json").expect("w");
    let mut c = Client::with_cookie(&server.url, id.as_str());
    assert_eq!(c.get("/api/session/time-remaining").status, 401);
    assert_eq!(
        std::fs::read_dir(&elsewhere).expect("ls").count(),
        0,
        "a damaged session was moved out of the sessions folder"
    );
    // The log line travels through a pipe and a reader thread: wait for it, don't race it.
    assert!(
        server.wait_for_output(".quarantine", Duration::from_secs(10)),
        "{}",
        server.output()
    );
}

/// Item 9: every secret file is private (0600) from a first start, and a wider existing one
/// is narrowed.
#[test]
fn secret_files_are_private() {
    let root = tempfile::tempdir().expect("tmp");
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let token = data.join("control-token");
    std::fs::write(&token, "old\n").expect("w");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let server = builder(&data).spawn();
    let mut c = Client::new(&server.url);
    c.login("admin", &server.admin_password());
    for name in [
        "users.db",
        "users.db-wal",
        "users.db-shm",
        "control-token",
        "initial-admin-password.txt",
    ] {
        let p = data.join(name);
        assert!(p.exists(), "{name} missing");
        assert_eq!(mode(&p), 0o600, "{name} is {:o}", mode(&p));
    }
    assert_eq!(mode(&data), 0o700);
}

/// Runs `yam-server args… --data-dir data` with a deadline: a command that hangs (a FIFO) or
/// reads forever (`/dev/zero`) fails the test instead of the test run.
fn run_with_deadline(data: &Path, args: &[&str]) -> (Option<bool>, String) {
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let finished = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status.success());
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (finished, text)
}

/// Issue 22 item 11: the offline commands pointed at a folder someone else prepared write
/// nothing through its links, hang on nothing, read nothing unbounded.
#[test]
fn offline_commands_never_write_through_hang_on_or_drown_in_planted_files() {
    let root = tempfile::tempdir().expect("tmp");
    let victim = root.path().join("victim.txt");
    std::fs::write(&victim, "precious").expect("w");

    // The marker's temp file planted as a link to the caller's file.
    let planted = root.path().join("planted");
    std::fs::create_dir_all(planted.join("sessions")).expect("mkdir");
    std::os::unix::fs::symlink(&victim, planted.join(".force_session_reset.txt.tmp"))
        .expect("link");
    // The startup marker a FIFO: reading it would wait for a writer forever.
    let fifo = std::ffi::CString::new(
        planted
            .join("server_startup_marker.txt")
            .to_string_lossy()
            .as_bytes(),
    )
    .expect("c");
    // SAFETY: mkfifo with a valid C string.
    #[allow(unsafe_code)]
    unsafe {
        libc::mkfifo(fifo.as_ptr(), 0o600);
    }
    let (finished, out) = run_with_deadline(&planted, &["force-logout"]);
    assert_eq!(finished, Some(true), "force-logout hung or failed: {out}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious",
        "the marker was written through a planted link"
    );

    // The startup marker a link to /dev/zero: refused, not read to the end of memory.
    let zero = root.path().join("zero");
    std::fs::create_dir_all(&zero).expect("mkdir");
    std::os::unix::fs::symlink("/dev/zero", zero.join("server_startup_marker.txt")).expect("l");
    let (finished, out) = run_with_deadline(&zero, &["force-logout"]);
    assert_eq!(finished, Some(true), "force-logout hung or failed: {out}");

    // A data folder that is a link to someone's folder: refused; the target keeps its mode
    // and gets no users.db.
    let theirs = root.path().join("theirs");
    std::fs::create_dir_all(&theirs).expect("mkdir");
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let linked = root.path().join("linked-data");
    std::os::unix::fs::symlink(&theirs, &linked).expect("link");
    let (finished, out) = run_with_deadline(&linked, &["user", "list"]);
    assert_eq!(finished, Some(false), "{out}");
    assert!(out.contains("is a link"), "{out}");
    assert_eq!(mode(&theirs), 0o755, "the link's target was chmodded");
    assert!(
        !theirs.join("users.db").exists(),
        "users.db created through a link"
    );
}
