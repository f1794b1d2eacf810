//! yam-tray idle under Xvfb: CPU and RSS of our process, window open and closed (hidden), with
//! its WebKit helper processes listed apart.

use std::process::Command;
use std::time::{Duration, Instant};

use super::Plan;
use crate::procs::{self, Bins};
use crate::report::Row;

struct Idle {
    cpu: f64,
    rss: f64,
    /// Heap, stacks and other anonymous memory: what the process itself allocated (the rest
    /// of RSS is library and program pages, shared and reclaimable).
    anon: f64,
    helpers: String,
}

fn measure(
    bins: &Bins,
    display: &yam_testkit::Display,
    hidden: bool,
    idle: Duration,
) -> anyhow::Result<Idle> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    yam_testkit::write_supervisor_settings(&config, procs::free_port(), "")?;
    let log_path = dir.path().join("yam-tray.log");
    let log = std::fs::File::create(&log_path)?;
    let mut cmd = Command::new(bins.path("yam-tray"));
    cmd.arg("--config")
        .arg(&config)
        .env("DISPLAY", display.name())
        .env("YAM_LOG", "info")
        .env("YAM_SERVER_BIN", bins.path("yam-server"))
        .stdout(log.try_clone()?)
        .stderr(log);
    if hidden {
        cmd.arg("--hidden");
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(8));
    if let Some(status) = child.try_wait()? {
        anyhow::bail!("yam-tray exited during the idle measurement ({status})");
    }
    let t0 = procs::cpu_ticks(pid).unwrap_or(0);
    let started = Instant::now();
    std::thread::sleep(idle);
    let t1 = procs::cpu_ticks(pid).unwrap_or(0);
    let cpu = (t1 - t0) as f64 / 100.0 / started.elapsed().as_secs_f64() * 100.0;
    let rss = procs::rss_bytes(pid).unwrap_or(0) as f64 / 1_048_576.0;
    let anon = procs::anon_bytes(pid).unwrap_or(0) as f64 / 1_048_576.0;
    let helpers: Vec<String> = yam_testkit::child_processes(pid)
        .into_iter()
        .filter(|(_, name)| name.starts_with("WebKit"))
        .map(|(p, name)| {
            format!(
                "{name} {:.0} MB",
                procs::rss_bytes(p).unwrap_or(0) as f64 / 1_048_576.0
            )
        })
        .collect();
    procs::stop_with_sigterm(&mut child, "yam-tray", &log_path)?;
    Ok(Idle {
        cpu,
        rss,
        anon,
        helpers: if helpers.is_empty() {
            "none".to_owned()
        } else {
            helpers.join(", ")
        },
    })
}

pub fn idle(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    // Each launch on its own fresh X server: GDK's first look at a display differs from later
    // ones, so sharing one would flatter the second measurement.
    let fresh = || yam_testkit::Display::start();
    let (first, second) = match (fresh(), fresh()) {
        (Ok(first), Ok(second)) => (first, second),
        (Err(e), _) | (_, Err(e)) => {
            rows.push(Row::info("`yam-tray` idle", format!("not measured: {e}")));
            return Ok(());
        }
    };
    let idle = plan.idle.max(Duration::from_secs(1));
    let open = measure(bins, &first, false, idle)?;
    // Started with --hidden: no window, the same state as after closing it (closing destroys
    // the window and its web page).
    let closed = measure(bins, &second, true, idle)?;
    rows.push(Row::new(
        "`yam-tray` idle, window closed: CPU / RSS of our process (anonymous memory)",
        format!(
            "{:.2}% / {:.0} MB ({:.0} MB anonymous)",
            closed.cpu, closed.rss, closed.anon
        ),
        format!("webview processes apart: {}", closed.helpers),
        "—".into(),
        "≤ 0.5% / ≤ 60 MB",
        Some(closed.cpu <= 0.5 && closed.rss <= 60.0),
    ));
    rows.push(Row::info(
        "`yam-tray` idle, window open: CPU / RSS of our process (anonymous memory)",
        format!(
            "{:.2}% / {:.0} MB ({:.0} MB anonymous); webview processes apart: {}",
            open.cpu, open.rss, open.anon, open.helpers
        ),
    ));
    Ok(())
}
