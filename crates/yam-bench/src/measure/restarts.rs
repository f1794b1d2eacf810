//! Restarts under load, as the team's browsers see them: the same restarts under ~200
//! requests a second, with the supervisor holding the port (ours), the old stop-then-start
//! path (`restart_mode = "direct"`, kept for this baseline), and — for the Python YAM — what
//! `server.bat` does (kill python, start it again). Then what the door costs a request.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::steady_load::{Rounds, Seen, under_load};
use yam_supervisor::supervisor::Supervisor;

use super::Plan;
use super::supervisor::{launch, runtime};
use crate::procs::{self, Bins};
use crate::report::{Row, quantile};
use crate::wrk;

async fn supervised_restarts(sup: &Supervisor) -> anyhow::Result<()> {
    sup.restart(false)
        .await
        .map_err(|e| anyhow::anyhow!("restart: {e}"))
}

fn describe(s: Seen) -> String {
    format!(
        "{} refused, {} failed of {}",
        s.refused, s.failed, s.requests
    )
}

fn rows_for(what: &str, n: usize, ours: &Rounds, peers: &[(&str, Seen)], rows: &mut Vec<Row>) {
    let (idle, during) = ours.overall();
    let rounds = ours.0.len();
    let each = ours
        .ratios()
        .iter()
        .map(|r| format!("{r:.1}×"))
        .collect::<Vec<_>>()
        .join(", ");
    let peer_text = peers
        .iter()
        .map(|(name, s)| format!("{name}: {}", describe(*s)))
        .collect::<Vec<_>>()
        .join("; ");
    rows.push(Row::new(
        &format!(
            "{n} restarts under ~200 req/s ({rounds} round{}), {what}: refused / failed",
            if rounds == 1 { "" } else { "s" }
        ),
        describe(during),
        peer_text,
        "—".into(),
        "0 / 0",
        Some(during.refused == 0 && during.failed == 0),
    ));
    // The verdict is the median round's ratio, not the ratio of the medians (which can pair
    // one round's calm idle with another's calm restarts).
    let mut ratios = ours.ratios();
    let ratio = quantile(&mut ratios, 0.5);
    rows.push(Row::new(
        &format!("p99 latency during those restarts / idle p99 (median round), {what}"),
        format!("{:.1} / {:.1} ms", during.p99_ms, idle.p99_ms),
        format!("each round: {each}"),
        format!("{ratio:.1}×"),
        "≤ 3×",
        Some(ratio <= 3.0),
    ));
}

/// A copy of the signed-cookie YAM stand-in (as the real YAM keeps sessions) in `dir`.
pub fn yam_folder(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let yam = dir.join("YAM");
    yam_testkit::copy_dir(&yam_testkit::fixture("yam_cookie_app"), &yam)?;
    Ok(yam)
}

pub fn python_settings(bins: &Bins, yam: &Path, extra: &str) -> String {
    format!(
        "profile = \"python\"\nyam_dir = '{}'\npython = '{}'\n{extra}",
        yam.display(),
        bins.python.display()
    )
}

/// Logs in to the stand-in: the `Cookie` header (session and remember cookie).
fn yam_login(url: &str) -> anyhow::Result<String> {
    let r = reqwest::blocking::Client::new()
        .post(format!("{url}/login"))
        .json(&serde_json::json!({ "email": "admin@example.com", "password": "yam-password" }))
        .send()?;
    anyhow::ensure!(r.status().is_success(), "login: {}", r.status());
    Ok(r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; "))
}

async fn login_blocking(url: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || yam_login(&url)).await?
}

/// The stand-in run as `server.bat` runs YAM: no supervisor, killed and started again.
struct BareYam {
    yam: std::path::PathBuf,
    python: std::path::PathBuf,
    port: u16,
    child: Option<Child>,
}

