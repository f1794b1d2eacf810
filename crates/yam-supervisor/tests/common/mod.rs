#![allow(dead_code)]

pub mod flask;
pub mod steps;
pub mod up;
pub mod yam_python;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use yam_supervisor::backoff::RestartPolicy;
use yam_supervisor::status::Status;
use yam_supervisor::supervisor::{Options, Supervisor};

pub use yam_testkit::{Client, binary, copy_dir, free_port};

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub supervisor: Supervisor,
    pub task: tokio::task::JoinHandle<()>,
    pub port: u16,
}

impl Harness {
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn password(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("initial-admin-password.txt"))
            .expect("first-run password")
            .trim()
            .to_owned()
    }

    pub async fn wait(&self, what: &str, done: impl Fn(&Status) -> bool) -> Status {
        self.wait_for(Duration::from_secs(30), what, done).await
    }

    pub async fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Status) -> bool,
    ) -> Status {
        match self.supervisor.wait_for(timeout, done).await {
            Some(s) => s,
            None => {
                let s = self.supervisor.status();
                let log: Vec<String> = self
                    .supervisor
                    .log()
                    .tail(40)
                    .into_iter()
                    .map(|l| l.text)
                    .collect();
                panic!(
                    "timed out waiting for {what}; phase {:?}\nlog:\n{}",
                    s.phase,
                    log.join("\n")
                );
            }
        }
    }

    pub async fn running(&self) -> Status {
        self.wait("running", |s| s.phase_label == "Running").await
    }

    /// Logs in as admin (in a blocking thread) and returns the session cookie.
    pub async fn login(&self) -> String {
        let (url, password) = (self.url(), self.password());
        tokio::task::spawn_blocking(move || {
            let mut c = Client::new(&url);
            c.login("admin", &password);
            c.cookie.expect("cookie")
        })
        .await
        .expect("join")
    }

    pub async fn session_status(&self, cookie: &str) -> u16 {
        let (url, cookie) = (self.url(), cookie.to_owned());
        tokio::task::spawn_blocking(move || {
            Client::with_cookie(&url, &cookie)
                .get("/api/session/time-remaining")
                .status
        })
        .await
        .expect("join")
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let url = format!("{}{path}", self.url());
        tokio::task::spawn_blocking(move || {
            reqwest::blocking::get(url)
                .expect("get")
                .json()
                .expect("json")
        })
        .await
        .expect("join")
    }

    /// Stops the supervisor; its folder stays until the returned value is dropped.
    pub async fn stop(self) -> tempfile::TempDir {
        self.supervisor.shutdown().await;
        let _ = self.task.await;
        self.dir
    }
}

/// A fast policy so crash loops and escalations happen within a test's patience.
pub fn fast_policy() -> RestartPolicy {
    RestartPolicy {
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        stable_after: Duration::from_secs(60),
        crash_window: Duration::from_secs(60),
        max_crashes_in_window: 5,
        startup_timeout: Duration::from_secs(2),
        unhealthy_after: 3,
        drain: Duration::from_secs(1),
        stop_grace: Duration::from_secs(1),
    }
}

/// Writes `settings.toml` (port and loopback host added) and launches a supervisor.
pub fn harness_with(
    settings: &str,
    policy: RestartPolicy,
    port: u16,
    dir: tempfile::TempDir,
) -> Harness {
    harness_tuned(settings, port, dir, |o| o.policy = policy)
}

/// As `harness_with`, with `tune` changing the supervisor's options.
pub fn harness_tuned(
    settings: &str,
    port: u16,
    dir: tempfile::TempDir,
    tune: impl FnOnce(&mut Options),
) -> Harness {
    let config = dir.path().join("config");
    yam_testkit::write_supervisor_settings(&config, port, settings).expect("settings");
    let mut options = Options::new(
        config,
        dir.path().join("data"),
        binary("yam-server"),
        "test-supervisor",
    );
    options.health_every = Duration::from_millis(500);
    tune(&mut options);
    let (supervisor, task) = Supervisor::launch(options).expect("launch");
    Harness {
        dir,
        supervisor,
        task,
        port,
    }
}

pub fn harness(settings: &str) -> Harness {
    harness_with(
        settings,
        RestartPolicy::default(),
        free_port(),
        tempfile::tempdir().expect("tmp"),
    )
}

/// The custom profile running the test server in `mode`.
pub fn test_server_settings(port: u16, mode: &str) -> String {
    let bin = binary("yam-test-server");
    format!(
        "profile = \"custom\"\ncustom_command = '\"{}\" --port {port} {mode}'\ncustom_health_url = \"http://127.0.0.1:{port}/api/health\"\n",
        bin.display()
    )
}

pub async fn until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}
