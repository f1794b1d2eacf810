//! `yam-tray.exe` under Wine on a virtual display. Wine has no WebView2 Runtime (nor do many
//! Windows Server and LTSC machines): the app runs its server and tray anyway, serves the
//! dashboard on loopback and asks the system's browser to open it — recorded here by a
//! stand-in `xdg-open`, which is what Wine's browser launcher calls.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use yam_testkit::{Display, Wine, processes_in, wait_until};

use crate::healthy;

#[test]
fn wine_tray_without_webview2_opens_its_dashboard_in_the_browser() {
    let wine = Wine::desktop();
    let display = Display::start().unwrap_or_else(|e| panic!("{e}"));
    let folder = wine.folder_with("tray", &["yam-tray.exe", "yam-server.exe"]);
    let port = yam_testkit::free_port();
    yam_testkit::write_supervisor_settings(&folder.path("cfg"), port, "").expect("settings");

    let browser = tempfile::tempdir().expect("tmp");
    let opened = browser.path().join("opened.txt");
    let launcher = browser.path().join("xdg-open");
    std::fs::write(
        &launcher,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", opened.display()),
    )
    .expect("write xdg-open");
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        browser.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut tray = wine
        .command(&folder, "yam-tray.exe")
        .arg("--config")
        .arg(folder.win("cfg"))
        .envs(display.env())
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("yam-tray.exe");
    let output = yam_testkit::capture_output(&mut tray);
    let log = || output.lock().expect("output").clone();

    let url = format!("http://127.0.0.1:{port}");
    assert!(
        wait_until(Duration::from_secs(90), || healthy(&url)),
        "the embedded server never became healthy:\n{}",
        log()
    );
    let mut link = String::new();
    assert!(
        wait_until(Duration::from_secs(60), || {
            link = std::fs::read_to_string(&opened).unwrap_or_default();
            link.contains("#token=")
        }),
        "the browser was never asked to open the dashboard:\n{}",
        log()
    );
    let link = link.lines().next().unwrap_or_default().trim().to_owned();
    println!("the browser was asked to open {link}");
    assert!(
        log().contains("WebView2"),
        "the log does not say why:\n{}",
        log()
    );

    let (base, token) = link.split_once("/#token=").expect("a dashboard link");
    let http = reqwest::blocking::Client::new();
    let page = http.get(format!("{base}/")).send().expect("dashboard");
    assert_eq!(page.status().as_u16(), 200);
    let login = http
        .post(format!("{base}/api/login"))
        .json(&json!({ "token": token }))
        .send()
        .expect("login");
    assert_eq!(login.status().as_u16(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    // The dashboard reports the running server (the supervisor's own health check may come a
    // moment after ours).
    let mut status = serde_json::Value::Null;
    let running = wait_until(Duration::from_secs(30), || {
        status = http
            .get(format!("{base}/api/status"))
            .header("Cookie", &cookie)
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default();
        status["phase"]["phase"] == "running"
    });
    assert!(running, "the dashboard never said running: {status}");

    // Ending the app ends everything it started.
    let started = processes_in(&folder);
    assert!(
        started.iter().any(|(_, c)| c.contains("yam-server.exe")),
        "{started:?}"
    );
    tray.kill().expect("kill yam-tray.exe");
    tray.wait().expect("wait");
    assert!(
        wait_until(Duration::from_secs(15), || processes_in(&folder).is_empty()),
        "left running: {:?}",
        processes_in(&folder)
    );
    assert!(!healthy(&url));
}
