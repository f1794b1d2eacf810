//! `cargo xtask bench`: measures our system against the stack YAM runs today, in the same
//! run on the same machine, and prints (and writes) one table.
//!
//! Usage: yam-bench --bin-dir DIR --python PATH [--smoke] [--out BENCHMARKS.md] [--only STEP]

mod fixtures;
mod measure;
mod procs;
mod report;
mod wrk;

use std::path::PathBuf;

use measure::Plan;
use procs::Bins;
use report::Row;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let absolute = |p: PathBuf| {
        if p.is_absolute() {
            p
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        }
    };
    let bins = Bins {
        dir: absolute(PathBuf::from(
            arg(&args, "--bin-dir").unwrap_or_else(|| "target/release".into()),
        )),
        python: absolute(
            arg(&args, "--python")
                .map(PathBuf::from)
                .unwrap_or_else(yam_testkit::flask_python),
        ),
    };
    let plan = if smoke { Plan::smoke() } else { Plan::full() };
    let mut rows: Vec<Row> = Vec::new();
    type Step = fn(&Bins, Plan, &mut Vec<Row>) -> anyhow::Result<()>;
    let steps: [(&str, Step); 11] = [
        ("throughput against the peers", measure::http::throughput),
        (
            "login latency and latency under login load",
            measure::http::logins,
        ),
        (
            "session counts and restarts (supervisor)",
            measure::supervisor::counts_and_restart,
        ),
        ("rescans", measure::scan::rescans),
        ("start-up and memory", measure::server::startup_and_memory),
        ("yamctl up idle", measure::supervisor::yamctl_idle),
        ("yam-tray idle", measure::tray::idle),
        ("throughput as sessions grow", measure::http::growth),
        (
            "sessions in Redis, several instances behind nginx",
            measure::shared::redis_and_instances,
        ),
        (
            "restarts under load, and the door's cost",
            measure::restarts::restarts_under_load,
        ),
        (
            "sessions seen at the door (signed cookies)",
            measure::door::sessions_at_door,
        ),
    ];
    let only = arg(&args, "--only");
    for (name, step) in steps {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        eprintln!("bench: {name}…");
        step(&bins, plan, &mut rows)?;
    }
    let table = report::table(&rows);
    println!("{table}");
    if let Some(out) = arg(&args, "--out") {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let date = yam_sessions::Timestamp::to_rfc3339(yam_sessions::Clock::now(
            &yam_sessions::SystemClock,
        ));
        let read = |f: &str| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .trim_end()
                .to_owned()
        };
        let text = format!(
            "{}\n\nMeasured {} on this machine: {cores} cores.\n\n{table}\n{}\n",
            read("BENCHMARKS.head.md"),
            &date[..10],
            read("BENCHMARKS.notes.md"),
        );
        std::fs::write(&out, text)?;
        eprintln!("bench: wrote {out}");
    }
    let missed = rows.iter().filter(|r| r.met == Some(false)).count();
    if smoke {
        eprintln!(
            "bench smoke: every step ran ({} rows; targets are judged only in the full run)",
            rows.len()
        );
    } else if missed > 0 {
        eprintln!("bench: {missed} target(s) not met — see BENCHMARKS.md for the measured reasons");
    }
    Ok(())
}
