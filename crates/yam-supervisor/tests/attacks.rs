//! Attacks on the supervisor, against real `yamctl` processes: the dashboard cookie, special
//! files in the sessions folder, racing supervisors, half-open connections, and the numbers
//! and output an admin relies on.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::up::{YAMCTL, http, status_of, up, up_with, wait_running, yamctl};
use serde_json::{Value, json};
use yam_testkit::wait_until;

fn cookie_pair(response: &reqwest::blocking::Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

/// Item 3: the dashboard's cookie is its own revocable secret, and it cannot change what the
/// supervisor runs.
#[test]
fn the_dashboard_cookie_is_not_the_token_and_cannot_change_the_command() {
    let dir = tempfile::tempdir().expect("tmp");
    let u = up(&dir.path().join("cfg"));
    wait_running(&u);
    let c = http();
    let login = c
        .post(format!("{}/api/login", u.base))
        .json(&json!({ "token": u.token }))
        .send()
        .expect("login");
    assert_eq!(login.status(), 200);
    let pair = cookie_pair(&login);
    assert!(
        !pair.contains(&u.token),
        "the dashboard cookie carries the control token: {pair}"
    );
    let with_cookie = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = c
            .request(method, format!("{}{path}", u.base))
            .header("Cookie", &pair);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().expect("request")
    };
    assert_eq!(
        with_cookie(reqwest::Method::GET, "/api/status", None).status(),
        200
    );
    let pwned = dir.path().join("pwned");
    let command = format!("touch {}", pwned.display());
    for change in [
        json!({ "profile": "custom", "custom_command": command }),
        json!({ "custom_command": command }),
        json!({ "yam_dir": "/tmp" }),
        json!({ "python": "/bin/sh" }),
        json!({ "profile": "python" }),
    ] {
        let r = with_cookie(reqwest::Method::POST, "/api/settings", Some(change.clone()));
        assert_eq!(r.status(), 403, "{change}");
        let body: Value = r.json().expect("json");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("control token")),
            "{body}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(!pwned.exists());
    let settings = std::fs::read_to_string(u.config.join("settings.toml")).expect("settings");
    assert!(!settings.contains("custom"), "{settings}");
    // Everyday settings still work from the dashboard.
    let r = with_cookie(
        reqwest::Method::POST,
        "/api/settings",
        Some(json!({ "clear_sessions_on_restart": true })),
    );
    assert_eq!(r.status(), 200);
    // The token itself (the CLI on this account) may change the command.
    let (code, text) = yamctl(
        &u.config,
        &["set", "custom_health_url", "http://127.0.0.1:1/"],
    );
    assert_eq!(code, 0, "{text}");
    // Logging out of the dashboard revokes the cookie.
    let r = with_cookie(reqwest::Method::POST, "/api/logout", Some(json!({})));
    assert_eq!(r.status(), 200);
    assert_eq!(
        with_cookie(reqwest::Method::GET, "/api/status", None).status(),
        401
    );
}

/// Item 4: a FIFO named like a session in the watched folder never stops the count.
#[test]
fn a_fifo_in_the_sessions_folder_does_not_stop_the_count() {
    let dir = tempfile::tempdir().expect("tmp");
    let u = up(&dir.path().join("cfg"));
    wait_running(&u);
    let sessions = u.config.join("data/sessions");
    let fifo = sessions.join(format!("{}.json", "f".repeat(64)));
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let password = std::fs::read_to_string(u.config.join("data/initial-admin-password.txt"))
        .expect("password");
    let base = format!(
        "http://127.0.0.1:{}",
        status_of(&u)["url"]
            .as_str()
            .expect("url")
            .rsplit(':')
            .next()
            .expect("port")
    );
    let mut admin = yam_testkit::Client::new(&base);
    admin.login("admin", password.trim());
    let mut last = Value::Null;
    assert!(
        wait_until(Duration::from_secs(15), || {
            last = status_of(&u);
            last["sessions"]["live"] == 1
        }),
        "the count never saw the new session: {}",
        last["sessions"]
    );
}

