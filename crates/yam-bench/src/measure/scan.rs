//! Full rescans of session folders (warm cache), against the Python way of doing it.

use std::process::Command;
use std::time::Instant;

use super::Plan;
use crate::procs::Bins;
use crate::report::{Row, median};

/// The watcher's periodic rescan: unchanged files cost one stat, not a read.
fn watcher_rescan_ms(dir: &std::path::Path, rounds: usize) -> f64 {
    let mut scanner = yam_supervisor::watcher::Scanner::default();
    let _ = scanner.scan(dir, yam_supervisor::watcher::Depth::Full);
    let mut times: Vec<f64> = (0..rounds.max(3))
        .map(|_| {
            let t = Instant::now();
            let (found, read) = scanner.scan(dir, yam_supervisor::watcher::Depth::Quick);
            assert!(!found.is_empty() && read == 0);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    median(&mut times)
}

fn scan_ms(dir: &std::path::Path, rounds: usize) -> f64 {
    let _ = yam_supervisor::watcher::scan_dir(dir);
    let mut times: Vec<f64> = (0..rounds.max(3))
        .map(|_| {
            let t = Instant::now();
            let found = yam_supervisor::watcher::scan_dir(dir);
            assert!(!found.is_empty());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    median(&mut times)
}

pub fn rescans(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ten_k = if plan.big >= 100_000 {
        10_000
    } else {
        plan.big / 2
    };
    let one_k = ten_k / 10;
    let tiny = dir.path().join("1k");
    crate::fixtures::yam_sessions(&tiny, one_k, 50)?;
    let small = dir.path().join("10k");
    crate::fixtures::yam_sessions(&small, ten_k, 50)?;
    let big = dir.path().join("100k");
    crate::fixtures::yam_sessions(&big, plan.big, 50)?;
    let flask = dir.path().join("flask10k");
    crate::fixtures::flask_sessions(&flask, ten_k)?;

    let ours_tiny = scan_ms(&tiny, plan.rounds);
    let watcher_tiny = watcher_rescan_ms(&tiny, plan.rounds);
    let ours_small = scan_ms(&small, plan.rounds);
    let watcher_small = watcher_rescan_ms(&small, plan.rounds);
    let watcher_big = watcher_rescan_ms(&big, plan.rounds);
    let ours_big = scan_ms(&big, plan.rounds);
    let ours_flask = scan_ms(&flask, plan.rounds);
    let out = Command::new(&bins.python)
        .arg(yam_testkit::fixture("flask_app/scan_headers.py"))
        .arg(&flask)
        .arg(plan.rounds.max(3).to_string())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let python: f64 = text
        .split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("scan_headers.py: {text}"))?;
    rows.push(Row::new(
        &format!(
            "Full rescan of {}k session files, every file opened and parsed (warm page cache)",
            ten_k / 1000
        ),
        format!("{ours_small:.1} ms"),
        "—".into(),
        "—".into(),
        "≤ 40 ms",
        Some(ours_small <= 40.0),
    ));
    rows.push(Row::new(
        &format!(
            "Full rescan of {}k Flask-Session files: ours / Python header scan + unpickle",
            ten_k / 1000
        ),
        format!("{ours_flask:.1} ms"),
        format!("{python:.1} ms"),
        if python >= ours_flask {
            format!("{:.1}× faster", python / ours_flask)
        } else {
            format!("{:.1}× slower", ours_flask / python)
        },
        "—",
        None,
    ));
    rows.push(Row::new(
        &format!(
            "Full rescan of {}k session files, every file opened and parsed (warm page cache)",
            plan.big / 1000
        ),
        format!("{ours_big:.1} ms"),
        "—".into(),
        "—".into(),
        "≤ 400 ms",
        Some(ours_big <= 400.0),
    ));
    let k = |n: usize| format!("{}k", n as f64 / 1000.0);
    rows.push(Row::info(
        &format!(
            "Rescan as sessions grow, full (every file read) at {} / {} / {}",
            k(one_k),
            k(ten_k),
            k(plan.big)
        ),
        format!("{ours_tiny:.1} ms / {ours_small:.1} ms / {ours_big:.1} ms"),
    ));
    rows.push(Row::info(
        &format!(
            "Rescan as sessions grow, the watcher's periodic one (unchanged inode: listed, not read) at {} / {} / {}",
            k(one_k),
            k(ten_k),
            k(plan.big)
        ),
        format!("{watcher_tiny:.1} ms / {watcher_small:.1} ms / {watcher_big:.1} ms"),
    ));
    Ok(())
}
