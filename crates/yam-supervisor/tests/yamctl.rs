//! `yamctl up` and the commands that talk to it, as real processes.

mod common;

use std::time::Duration;

use common::up::{http, status_of, up, wait_running, yamctl};
use serde_json::Value;
use yam_testkit::process_alive;
use yam_testkit::wait_until;

#[test]
fn up_supervises_and_the_cli_talks_to_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let u = up(&dir.path().join("cfg"));
    assert!(u.dashboard.contains("#token="));
    let s = wait_running(&u);
    let (code, text) = yamctl(&u.config, &["status"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("YAM — Running") && text.contains("multiple sessions (4 h sessions)"),
        "{text}"
    );
    assert!(
        text.contains("Today:     no sessions yet; 0 logins, 1 server start, 0 crashes"),
        "{text}"
    );
    assert!(s["capabilities"]["force_logout"] == true);
    // The terminal is told the address it really serves and where the first-run password is.
    let port = s["settings"]["port"].as_u64().expect("port");
    let said = format!(
        "YAM is at http://127.0.0.1:{port} (only this computer: it listens on 127.0.0.1:{port})."
    );
    assert!(
        wait_until(Duration::from_secs(10), || u
            .output
            .lock()
            .expect("lock")
            .contains(&said)),
        "{}",
        u.output.lock().expect("lock")
    );
    let password = u.config.join("data").join("initial-admin-password.txt");
    assert!(
        u.output.lock().expect("lock").contains(&format!(
            "First start: log in as admin with the password in {}",
            password.display()
        )),
        "{}",
        u.output.lock().expect("lock")
    );
    // The chart's data: a point a minute for a day, a point an hour for a week.
    let c = http();
    let history = |q: &str| {
        c.get(format!("{}/api/history{q}", u.base))
            .bearer_auth(&u.token)
            .send()
            .expect("history")
    };
    let day: Value = history("").json().expect("json");
    assert_eq!(
        (day["span"].as_str(), day["step"].as_i64()),
        (Some("day"), Some(1))
    );
    assert_eq!(day["points"][0]["starts"], 1, "{day}");
    let week: Value = history("?span=week").json().expect("json");
    assert_eq!(
        week["to"].as_i64().expect("to") - week["from"].as_i64().expect("from"),
        7 * 1440
    );
    assert_eq!(history("?span=year").status(), 400);

    let (code, text) = yamctl(&u.config, &["sessions"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("0 sessions, from the server"), "{text}");
    let (code, text) = yamctl(&u.config, &["set", "port", "0"]);
    assert_ne!(code, 0);
    assert!(text.contains("port"), "{text}");
    let (code, text) = yamctl(&u.config, &["restart"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Restarted; running at"));
    let (code, text) = yamctl(&u.config, &["force-logout"]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = yamctl(&u.config, &["stop"]);
    assert_eq!((code, text.trim()), (0, "Stopped."));
    let (code, text) = yamctl(&u.config, &["start"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn the_control_api_checks_token_host_origin_and_body() {
    let dir = tempfile::tempdir().expect("tmp");
    let u = up(&dir.path().join("cfg"));
    wait_running(&u);
    let c = http();
    let status = format!("{}/api/status", u.base);
    assert_eq!(c.get(&status).send().expect("get").status(), 401);
    assert_eq!(
        c.get(&status)
            .bearer_auth("wrong")
            .send()
            .expect("get")
            .status(),
        401
    );
    assert_eq!(
        c.get(&status)
            .bearer_auth(&u.token)
            .send()
            .expect("get")
            .status(),
        200
    );
    // The page may not be framed and runs only its own scripts.
    let page = c.get(format!("{}/", u.base)).send().expect("page");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let refused = c.get(&status).send().expect("get");
    assert_eq!(refused.headers()["x-frame-options"], "DENY");

    let rebinding = c
        .get(&status)
        .bearer_auth(&u.token)
        .header("Host", "evil.example:7878")
        .send()
        .expect("get");
    assert_eq!(rebinding.status(), 403);

    let login = c
        .post(format!("{}/api/login", u.base))
        .json(&serde_json::json!({ "token": u.token }))
        .send()
        .expect("login");
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("SameSite=Strict") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();
    assert_eq!(
        c.get(&status)
            .header("Cookie", &pair)
            .send()
            .expect("get")
            .status(),
        200
    );
    let bad = c
        .post(format!("{}/api/login", u.base))
        .json(&serde_json::json!({ "token": "nope" }))
        .send()
        .expect("login");
    assert_eq!(bad.status(), 401);

    let foreign = c
        .post(format!("{}/api/stop", u.base))
        .bearer_auth(&u.token)
        .header("Origin", "http://evil.example")
        .json(&serde_json::json!({}))
        .send()
        .expect("post");
    assert_eq!(foreign.status(), 403);
    let form = c
        .post(format!("{}/api/stop", u.base))
        .bearer_auth(&u.token)
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .expect("post");
    assert_eq!(form.status(), 415);
    assert_eq!(
        status_of(&u)["phase"]["phase"],
        "running",
        "a refused request stopped the server"
    );

    let bad = c
        .post(format!("{}/api/settings", u.base))
        .bearer_auth(&u.token)
        .json(&serde_json::json!({ "port": 0, "host": "nowhere" }))
        .send()
        .expect("post");
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().expect("json");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, vec!["host", "port"]);

    let mut events = c
        .get(format!("{}/api/events", u.base))
        .bearer_auth(&u.token)
        .send()
        .expect("sse");
    assert!(
        events.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/event-stream")
    );
    let mut first = [0u8; 200];
    let n = std::io::Read::read(&mut events, &mut first).expect("read");
    assert!(String::from_utf8_lossy(&first[..n]).contains("event: status"));
}

#[test]
fn kill_9_of_yamctl_up_takes_the_server_with_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut u = up(&dir.path().join("cfg"));
    let pid = wait_running(&u)["pid"].as_u64().expect("pid") as u32;
    assert!(process_alive(pid));
    u.child.kill().expect("kill -9");
    u.child.wait().expect("wait");
    assert!(
        wait_until(Duration::from_secs(10), || !process_alive(pid)),
        "the server outlived yamctl up"
    );
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut u = up(&dir.path().join("cfg"));
    let pid = wait_running(&u)["pid"].as_u64().expect("pid") as u32;
    assert!(yam_testkit::signal(u.child.id(), "TERM"), "kill -TERM");
    assert!(
        yam_testkit::exits_within(&mut u.child, Duration::from_secs(20)),
        "yamctl up did not exit"
    );
    assert!(!process_alive(pid));
    assert!(
        dir.path()
            .join("cfg/data/server_shutdown_marker.txt")
            .is_file()
    );
    assert!(
        !u.config.join("yamctl-up.json").exists(),
        "state file left behind"
    );
    assert!(
        u.output
            .lock()
            .expect("lock")
            .contains("to finish its requests and stop")
    );
}

#[test]
fn without_up_the_cli_says_so_and_force_logout_works_on_the_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("cfg");
    let (code, text) = yamctl(&config, &["status"]);
    assert_eq!(code, 3);
    assert!(text.contains("yamctl up is not running"), "{text}");
    let sessions = config.join("data/sessions");
    std::fs::create_dir_all(&sessions).expect("mkdir");
    let record = yam_sessions::SessionPolicy::new(yam_sessions::SessionMode::Multiple).new_record(
        1,
        "admin",
        Default::default(),
        yam_sessions::Timestamp(0),
        "e",
    );
    std::fs::write(
        sessions.join(format!("{}.json", "a".repeat(64))),
        record.to_json(),
    )
    .expect("w");
    let (code, text) = yamctl(&config, &["force-logout"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("deleted 1 session file"), "{text}");
    assert!(config.join("data/force_session_reset.txt").is_file());
    let (code, text) = yamctl(&config, &["set", "multiple_sessions", "false"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        std::fs::read_to_string(config.join("settings.toml"))
            .expect("s")
            .contains("multiple_sessions = false")
    );
}

#[test]
fn a_non_loopback_listen_address_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, text) = yamctl(&dir.path().join("cfg"), &["up", "--listen", "0.0.0.0:0"]);
    assert_ne!(code, 0);
    assert!(text.contains("for this computer only"), "{text}");
}

#[test]
fn yamctl_never_sends_its_token_to_an_address_a_planted_folder_names() {
    let victim = tempfile::tempdir().expect("tmp");
    let secret = "victims-real-supervisor-token-0123456789";
    let victim_token = victim.path().join("control-token");
    yam_sessions::private::write_private(&victim_token, secret).expect("token");
    let plant = |url: &str, link: bool| {
        let planted = tempfile::tempdir().expect("tmp");
        std::fs::write(
            planted.path().join("yamctl-up.json"),
            serde_json::json!({ "url": url, "pid": 1 }).to_string(),
        )
        .expect("state");
        let token = planted.path().join("control-token");
        if link {
            std::os::unix::fs::symlink(&victim_token, &token).expect("link");
        } else {
            yam_sessions::private::write_private(&token, secret).expect("copy");
        }
        planted
    };

    // A stranger on this computer, and a linked token: the link is refused.
    let stranger = yam_testkit::Stranger::listen([127, 0, 0, 1].into());
    let planted = plant(&stranger.url(), true);
    let (code, text) = yamctl(planted.path(), &["status"]);
    assert!(
        stranger.heard(secret).is_empty(),
        "the real token went to the stranger: {text}"
    );
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("is a link"), "{text}");
    let (_, text) = yamctl(planted.path(), &["set", "profile", "custom"]);
    assert!(stranger.heard(secret).is_empty(), "{text}");

    // A stranger elsewhere on the network: nothing is sent there at all.
    let Some(ip) = yam_testkit::lan_ip() else {
        eprintln!("no network address on this machine: the remote half is not tried");
        return;
    };
    let remote = yam_testkit::Stranger::listen(ip);
    let planted = plant(&remote.url(), false);
    let (code, text) = yamctl(planted.path(), &["status"]);
    assert_eq!(remote.requests(), 0, "{text}");
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("not on this computer"), "{text}");
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Issue 22 item 3: settings (which may hold a Redis password and YAM's secret key), data and
/// logs are the owner's only.
#[test]
fn settings_data_and_logs_are_owner_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("cfg");
    let (code, text) = yamctl(&config, &["set", "multiple_sessions", "false"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(mode(&config), 0o700);
    assert_eq!(mode(&config.join("settings.toml")), 0o600);

    // A settings file written before (0644), and what `yamctl up` creates.
    let u = up(&config);
    wait_running(&u);
    for (path, want) in [
        (config.clone(), 0o700),
        (config.join("settings.toml"), 0o600),
        (config.join("data"), 0o700),
        (config.join("data/logs"), 0o700),
        (config.join("data/logs/server.log"), 0o600),
    ] {
        assert_eq!(mode(&path), want, "{} is {:o}", path.display(), mode(&path));
    }
}

/// Issue 22 item 11: a settings folder someone else prepared: no writing through its links,
/// no reading `/dev/zero` to the end of memory.
#[test]
fn yamctl_never_writes_through_or_drowns_in_planted_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").expect("w");
    let config = dir.path().join("cfg");
    std::fs::create_dir_all(config.join("data")).expect("mkdir");
    std::os::unix::fs::symlink(&victim, config.join("data/force_session_reset.txt.tmp"))
        .expect("link");
    std::os::unix::fs::symlink(&victim, config.join(".settings.toml.tmp")).expect("link");
    let (code, text) = yamctl(&config, &["force-logout"]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = yamctl(&config, &["set", "multiple_sessions", "false"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );

    let zero = dir.path().join("zero");
    std::fs::create_dir_all(&zero).expect("mkdir");
    std::os::unix::fs::symlink("/dev/zero", zero.join("settings.toml")).expect("link");
    let mut child = std::process::Command::new(common::up::YAMCTL)
        .arg("--config")
        .arg(&zero)
        .args(["set", "multiple_sessions", "false"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("yamctl");
    let finished = wait_until(Duration::from_secs(20), || {
        child.try_wait().expect("wait").is_some()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        finished,
        "yamctl read a settings file linked to /dev/zero for 20 s"
    );
}

/// Issue 22 item 3: the Redis password and YAM's secret key never leave the settings file:
/// not in the status, not in the event stream, not in `yamctl status --json`.
#[test]
fn secrets_in_the_settings_are_never_shown() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("cfg");
    let u = common::up::up_with(
        &config,
        "session_store = \"redis://:hunter2-redis-pw@127.0.0.1:1/0\"\n\
         yam_secret_key = \"the-yam-secret-key-42\"\n",
        None,
    );
    let secrets = ["hunter2-redis-pw", "the-yam-secret-key-42"];
    let status = status_of(&u).to_string();
    assert!(status.contains("redis://127.0.0.1:1/0"), "{status}");
    let (_, cli) = yamctl(&config, &["status", "--json"]);
    let mut events = http()
        .get(format!("{}/api/events", u.base))
        .bearer_auth(&u.token)
        .send()
        .expect("events");
    let mut first = vec![0u8; 256 * 1024];
    let mut got = 0;
    let started = std::time::Instant::now();
    while got < 1024 && started.elapsed() < Duration::from_secs(10) {
        match std::io::Read::read(&mut events, &mut first[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let stream = String::from_utf8_lossy(&first[..got]).into_owned();
    assert!(stream.contains("session_store"), "{stream}");
    for secret in secrets {
        for (what, text) in [
            ("status", &status),
            ("yamctl status", &cli),
            ("events", &stream),
        ] {
            assert!(!text.contains(secret), "{what} shows {secret}");
        }
    }
}
