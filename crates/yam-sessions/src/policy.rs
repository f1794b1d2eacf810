//! Session policy: lifetimes, renewal and displacement. Pure: the caller passes "now".

use std::time::Duration;

use crate::record::{ClientInfo, FORMAT_VERSION, SessionMode, SessionRecord, UserId};
use crate::time::Timestamp;

pub const MULTIPLE_LIFETIME: Duration = Duration::from_secs(4 * 3600);
pub const SINGLE_LIFETIME: Duration = Duration::from_secs(2 * 3600);
/// A renewal is written to disk at most this often per session.
pub const PERSIST_INTERVAL: Duration = Duration::from_secs(60);

/// How a request uses its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read-only probes (`/api/session/time-remaining`, `/api/server-info`, status checks): an
    /// idle tab that only polls its countdown must still expire, so these never renew.
    Probe,
    /// Anything a person does: renews the sliding expiry.
    Activity,
}

/// New `last_seen` and `expires_at` for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renewal {
    pub last_seen: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    pub mode: SessionMode,
    pub multiple_lifetime: Duration,
    pub single_lifetime: Duration,
    pub persist_interval: Duration,
}

impl SessionPolicy {
    pub fn new(mode: SessionMode) -> Self {
        Self {
            mode,
            multiple_lifetime: MULTIPLE_LIFETIME,
            single_lifetime: SINGLE_LIFETIME,
            persist_interval: PERSIST_INTERVAL,
        }
    }

    /// The lifetime really applied to new sessions and renewals under the current mode.
    pub fn lifetime(&self) -> Duration {
        match self.mode {
            SessionMode::Multiple => self.multiple_lifetime,
            SessionMode::Single => self.single_lifetime,
        }
    }

    /// In single-session mode a login ends the user's other sessions.
    pub fn login_displaces_others(&self) -> bool {
        self.mode == SessionMode::Single
    }

    pub fn new_record(
        &self,
        user_id: UserId,
        username: &str,
        client: ClientInfo,
        now: Timestamp,
        epoch: &str,
    ) -> SessionRecord {
        SessionRecord {
            version: FORMAT_VERSION,
            user_id,
            username: username.to_owned(),
            created: now,
            last_seen: now,
            expires_at: now.plus(self.lifetime()),
            mode: self.mode,
            epoch: epoch.to_owned(),
            client,
            data: Default::default(),
        }
    }

    /// The renewal a request earns. A mode switch does not end sessions: the new lifetime simply
    /// applies from the next renewal (which may shorten a 4 h session to 2 h).
    pub fn renewal(
        &self,
        record: &SessionRecord,
        now: Timestamp,
        access: Access,
    ) -> Option<Renewal> {
        if access == Access::Probe || record.is_expired(now) {
            return None;
        }
        Some(Renewal {
            last_seen: now,
            expires_at: now.plus(self.lifetime()),
        })
    }

    /// Whether an in-memory renewal should be written now, given when the file was last written.
    pub fn persist_due(&self, last_written: Timestamp, now: Timestamp) -> bool {
        last_written.plus(self.persist_interval) <= now
    }
}

/// An id for one server start, recorded in every session it creates.
pub fn new_epoch(now: Timestamp) -> String {
    let mut salt = [0u8; 4];
    // An epoch only needs to differ between starts; the time alone nearly guarantees that.
    let _ = getrandom::fill(&mut salt);
    format!("{:x}-{}", now.as_millis(), hex::encode(salt))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn record(policy: &SessionPolicy) -> SessionRecord {
        policy.new_record(1, "alice", ClientInfo::default(), T0, "e")
    }

    #[test]
    fn lifetimes_per_mode() {
        let multi = SessionPolicy::new(SessionMode::Multiple);
        let single = SessionPolicy::new(SessionMode::Single);
        assert_eq!(
            record(&multi).expires_at,
            T0.plus(Duration::from_secs(4 * 3600))
        );
        assert_eq!(
            record(&single).expires_at,
            T0.plus(Duration::from_secs(2 * 3600))
        );
        assert!(single.login_displaces_others());
        assert!(!multi.login_displaces_others());
    }

    #[test]
    fn probes_never_renew_and_activity_slides() {
        let p = SessionPolicy::new(SessionMode::Multiple);
        let r = record(&p);
        let later = T0.plus(Duration::from_secs(3 * 3600));
        assert_eq!(p.renewal(&r, later, Access::Probe), None);
        let renewed = p.renewal(&r, later, Access::Activity).expect("renews");
        assert_eq!(renewed.last_seen, later);
        assert_eq!(renewed.expires_at, later.plus(MULTIPLE_LIFETIME));
    }

    #[test]
    fn an_expired_session_is_not_brought_back() {
        let p = SessionPolicy::new(SessionMode::Single);
        let r = record(&p);
        assert_eq!(p.renewal(&r, r.expires_at, Access::Activity), None);
    }

    #[test]
    fn mode_switch_applies_new_lifetime_at_next_renewal() {
        let r = record(&SessionPolicy::new(SessionMode::Multiple));
        let single = SessionPolicy::new(SessionMode::Single);
        let now = T0.plus(Duration::from_secs(60));
        let renewed = single.renewal(&r, now, Access::Activity).expect("renews");
        assert_eq!(renewed.expires_at, now.plus(SINGLE_LIFETIME));
    }

    #[test]
    fn persistence_at_most_once_a_minute() {
        let p = SessionPolicy::new(SessionMode::Multiple);
        assert!(!p.persist_due(T0, T0.plus(Duration::from_secs(59))));
        assert!(p.persist_due(T0, T0.plus(Duration::from_secs(60))));
    }

    #[test]
    fn epochs_differ() {
        assert_ne!(new_epoch(T0), new_epoch(T0));
    }
}