impl BareYam {
    fn start(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.python)
            .current_dir(&self.yam)
            .args(["app/server.py", "--host", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args([
                "--mode",
                "web",
                "--no-reloader",
                "--allow-multiple-sessions",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        procs::wait_healthy(
            &format!("http://127.0.0.1:{}/api/health", self.port),
            Instant::now(),
            Duration::from_secs(30),
        )?;
        Ok(())
    }

    /// `server.bat`: kill python, then start it again.
    fn kill_and_start(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.start()
    }
}

impl Drop for BareYam {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn restarts_under_load(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let n = if plan.rounds > 1 { 10 } else { 2 };
    runtime()?.block_on(async {
        // The built-in server: the socket handed over vs the old stop-then-start.
        let mut embedded = Vec::new();
        for (extra, rounds) in [("", plan.rounds), ("restart_mode = \"direct\"\n", 1)] {
            let s = launch(bins, "bench-restarts", extra).await?;
            let (url, password) = (s.url.clone(), s.password.clone());
            let cookie = tokio::task::spawn_blocking(move || {
                let mut c = yam_testkit::Client::new(&url);
                c.login("admin", &password);
                format!("yam_session={}", c.cookie.unwrap_or_default())
            })
            .await?;
            let port = s.port;
            let restarts = || supervised_restarts(&s.sup);
            embedded.push(under_load(bins, port, &cookie, (n, rounds), restarts).await?);
            s.shutdown().await;
        }
        rows_for(
            "built-in server",
            n,
            &embedded[0],
            &[("stop then start", embedded[1].overall().1)],
            rows,
        );

        // A Python YAM with signed-cookie sessions: the door vs stop-then-start vs server.bat.
        let mut python = Vec::new();
        for (extra, rounds) in [("", plan.rounds), ("restart_mode = \"direct\"\n", 1)] {
            let dir = tempfile::tempdir()?;
            let yam = yam_folder(dir.path())?;
            let s = launch(bins, "bench-restarts", &python_settings(bins, &yam, extra)).await?;
            let cookie = login_blocking(s.url.clone()).await?;
            let port = s.port;
            let restarts = || supervised_restarts(&s.sup);
            python.push(under_load(bins, port, &cookie, (n, rounds), restarts).await?);
            s.shutdown().await;
        }
        let dir = tempfile::tempdir()?;
        let bare = std::sync::Arc::new(std::sync::Mutex::new(BareYam {
            yam: yam_folder(dir.path())?,
            python: bins.python.clone(),
            port: procs::free_port(),
            child: None,
        }));
        let port = bare.lock().map_err(|_| anyhow::anyhow!("lock"))?.port;
        let b = std::sync::Arc::clone(&bare);
        tokio::task::spawn_blocking(move || b.lock().map_err(|_| anyhow::anyhow!("lock"))?.start())
            .await??;
        let cookie = login_blocking(format!("http://127.0.0.1:{port}")).await?;
        let bat = under_load(bins, port, &cookie, (n, 1), || {
            let b = std::sync::Arc::clone(&bare);
            async move {
                tokio::task::spawn_blocking(move || {
                    b.lock()
                        .map_err(|_| anyhow::anyhow!("lock"))?
                        .kill_and_start()
                })
                .await?
            }
        })
        .await?;
        drop(bare);
        rows_for(
            "Python YAM (signed cookies)",
            n,
            &python[0],
            &[
                ("stop then start", python[1].overall().1),
                ("server.bat", bat.overall().1),
            ],
            rows,
        );
        Ok::<(), anyhow::Error>(())
    })?;
    door_cost(bins, plan, rows)
}

/// Authenticated GET through the door / straight to the same Flask app (wrk, one after the
/// other, `plan.rounds` times each; medians).
fn door_cost(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let rt = runtime()?;
    let dir = tempfile::tempdir()?;
    let yam = yam_folder(dir.path())?;
    let supervised = rt.block_on(launch(bins, "bench-door", &python_settings(bins, &yam, "")))?;
    let door_url = supervised.url.clone();
    let bare_dir = tempfile::tempdir()?;
    let mut bare = BareYam {
        yam: yam_folder(bare_dir.path())?,
        python: bins.python.clone(),
        port: procs::free_port(),
        child: None,
    };
    bare.start()?;
    let direct_url = format!("http://127.0.0.1:{}", bare.port);
    let session = |cookies: String| {
        cookies
            .split("; ")
            .find_map(|c| c.strip_prefix("yam_session=").map(str::to_owned))
            .unwrap_or_default()
    };
    let door_cookie = session(yam_login(&door_url)?);
    let direct_cookie = session(yam_login(&direct_url)?);
    let path = "/api/session/time-remaining";
    let (mut door, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..plan.rounds.max(1) {
        direct.push(wrk::run(
            &format!("{direct_url}{path}"),
            Some(&direct_cookie),
            8,
            plan.run,
        )?);
        door.push(wrk::run(
            &format!("{door_url}{path}"),
            Some(&door_cookie),
            8,
            plan.run,
        )?);
    }
    drop(bare);
    rt.block_on(supervised.shutdown());
    let median_of = |runs: &[wrk::WrkResult], f: fn(&wrk::WrkResult) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        quantile(&mut v, 0.5)
    };
    let (door_rps, direct_rps) = (median_of(&door, |r| r.rps), median_of(&direct, |r| r.rps));
    let ratio = door_rps / direct_rps.max(0.001);
    rows.push(Row::new(
        "Authenticated GET through the door / straight to the same Flask app (wrk, 8 connections)",
        format!("{door_rps:.0} req/s"),
        format!("{direct_rps:.0} req/s"),
        format!("{ratio:.2}×"),
        "≥ 0.8×",
        Some(ratio >= 0.8),
    ));
    let added_us = (median_of(&door, |r| r.p50_ms) - median_of(&direct, |r| r.p50_ms)) * 1000.0;
    rows.push(Row::info(
        "Latency the door adds (p50, same runs)",
        format!("{added_us:.0} µs"),
    ));
    Ok(())
}
