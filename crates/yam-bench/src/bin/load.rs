//! A steady load in a process of its own, as browsers are: the restart measurements run it
//! beside the supervisor instead of inside it, so the supervisor starting a server (a fork of
//! its own process) does not stall the clients that measure it.
//!
//! Usage: yam-bench-load ADDR PATH COOKIE FRESH KEEP_ALIVE PAUSE_MS — runs until its stdin
//! closes (or a line comes), then prints one JSON line: the counts and every answered
//! request's latency in milliseconds.

use std::io::BufRead as _;
use std::time::Duration;

use yam_testkit::{Load, LoadOptions};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, path, cookie, fresh, keep_alive, pause_ms] = args.as_slice() else {
        anyhow::bail!("usage: yam-bench-load ADDR PATH COOKIE FRESH KEEP_ALIVE PAUSE_MS");
    };
    let load = Load::start(&LoadOptions {
        addr: addr.parse()?,
        path: path.clone(),
        cookie: cookie.clone(),
        fresh: fresh.parse()?,
        keep_alive: keep_alive.parse()?,
        pause: Duration::from_millis(pause_ms.parse()?),
    });
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let report = load.stop();
    let summary = report.summary(&[]);
    let latencies: Vec<f64> = report
        .outcomes
        .iter()
        .filter(|o| o.result.is_ok())
        .map(|o| (o.ended - o.started).as_secs_f64() * 1000.0)
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "requests": summary.total,
            "refused": summary.refused,
            "failed": summary.failed + summary.logged_out,
            "latencies_ms": latencies,
        })
    );
    Ok(())
}
