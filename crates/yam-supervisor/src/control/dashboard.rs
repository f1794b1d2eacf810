//! Dashboard sessions: what the browser's cookie holds instead of the control token. Each is
//! a random secret, revocable (logout), forgotten after a day without use and at restart.
//! Pure: time is passed in. Only a hash of each secret is kept.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A dashboard left alone this long must be opened with the link again.
pub const IDLE_LIMIT: Duration = Duration::from_secs(24 * 3600);
/// Bound on sessions kept (each login makes one; the oldest go first).
const MAX_SESSIONS: usize = 64;

type Digest32 = [u8; 32];

fn digest(secret: &str) -> Digest32 {
    Sha256::digest(secret.as_bytes()).into()
}

#[derive(Debug, Default)]
pub struct DashboardSessions {
    last_used: HashMap<Digest32, Instant>,
}

impl DashboardSessions {
    /// A new session; its secret goes into the cookie.
    pub fn open(&mut self, now: Instant) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        self.forget_idle(now);
        if self.last_used.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .last_used
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| *k)
        {
            self.last_used.remove(&oldest);
        }
        self.last_used.insert(digest(&secret), now);
        Ok(secret)
    }

    /// Whether `secret` is a live session (and marks it used).
    pub fn check(&mut self, secret: &str, now: Instant) -> bool {
        self.forget_idle(now);
        match self.last_used.get_mut(&digest(secret)) {
            Some(at) => {
                *at = now;
                true
            }
            None => false,
        }
    }

    /// Ends one session; whether it existed.
    pub fn revoke(&mut self, secret: &str) -> bool {
        self.last_used.remove(&digest(secret)).is_some()
    }

    fn forget_idle(&mut self, now: Instant) {
        self.last_used
            .retain(|_, at| now.saturating_duration_since(*at) < IDLE_LIMIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_revocable_and_expire_when_idle() {
        let t0 = Instant::now();
        let mut s = DashboardSessions::default();
        let a = s.open(t0).expect("rng");
        let b = s.open(t0).expect("rng");
        assert_ne!(a, b);
        assert!(a.len() >= 43);
        assert!(s.check(&a, t0 + Duration::from_secs(60)));
        assert!(!s.check("forged", t0));
        assert!(s.revoke(&a));
        assert!(!s.check(&a, t0));
        assert!(s.check(&b, t0 + IDLE_LIMIT - Duration::from_secs(1)));
        assert!(
            !s.check(&b, t0 + IDLE_LIMIT * 2),
            "a day without use ends it"
        );
    }

    #[test]
    fn the_number_kept_is_bounded() {
        let t0 = Instant::now();
        let mut s = DashboardSessions::default();
        let first = s.open(t0).expect("rng");
        for i in 1..=MAX_SESSIONS {
            s.open(t0 + Duration::from_secs(i as u64)).expect("rng");
        }
        assert_eq!(s.last_used.len(), MAX_SESSIONS);
        assert!(
            !s.check(&first, t0 + Duration::from_secs(100)),
            "the oldest went"
        );
    }
}
