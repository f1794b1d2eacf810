//! Time as the session engine sees it: Unix milliseconds and an injectable clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(millis(d)))
    }

    pub fn minus(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(millis(d)))
    }

    /// Time from `self` until `later`, zero when `later` is not later.
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }

    /// As the people in front of this computer read it: its local time with the zone's offset,
    /// "14:43 on Mon 7 Dec, UTC+01:00" (never raw UTC). Shown by the server's pages and yamctl.
    pub fn to_local_words(self) -> String {
        use chrono::{Local, TimeZone};
        match Local.timestamp_millis_opt(self.0).single() {
            Some(t) => {
                let offset = t.format("%:z").to_string();
                let zone = if offset == "+00:00" {
                    "UTC".to_owned()
                } else {
                    format!("UTC{offset}")
                };
                format!("{} on {}, {zone}", t.format("%H:%M"), t.format("%a %-d %b"))
            }
            None => self.to_rfc3339(),
        }
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-27T18:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let t = if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_millis(self.0.unsigned_abs())
        } else {
            UNIX_EPOCH
        };
        humantime::format_rfc3339_millis(t).to_string()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Where "now" comes from. Production uses [`SystemClock`]; tests use [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(millis(since))
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.0)))
    }

    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(millis(d), Ordering::SeqCst);
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_name_their_zone() {
        let text = Timestamp::from_secs(1_796_614_980).to_local_words();
        // "14:43 on Mon 7 Dec, UTC+01:00": a clock time, a day, and the zone.
        assert_eq!(&text[2..3], ":", "{text}");
        assert!(text.contains(" on "), "{text}");
        assert!(text.contains(", UTC"), "{text}");
        assert!(!text.contains('Z'), "{text}");
    }

    #[test]
    fn arithmetic_saturates_and_formats() {
        let t = Timestamp::from_secs(1_800_000_000);
        assert_eq!(t.plus(Duration::from_secs(60)).as_secs(), 1_800_000_060);
        assert_eq!(t.until(t.minus(Duration::from_secs(5))), Duration::ZERO);
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(i64::MAX).plus(Duration::from_secs(1)),
            Timestamp(i64::MAX)
        );
    }

    #[test]
    fn manual_clock_is_shared_between_clones() {
        let a = ManualClock::new(Timestamp(1000));
        let b = a.clone();
        a.advance(Duration::from_millis(500));
        assert_eq!(b.now(), Timestamp(1500));
    }
}
