//! `yamctl up` as a real process, and the `yamctl` commands that talk to it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use yam_testkit::wait_until;

use super::free_port;

pub const YAMCTL: &str = env!("CARGO_BIN_EXE_yamctl");

pub struct Up {
    pub child: Child,
    pub dashboard: String,
    pub base: String,
    pub token: String,
    pub config: PathBuf,
    pub output: Arc<Mutex<String>>,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn yamctl(config: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(YAMCTL)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("yamctl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

pub fn up(config: &Path) -> Up {
    up_with(config, "", None)
}

/// `yamctl up` with extra settings lines and, when given, an open-files limit (soft, hard).
pub fn up_with(config: &Path, settings: &str, open_files: Option<(u64, u64)>) -> Up {
    let port = free_port();
    yam_testkit::write_supervisor_settings(config, port, settings).expect("settings");
    let mut command = match open_files {
        Some((soft, hard)) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={soft}:{hard}"))
                .arg("--")
                .arg(YAMCTL);
            c
        }
        None => Command::new(YAMCTL),
    };
    let mut child = command
        .arg("--config")
        .arg(config)
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("YAM_SERVER_BIN", yam_testkit::binary("yam-server"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("yamctl up");
    let output = yam_testkit::capture_output(&mut child);
    let mut dashboard = String::new();
    assert!(
        wait_until(Duration::from_secs(30), || {
            dashboard = output
                .lock()
                .expect("lock")
                .lines()
                .find_map(|l| l.strip_prefix("Dashboard: ").map(str::to_owned))
                .unwrap_or_default();
            !dashboard.is_empty()
        }),
        "no dashboard line:\n{}",
        output.lock().expect("lock")
    );
    let (base, token) = dashboard
        .split_once("/#token=")
        .map(|(b, t)| (b.to_owned(), t.to_owned()))
        .expect("token in URL");
    Up {
        child,
        dashboard,
        base,
        token,
        config: config.to_path_buf(),
        output,
    }
}

pub fn status(u: &Up) -> Value {
    let (code, out) = yamctl(&u.config, &["status", "--json"]);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).expect("json")
}

pub fn wait_running(u: &Up) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(Duration::from_secs(30), || {
        last = status(u);
        last["phase"]["phase"] == "running"
    });
    assert!(
        ok,
        "not running: {last}\n{}",
        u.output.lock().expect("lock")
    );
    last
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn status_of(u: &Up) -> Value {
    http()
        .get(format!("{}/api/status", u.base))
        .bearer_auth(&u.token)
        .send()
        .expect("get")
        .json()
        .expect("json")
}
