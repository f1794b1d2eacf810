//! One file per group of metrics.

pub mod door;
pub mod http;
pub mod restarts;
pub mod scan;
pub mod server;
pub mod shared;
mod steady_load;
pub mod supervisor;
pub mod tray;

use std::time::Duration;

/// How long and how often to measure: the full bench, or a seconds-long smoke in CI.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub run: Duration,
    pub rounds: usize,
    pub big: usize,
    pub logins: usize,
    pub idle: Duration,
}

impl Plan {
    pub fn full() -> Self {
        Self {
            run: Duration::from_secs(5),
            rounds: 3,
            big: 100_000,
            logins: 40,
            idle: Duration::from_secs(10),
        }
    }

    pub fn smoke() -> Self {
        Self {
            run: Duration::from_secs(1),
            rounds: 1,
            big: 2_000,
            logins: 3,
            idle: Duration::from_secs(1),
        }
    }
}
