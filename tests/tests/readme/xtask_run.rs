//! `cargo xtask run` as a new user types it: without a display (the dashboard link), on a
//! display (the window), and with `-- --headless`. Each time: the embedded server answers on
//! port 5000, Ctrl-C stops everything gracefully and nothing is left running.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use yam_testkit::{Display, wait_until};

use crate::readme::Readme;
use crate::shell::{Running, Sh, assert_all_gone, listening, repo_root};

/// The first run may build the tray (minutes on a cold cache).
const FIRST_ANSWER: Duration = Duration::from_secs(600);
const SERVER_PORT: u16 = 5000;
const DASHBOARD_PORT: u16 = 7878;

fn healthy(port: u16) -> bool {
    reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .is_ok_and(|r| r.status().as_u16() == 200)
}

fn start(line: &str, config: &Path, display: Option<&Display>) -> Running {
    assert!(
        !listening(SERVER_PORT) && !listening(DASHBOARD_PORT),
        "ports {SERVER_PORT}/{DASHBOARD_PORT} are taken on this machine: `{line}` uses them"
    );
    let sh = Sh::new(line)
        .current_dir(&repo_root())
        .env("YAM_CONFIG_DIR", config)
        .env_remove("YAM_SERVER_BIN");
    let sh = match display {
        Some(d) => sh.envs(d.env()),
        None => sh.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY"),
    };
    sh.spawn()
}

/// The server answers on port 5000 while the line runs.
fn wait_healthy(run: &Running, line: &str) {
    assert!(
        wait_until(FIRST_ANSWER, || healthy(SERVER_PORT)),
        "`{line}`: the embedded server never answered /api/health on port {SERVER_PORT}:\n{}",
        run.output()
    );
}

/// The printed dashboard link opens the dashboard, and its token buys the dashboard's cookie.
/// Returns the dashboard's base address and the token.
fn check_dashboard_link(output: &str) -> (String, String) {
    let link = output
        .lines()
        .find_map(|l| l.split("Dashboard: ").nth(1))
        .expect("a Dashboard: line")
        .trim()
        .to_owned();
    let (base, token) = link
        .split_once("/#token=")
        .expect("the link carries #token=");
    assert!(base.starts_with("http://127.0.0.1:"), "{link}");
    let http = reqwest::blocking::Client::new();
    let page = http.get(format!("{base}/")).send().expect("dashboard page");
    assert_eq!(page.status().as_u16(), 200, "{link}");
    assert!(page.text().unwrap_or_default().contains("<html"));
    let login = http
        .post(format!("{base}/api/login"))
        .json(&json!({ "token": token }))
        .send()
        .expect("token login");
    assert_eq!(login.status().as_u16(), 200, "the link's token was refused");
    (base.to_owned(), token.to_owned())
}

/// The Quick start's steps 1 and 3: the terminal names both addresses (the tray listens on
/// 0.0.0.0 like server.bat) and the password file; logging in with that password works.
fn quick_start_login(run: &mut Running, line: &str, config: &Path) {
    let said = format!("YAM is at http://127.0.0.1:{SERVER_PORT} on this computer");
    let out = run.expect_output(&said, Duration::from_secs(60));
    assert!(
        out.contains(&format!(
            "it listens on 0.0.0.0:{SERVER_PORT}, as server.bat does"
        )),
        "`{line}`:\n{out}"
    );
    let file = config.join("data/initial-admin-password.txt");
    assert!(
        out.contains(&format!(
            "First start: log in as admin with the password in {}",
            file.display()
        )),
        "`{line}` did not say where the password is:\n{out}"
    );
    let password = std::fs::read_to_string(&file).expect("the password file");
    let login = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{SERVER_PORT}/login"))
        .header("User-Agent", QUICK_START_BROWSER)
        .json(&json!({ "login_id": "admin", "password": password.trim() }))
        .send()
        .expect("login");
    assert_eq!(
        login.status().as_u16(),
        200,
        "logging in with the printed password"
    );
}

/// The browser the Quick start's login says it is, to find "yourself" in the sessions list.
const QUICK_START_BROWSER: &str = "Quick start (README test)";

