//! The supervisor: how fast counts follow logins, how fast a restart is, and what
//! `yamctl up` costs when idle.

use std::process::Command;
use std::time::{Duration, Instant};

use yam_supervisor::supervisor::{Options, Supervisor};

use super::Plan;
use crate::procs::{self, Bins};
use crate::report::{Row, median};

/// A supervisor running yam-server with the given `settings.toml` lines, once it is Running.
pub struct Supervised {
    pub sup: Supervisor,
    pub task: tokio::task::JoinHandle<()>,
    pub url: String,
    pub port: u16,
    /// The first-run admin's password (empty for a Python YAM).
    pub password: String,
    /// Config and data; removed when this is dropped.
    _dir: tempfile::TempDir,
}

impl Supervised {
    pub async fn shutdown(self) {
        self.sup.shutdown().await;
        let _ = self.task.await;
    }
}

/// The runtime the supervisor steps measure on: two workers, as the tray and `yamctl up`.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// "How soon the supervisor's count followed" as a row: p50 / max against the 250 ms goal.
pub fn count_latency_row(metric: &str, latencies: &mut [f64]) -> Row {
    let max = latencies.iter().copied().fold(0.0, f64::max);
    let p50 = median(latencies);
    Row::new(
        metric,
        format!("{p50:.0} / {max:.0} ms"),
        "—".into(),
        "—".into(),
        "≤ 250 ms",
        Some(max <= 250.0),
    )
}

pub async fn launch(bins: &Bins, name: &str, settings: &str) -> anyhow::Result<Supervised> {
    let dir = tempfile::tempdir()?;
    let port = procs::free_port();
    yam_testkit::write_supervisor_settings(&dir.path().join("config"), port, settings)?;
    let options = Options::new(
        dir.path().join("config"),
        dir.path().join("data"),
        bins.path("yam-server"),
        name,
    );
    let (sup, task) = Supervisor::launch(options)?;
    sup.wait_for(Duration::from_secs(30), |s| s.phase_label == "Running")
        .await
        .ok_or_else(|| anyhow::anyhow!("the supervised server did not start"))?;
    // The built-in server's first-run admin (a Python YAM has its own users).
    let password = std::fs::read_to_string(dir.path().join("data/initial-admin-password.txt"))
        .map(|p| p.trim().to_owned())
        .unwrap_or_default();
    Ok(Supervised {
        sup,
        task,
        url: format!("http://127.0.0.1:{port}"),
        port,
        password,
        _dir: dir,
    })
}

pub fn counts_and_restart(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let supervised = launch(bins, "bench", "").await?;
        let (sup, url, password) = (&supervised.sup, &supervised.url, &supervised.password);
        let mut latencies = Vec::new();
        for i in 0..plan.logins.max(5) {
            let (u, p) = (url.clone(), password.clone());
            let before = sup.status().sessions.live;
            let t = Instant::now();
            let cookie = tokio::task::spawn_blocking(move || {
                let mut c = yam_testkit::Client::new(&u);
                c.login("admin", &p);
                c
            })
            .await?;
            sup.wait_for(Duration::from_secs(5), |s| s.sessions.live == before + 1)
                .await
                .ok_or_else(|| anyhow::anyhow!("count did not follow login {i}"))?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            tokio::task::spawn_blocking(move || {
                let mut c = cookie;
                c.post("/api/session/logout")
            })
            .await?;
            sup.wait_for(Duration::from_secs(5), |s| s.sessions.live == before)
                .await
                .ok_or_else(|| anyhow::anyhow!("count did not follow logout {i}"))?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        rows.push(count_latency_row(
            "Session count visible to the supervisor after a login or logout (p50 / max)",
            &mut latencies,
        ));

        let mut restarts = Vec::new();
        for _ in 0..plan.rounds.max(3) {
            let pid = sup.status().pid;
            let t = Instant::now();
            sup.restart(false)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            sup.wait_for(Duration::from_secs(30), |s| {
                s.phase_label == "Running" && s.pid.is_some() && s.pid != pid
            })
            .await
            .ok_or_else(|| anyhow::anyhow!("restart did not finish"))?;
            restarts.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let r = median(&mut restarts);
        rows.push(Row::new(
            "Supervisor restart (stop + cleanup + start + healthy), embedded",
            format!("{r:.0} ms"),
            "—".into(),
            "—".into(),
            "≤ 1 s",
            Some(r <= 1000.0),
        ));
        supervised.shutdown().await;
        Ok::<(), anyhow::Error>(())
    })
}

pub fn yamctl_idle(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    yam_testkit::write_supervisor_settings(&config, procs::free_port(), "")?;
    let log_path = dir.path().join("yamctl.log");
    let log = std::fs::File::create(&log_path)?;
    let mut child = Command::new(bins.path("yamctl"))
        .arg("--config")
        .arg(&config)
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("YAM_SERVER_BIN", bins.path("yam-server"))
        .env("YAM_LOG", "info")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(4));
    let ticks_per_sec = 100.0; // Linux USER_HZ
    let t0 = procs::cpu_ticks(pid).unwrap_or(0);
    let started = Instant::now();
    std::thread::sleep(plan.idle.max(Duration::from_secs(1)));
    let t1 = procs::cpu_ticks(pid).unwrap_or(0);
    let cpu = (t1 - t0) as f64 / ticks_per_sec / started.elapsed().as_secs_f64() * 100.0;
    let rss = procs::rss_bytes(pid).unwrap_or(0) as f64 / 1_048_576.0;
    procs::stop_with_sigterm(&mut child, "yamctl up", &log_path)?;
    rows.push(Row::new(
        "`yamctl up` idle, server running: CPU / RSS of yamctl itself",
        format!("{cpu:.2}% / {rss:.1} MB"),
        "—".into(),
        "—".into(),
        "≤ 0.5% / ≤ 30 MB",
        Some(cpu <= 0.5 && rss <= 30.0),
    ));
    Ok(())
}
