//! yam-server start-up with many sessions on disk, and its memory with 100,000.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Plan;
use crate::procs::{self, Bins};
use crate::report::{Row, median};

pub fn startup_and_memory(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let ten_k = if plan.big >= 100_000 {
        10_000
    } else {
        plan.big / 2
    };
    let dir = tempfile::tempdir()?;
    // A first start creates the users database; the measured starts find it.
    drop(procs::yam_server(bins, dir.path())?);
    crate::fixtures::yam_sessions(&dir.path().join("sessions"), ten_k, 50)?;
    let mut times = Vec::new();
    for _ in 0..plan.rounds.max(3) {
        let port = procs::free_port();
        let started = Instant::now();
        let mut child = Command::new(bins.path("yam-server"))
            .args([
                "--port",
                &port.to_string(),
                "--allow-multiple-sessions",
                "--data-dir",
            ])
            .arg(dir.path())
            .env("YAM_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let took = procs::wait_healthy(
            &format!("http://127.0.0.1:{port}/api/health"),
            started,
            Duration::from_secs(30),
        );
        let _ = child.kill();
        let _ = child.wait();
        times.push(took?.as_secs_f64() * 1000.0);
    }
    let t = median(&mut times);
    rows.push(Row::new(
        &format!(
            "yam-server start → first 200 from /api/health, {}k live sessions on disk",
            ten_k / 1000
        ),
        format!("{t:.0} ms"),
        "—".into(),
        "—".into(),
        "≤ 500 ms",
        Some(t <= 500.0),
    ));

    let big = tempfile::tempdir()?;
    crate::fixtures::yam_sessions(&big.path().join("sessions"), plan.big, 50)?;
    let server = procs::yam_server(bins, big.path())?;
    let _ = procs::yam_login(&server);
    std::thread::sleep(Duration::from_millis(500));
    let rss = procs::rss_bytes(server.pid()).unwrap_or(0) as f64 / 1_048_576.0;
    rows.push(Row::new(
        &format!("Server RSS with {}k live sessions", plan.big / 1000),
        format!("{rss:.0} MB"),
        "—".into(),
        "—".into(),
        "≤ 150 MB",
        Some(rss <= 150.0),
    ));
    Ok(())
}