/// Step 4: the window's sessions list (the dashboard's, from the same supervisor) shows the
/// login, and the count includes it (`./sessions` may hold sessions of earlier runs).
fn sees_yourself(base: &str, token: &str) -> bool {
    let http = reqwest::blocking::Client::new();
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
    };
    let listed = get("/api/sessions").is_some_and(|l| {
        l["sessions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["user_agent"] == QUICK_START_BROWSER && s["username"] == "admin")
    });
    let counted = get("/api/status").is_some_and(|s| s["sessions"]["live"].as_u64() >= Some(1));
    listed && counted
}

/// Ctrl-C: the app stops the server gracefully and exits; nothing is left.
fn stop_and_check(mut run: Running, line: &str, config: &Path) {
    let processes = run.processes();
    let names: Vec<&str> = processes.iter().map(|(_, n)| n.as_str()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("yam-tray")) && names.contains(&"yam-server"),
        "`{line}` should run yam-tray and yam-server, ran {names:?}"
    );
    let clean = run.interrupt(Duration::from_secs(60));
    assert_all_gone(line, &processes);
    assert!(!listening(SERVER_PORT), "port {SERVER_PORT} still answers");
    assert!(
        config.join("data/server_shutdown_marker.txt").is_file(),
        "`{line}` + Ctrl-C did not stop the server gracefully:\n{}",
        run.output()
    );
    assert!(clean, "`{line}` exited with an error:\n{}", run.output());
}

pub fn without_a_display(readme: &Readme) {
    let line = readme.line("cargo xtask run");
    let config = tempfile::tempdir().expect("tmp");
    let mut run = start(line, config.path(), None);
    let out = run.expect_output("Dashboard: http://", FIRST_ANSWER);
    wait_healthy(&run, line);
    let (base, token) = check_dashboard_link(&out);
    quick_start_login(&mut run, line, config.path());
    assert!(
        wait_until(Duration::from_secs(10), || sees_yourself(&base, &token)),
        "the dashboard's sessions never showed the Quick start's login"
    );
    stop_and_check(run, line, config.path());
    // The run writes its settings once, with the repository's sessions folder.
    let settings =
        std::fs::read_to_string(config.path().join("settings.toml")).expect("settings.toml");
    assert!(settings.contains("sessions_dir"), "{settings}");
}

pub fn on_a_display(readme: &Readme) {
    let line = readme.line("cargo xtask run");
    let display = Display::start()
        .and_then(|d| d.with_session_bus().with_window_manager())
        .unwrap_or_else(|e| panic!("{e}"));
    let config = tempfile::tempdir().expect("tmp");
    let mut run = start(line, config.path(), Some(&display));
    run.expect_output("UI ready", FIRST_ANSWER);
    wait_healthy(&run, line);
    quick_start_login(&mut run, line, config.path());
    assert!(
        !run.output().contains("No tray icon") && !run.output().contains("WARNING **"),
        "a desktop with a session bus gets its tray, quietly:\n{}",
        run.output()
    );
    let windows = std::process::Command::new("wmctrl")
        .arg("-l")
        .env("DISPLAY", display.name())
        .output()
        .expect("wmctrl -l");
    let windows = String::from_utf8_lossy(&windows.stdout);
    assert!(
        windows.lines().any(|w| w.ends_with(" YAM")),
        "no window titled YAM on the display:\n{windows}"
    );
    assert!(
        !run.output().contains("Dashboard: "),
        "on a display the app opens its window, not the browser dashboard"
    );
    stop_and_check(run, line, config.path());
}

pub fn headless_flag_on_a_display(readme: &Readme) {
    let line = readme.line("cargo xtask run -- --headless");
    let display = Display::start().unwrap_or_else(|e| panic!("{e}"));
    let config = tempfile::tempdir().expect("tmp");
    let mut run = start(line, config.path(), Some(&display));
    let out = run.expect_output("Dashboard: http://", FIRST_ANSWER);
    wait_healthy(&run, line);
    check_dashboard_link(&out);
    stop_and_check(run, line, config.path());
}
