//! The servers under test, started and stopped by the bench itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use yam_testkit::{Client, ServerBuilder, ServerProcess};

pub struct Bins {
    pub dir: PathBuf,
    pub python: PathBuf,
}

impl Bins {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    }
}

pub use yam_testkit::free_port;

/// Polls `url` until it answers 200; returns how long that took.
pub fn wait_healthy(url: &str, started: Instant, deadline: Duration) -> anyhow::Result<Duration> {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    while started.elapsed() < deadline {
        if http
            .get(url)
            .send()
            .is_ok_and(|r| r.status().as_u16() == 200)
        {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    anyhow::bail!("{url} did not become healthy within {deadline:?}")
}

/// A peer process that is killed when dropped.
pub struct Peer {
    child: Child,
    pub url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_peer(mut cmd: Command, port: u16) -> anyhow::Result<Peer> {
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    let peer = Peer { child, url };
    wait_healthy(
        &format!("{}/api/health", peer.url),
        Instant::now(),
        Duration::from_secs(30),
    )?;
    Ok(peer)
}

pub fn bare_axum(bins: &Bins) -> anyhow::Result<Peer> {
    let port = free_port();
    let mut cmd = Command::new(bins.path("yam-bench-axum"));
    cmd.arg(port.to_string());
    spawn_peer(cmd, port)
}

/// Flask + Flask-Session under gunicorn with 2 sync workers.
pub fn gunicorn(bins: &Bins, sessions: &Path) -> anyhow::Result<Peer> {
    let port = free_port();
    let mut cmd = Command::new(&bins.python);
    cmd.args([
        "-m",
        "gunicorn",
        "-w",
        "2",
        "-b",
        &format!("127.0.0.1:{port}"),
        "bench_app:app",
    ])
    .current_dir(yam_testkit::fixture("flask_app"))
    .env("SESSION_FILE_DIR", sessions);
    spawn_peer(cmd, port)
}

/// Flask's development server, as YAM's server.py runs it.
pub fn flask_dev(bins: &Bins, sessions: &Path) -> anyhow::Result<Peer> {
    let port = free_port();
    let mut cmd = Command::new(&bins.python);
    cmd.arg("bench_app.py")
        .arg(port.to_string())
        .current_dir(yam_testkit::fixture("flask_app"))
        .env("SESSION_FILE_DIR", sessions);
    spawn_peer(cmd, port)
}

pub fn flask_login(url: &str) -> anyhow::Result<String> {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{url}/login"))
        .json(&serde_json::json!({ "login_id": "admin", "password": "bench-password" }))
        .send()?;
    let cookie = yam_testkit::set_session_cookie(resp.headers()).map(str::to_owned);
    cookie.ok_or_else(|| anyhow::anyhow!("the Flask peer set no session cookie"))
}

/// Our server in multiple-sessions mode in `data`.
pub fn yam_server(bins: &Bins, data: &Path) -> anyhow::Result<ServerProcess> {
    ServerBuilder::new(bins.path("yam-server"), data)
        .arg("--allow-multiple-sessions")
        .env("YAM_LOG", "warn")
        .try_spawn()
        .map_err(|out| anyhow::anyhow!("yam-server did not start:\n{out}"))
}

pub fn yam_login(server: &ServerProcess) -> String {
    let mut c = Client::new(&server.url);
    c.login("admin", &server.admin_password());
    c.cookie.unwrap_or_default()
}

/// Resident memory of a process, from /proc (Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS:").map(|kb| kb * 1024)
}

/// Anonymous resident memory (heap, stacks), `RssAnon` in /proc (Linux).
pub fn anon_bytes(pid: u32) -> Option<u64> {
    status_kb(pid, "RssAnon:").map(|kb| kb * 1024)
}

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) of a process in clock ticks, from /proc (Linux).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// How long a supervisor gets to stop its server and exit after SIGTERM.
const STOP_DEADLINE: Duration = Duration::from_secs(45);

/// Sends SIGTERM to `child` (`what` names it) and waits for it to exit. One that is still
/// running after the deadline is an error that carries its threads' stacks (gdb, when
/// installed) and the end of its `log`; it and its process tree are then killed, so a hang
/// fails the step instead of the whole run.
pub fn stop_with_sigterm(child: &mut Child, what: &str, log: &Path) -> anyhow::Result<()> {
    let pid = child.id().to_string();
    yam_testkit::signal(child.id(), "TERM");
    if yam_testkit::exits_within(child, STOP_DEADLINE) {
        return Ok(());
    }
    let stacks = Command::new("timeout")
        .args([
            "30",
            "gdb",
            "-p",
            &pid,
            "-batch",
            "-ex",
            "thread apply all bt 12",
        ])
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|e| format!("(no stacks: gdb: {e})"));
    let tree = yam_testkit::child_processes(child.id());
    for (p, _) in &tree {
        yam_testkit::signal(*p, "KILL");
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    anyhow::bail!(
        "{what} (pid {pid}) still ran {STOP_DEADLINE:?} after SIGTERM; its children: {tree:?}\n\
         last log lines:\n{}\nthreads:\n{stacks}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}
