//! Crash bookkeeping: backoff between automatic restarts, the crash-loop window, and episodes
//! (from a crash until the server has run stable again) so only the first crash and the first
//! recovery of an episode are news. Pure: time is passed in.

use std::collections::VecDeque;
use std::time::Duration;

use crate::backoff::RestartPolicy;

/// What to do after a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Restart after `delay`; `nth` crash of the current episode (1 = news).
    Retry { delay: Duration, nth: u32 },
    /// Too many exits in the window: stop retrying.
    Loop,
}

#[derive(Debug, Default)]
pub(super) struct CrashRecord {
    consecutive: u32,
    recent: VecDeque<Duration>,
    /// Crashes since the server last ran stable; 0 = no episode.
    episode: u32,
    /// The episode's recovery was announced.
    recovery_announced: bool,
}

impl CrashRecord {
    /// The admin decided to try again: earlier crashes are forgotten.
    pub(super) fn forgive(&mut self) {
        *self = Self::default();
    }

    /// A server crashed at `now`; `ran_stable`: it had been healthy for `stable_after`.
    pub(super) fn crashed(
        &mut self,
        policy: &RestartPolicy,
        now: Duration,
        ran_stable: bool,
    ) -> Verdict {
        if ran_stable {
            self.consecutive = 0;
            self.end_episode();
        }
        self.consecutive += 1;
        self.episode += 1;
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_sub(*t) > policy.crash_window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= policy.max_crashes_in_window {
            return Verdict::Loop;
        }
        Verdict::Retry {
            delay: policy.next_delay(self.consecutive),
            nth: self.episode,
        }
    }

    /// A server became healthy: `Some((crashes, repeat))` when that ends crashes of this
    /// episode (`repeat`: the episode's recovery was already announced).
    pub(super) fn recovered(&mut self) -> Option<(u32, bool)> {
        if self.episode == 0 {
            return None;
        }
        let repeat = std::mem::replace(&mut self.recovery_announced, true);
        Some((self.episode, repeat))
    }

    /// The server has run stable: the next crash is news again.
    pub(super) fn settle(&mut self) {
        if self.episode > 0 {
            self.end_episode();
        }
    }

    fn end_episode(&mut self) {
        self.episode = 0;
        self.recovery_announced = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn delays_grow_until_a_stable_run_and_the_window_fills_to_a_loop() {
        let policy = RestartPolicy::default();
        let mut r = CrashRecord::default();
        assert_eq!(
            r.crashed(&policy, s(0), false),
            Verdict::Retry {
                delay: s(1),
                nth: 1
            }
        );
        assert_eq!(
            r.crashed(&policy, s(2), false),
            Verdict::Retry {
                delay: s(2),
                nth: 2
            }
        );
        assert_eq!(r.recovered(), Some((2, false)));
        assert_eq!(r.recovered(), Some((2, true)), "announced once");
        assert_eq!(
            r.crashed(&policy, s(300), true),
            Verdict::Retry {
                delay: s(1),
                nth: 1
            },
            "a stable run forgives"
        );
        let mut r = CrashRecord::default();
        let verdicts: Vec<Verdict> = (0..5).map(|i| r.crashed(&policy, s(i), false)).collect();
        assert_eq!(verdicts[4], Verdict::Loop);
        r.forgive();
        assert!(matches!(
            r.crashed(&policy, s(6), false),
            Verdict::Retry { nth: 1, .. }
        ));
    }
}
