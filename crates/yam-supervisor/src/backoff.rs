//! Restart policy: capped exponential backoff, reset after a stable period, crash-loop limits.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Running healthy this long forgives earlier crashes.
    pub stable_after: Duration,
    pub crash_window: Duration,
    /// This many exits within `crash_window` is a crash loop.
    pub max_crashes_in_window: usize,
    pub startup_timeout: Duration,
    /// Failed health checks in a row before the server counts as unhealthy.
    pub unhealthy_after: u32,
    /// A retiring server's requests get this long to finish before it is asked to stop
    /// (requests through the door; the built-in server drains by itself).
    pub drain: Duration,
    /// Time between the stop request and killing the tree (after `drain`).
    pub stop_grace: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            crash_window: Duration::from_secs(120),
            max_crashes_in_window: 5,
            startup_timeout: Duration::from_secs(30),
            unhealthy_after: 3,
            drain: Duration::from_secs(5),
            stop_grace: Duration::from_secs(10),
        }
    }
}

impl RestartPolicy {
    /// Delay before restart number `consecutive` (1 = first crash): base, 2×base, 4×base … max.
    pub fn next_delay(&self, consecutive: u32) -> Duration {
        let doublings = consecutive.saturating_sub(1).min(20);
        self.base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        let p = RestartPolicy::default();
        let delays: Vec<u64> = (1..=7).map(|n| p.next_delay(n).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(p.next_delay(u32::MAX), Duration::from_secs(30));
    }
}
