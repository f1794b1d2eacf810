//! The steady load the restart measurements run: about 200 requests a second from 4 clients
//! (2 on a new connection each time, 2 keep-alive, each pausing 20 ms), in a process of their
//! own (`yam-bench-load`) as a team's browsers are — inside the supervisor's process they
//! shared its forks for each new server — repeated in rounds, since one p99 of ~700 requests
//! (the 7 slowest) moves a lot between rounds on a shared machine.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::procs::Bins;
use crate::report::quantile;

/// What the clients saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    pub requests: usize,
    pub refused: usize,
    pub failed: usize,
    pub p99_ms: f64,
}

struct SteadyLoad {
    child: Child,
}

impl SteadyLoad {
    fn start(bins: &Bins, port: u16, cookie: &str) -> anyhow::Result<Self> {
        let exe = format!("yam-bench-load{}", std::env::consts::EXE_SUFFIX);
        let child = Command::new(bins.dir.join(exe))
            .args([
                &format!("127.0.0.1:{port}"),
                "/api/session/time-remaining",
                cookie,
                "2",
                "2",
                "20",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        Ok(Self { child })
    }

    /// Stops the clients: what they saw.
    fn stop(mut self) -> anyhow::Result<Seen> {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let count = |k: &str| v[k].as_u64().map_or(0, |n| n as usize);
        let mut latencies: Vec<f64> = v["latencies_ms"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default();
        Ok(Seen {
            requests: count("requests"),
            refused: count("refused"),
            failed: count("failed"),
            p99_ms: quantile(&mut latencies, 0.99),
        })
    }
}

/// Rounds of (idle, during restarts).
#[derive(Clone, Debug, Default)]
pub struct Rounds(pub Vec<(Seen, Seen)>);

impl Rounds {
    /// (idle, during) over every round: the counts summed, each p99 the median of the rounds'.
    pub fn overall(&self) -> (Seen, Seen) {
        let over = |pick: fn(&(Seen, Seen)) -> Seen| {
            let seen: Vec<Seen> = self.0.iter().map(pick).collect();
            let mut p99s: Vec<f64> = seen.iter().map(|s| s.p99_ms).collect();
            Seen {
                requests: seen.iter().map(|s| s.requests).sum(),
                refused: seen.iter().map(|s| s.refused).sum(),
                failed: seen.iter().map(|s| s.failed).sum(),
                p99_ms: quantile(&mut p99s, 0.5),
            }
        };
        (over(|r| r.0), over(|r| r.1))
    }

    /// Each round's p99 during restarts over its idle p99.
    pub fn ratios(&self) -> Vec<f64> {
        self.0
            .iter()
            .map(|(idle, during)| during.p99_ms / idle.p99_ms.max(0.001))
            .collect()
    }
}

/// `rounds` times: the load while idle, then while `restart` runs `n` times.
pub async fn under_load<F, Fut>(
    bins: &Bins,
    port: u16,
    cookie: &str,
    (n, rounds): (usize, usize),
    mut restart: F,
) -> anyhow::Result<Rounds>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut all = Rounds::default();
    for _ in 0..rounds.max(1) {
        let idle = SteadyLoad::start(bins, port, cookie)?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle = tokio::task::spawn_blocking(move || idle.stop()).await??;
        let load = SteadyLoad::start(bins, port, cookie)?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        for _ in 0..n {
            restart().await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let during = tokio::task::spawn_blocking(move || load.stop()).await??;
        all.0.push((idle, during));
    }
    Ok(all)
}