/// Item 11: three `yamctl up` on one config at once: exactly one supervises.
#[test]
fn racing_supervisors_leave_exactly_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("cfg");
    yam_testkit::write_supervisor_settings(
        &config,
        yam_testkit::free_port(),
        "start_on_launch = false\n",
    )
    .expect("settings");
    let mut doubled = 0;
    for _ in 0..20 {
        let mut children: Vec<_> = (0..3)
            .map(|_| {
                Command::new(YAMCTL)
                    .arg("--config")
                    .arg(&config)
                    .args(["up", "--listen", "127.0.0.1:0"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("yamctl up")
            })
            .collect();
        // The losers exit at once; give them a moment, then count who is still up.
        wait_until(Duration::from_secs(5), || {
            children
                .iter_mut()
                .filter_map(|c| c.try_wait().ok().flatten())
                .count()
                >= 2
        });
        std::thread::sleep(Duration::from_millis(300));
        let running = children
            .iter_mut()
            .map(|c| matches!(c.try_wait(), Ok(None)))
            .filter(|running| *running)
            .count();
        if running != 1 {
            doubled += 1;
        }
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    assert_eq!(
        doubled, 0,
        "{doubled} of 20 trials did not end with exactly one supervisor"
    );
}

fn vm_rss_bytes(pid: u32) -> u64 {
    yam_testkit::rss_kib(pid) * 1024
}

/// Item 14: CPU/RSS count processes, not threads, however often the table is refreshed.
#[test]
fn memory_is_counted_per_process_not_per_thread() {
    let dir = tempfile::tempdir().expect("tmp");
    let u = up(&dir.path().join("cfg"));
    let pid = wait_running(&u)["pid"].as_u64().expect("pid") as u32;
    // Several samples (one every 5 s), with the process table refreshed in between.
    assert!(wait_until(Duration::from_secs(20), || {
        status_of(&u)["usage"]["rss_bytes"].is_u64()
    }));
    let samples: Vec<_> = (0..4)
        .map(|_| {
            std::thread::sleep(Duration::from_secs(6));
            let s = status_of(&u);
            (
                s["usage"]["rss_bytes"].as_u64().unwrap_or(0),
                s["usage"]["processes"].clone(),
                vm_rss_bytes(pid),
            )
        })
        .collect();
    for (reported, processes, actual) in samples {
        assert_eq!(processes, json!(1), "the server is one process");
        let ratio = reported as f64 / actual as f64;
        assert!(
            (0.5..1.5).contains(&ratio),
            "reported RSS {reported} vs VmRSS {actual} (×{ratio:.1})"
        );
    }
}

/// Item 15: output into a closed pipe ends quietly.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().expect("tmp");
    let u = up(&dir.path().join("cfg"));
    wait_running(&u);
    for args in ["status", "status --json", "sessions"] {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "\"{YAMCTL}\" --config \"{}\" {args} 2>err.txt | (exit 0); echo \"${{PIPESTATUS[0]}}\"; cat err.txt",
                u.config.display()
            ))
            .current_dir(dir.path())
            .output()
            .expect("bash");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let code = lines.next().unwrap_or("");
        let stderr: Vec<&str> = lines.collect();
        assert!(stderr.is_empty(), "yamctl {args} | (closed): {stderr:?}");
        assert!(
            code == "0" || code == "141",
            "yamctl {args} into a closed pipe exited with {code}"
        );
    }
}

/// Item 5 for the control API: half-open connections are dropped and capped.
#[test]
fn the_control_api_drops_half_open_connections() {
    let dir = tempfile::tempdir().expect("tmp");
    let u = up_with(&dir.path().join("cfg"), "", Some((256, 256)));
    wait_running(&u);
    let mut held = yam_testkit::half_open_connections(u.base.trim_start_matches("http://"), 300);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let answer = client
        .get(format!("{}/api/status", u.base))
        .bearer_auth(&u.token)
        .send();
    assert!(
        answer.is_ok_and(|r| r.status().is_success()),
        "the control API never answered with 300 half-open connections"
    );
    let closed = yam_testkit::closed_by_peer(&mut held[0], Duration::from_secs(20));
    assert!(closed, "a half-open connection stayed open");
}
