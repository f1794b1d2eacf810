//! Renewals this server has seen but not yet written to Redis, and what Redis last held for
//! the sessions it read. The session manager decides when a renewal is due (at most once a
//! minute per session); this only remembers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::id::SessionKey;
use crate::policy::Renewal;
use crate::record::SessionRecord;
use crate::time::Timestamp;

/// A renewal whose stored expiry is this close is written at the next flush whatever the
/// policy says: Redis drops the session at its stored expiry.
const URGENT: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// `seen` and `exp` as Redis holds them.
    stored_seen: Timestamp,
    stored_expires: Timestamp,
    pending: Option<Renewal>,
}

impl Entry {
    fn stored(seen: Timestamp, expires: Timestamp) -> Self {
        Self {
            stored_seen: seen,
            stored_expires: expires,
            pending: None,
        }
    }

    fn latest_seen(&self) -> Timestamp {
        self.pending
            .map_or(self.stored_seen, |p| p.last_seen.max(self.stored_seen))
    }

    /// Records what Redis holds now; a pending renewal it already covers is dropped.
    fn store(&mut self, seen: Timestamp, expires: Timestamp) {
        self.stored_seen = seen;
        self.stored_expires = expires;
        if self.pending.is_some_and(|p| p.last_seen <= seen) {
            self.pending = None;
        }
    }
}

#[derive(Default)]
pub struct Known {
    entries: Mutex<HashMap<SessionKey, Entry>>,
}

impl Known {
    /// The session was just written with these times.
    pub fn written(&self, key: SessionKey, record: &SessionRecord) {
        self.persisted(key, record.last_seen, record.expires_at);
    }

    pub fn persisted(&self, key: SessionKey, seen: Timestamp, expires: Timestamp) {
        self.entries
            .lock()
            .entry(key)
            .and_modify(|e| e.store(seen, expires))
            .or_insert(Entry::stored(seen, expires));
    }

    /// The session as read from Redis, with this server's newer pending renewal applied.
    pub fn loaded(&self, key: SessionKey, record: Arc<SessionRecord>) -> Arc<SessionRecord> {
        let mut entries = self.entries.lock();
        let entry = entries
            .entry(key)
            .and_modify(|e| e.store(record.last_seen, record.expires_at))
            .or_insert(Entry::stored(record.last_seen, record.expires_at));
        match entry.pending {
            Some(p) if p.last_seen > record.last_seen => {
                let mut record = record;
                let r = Arc::make_mut(&mut record);
                r.last_seen = p.last_seen;
                r.expires_at = p.expires_at;
                record
            }
            _ => record,
        }
    }

    /// Keeps a renewal for the next flush; false when the session is not known here (the
    /// caller asks Redis). An older renewal arriving late changes nothing.
    pub fn renew(&self, key: &SessionKey, renewal: Renewal) -> bool {
        let mut entries = self.entries.lock();
        let Some(entry) = entries.get_mut(key) else {
            return false;
        };
        if renewal.last_seen > entry.latest_seen() {
            entry.pending = Some(renewal);
        }
        true
    }

    /// Pending renewals of sessions last written at or before `written_before`, and those
    /// whose stored expiry is near.
    pub fn due(&self, written_before: Timestamp) -> Vec<(SessionKey, Renewal)> {
        self.entries
            .lock()
            .iter()
            .filter_map(|(key, e)| {
                let p = e.pending?;
                let urgent = e.stored_expires <= p.last_seen.plus(URGENT);
                (e.stored_seen <= written_before || urgent).then_some((*key, p))
            })
            .collect()
    }

    pub fn forget(&self, key: &SessionKey) {
        self.entries.lock().remove(key);
    }

    pub fn forget_all(&self, keys: &[SessionKey]) {
        let mut entries = self.entries.lock();
        for key in keys {
            entries.remove(key);
        }
    }

    pub fn clear(&self) {
        self.entries.lock().clear();
    }

    /// Forgets sessions with nothing pending: memory stays proportional to recent activity.
    pub fn prune(&self) {
        self.entries.lock().retain(|_, e| e.pending.is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = Timestamp(1_800_000_000_000);
    const HOUR: Duration = Duration::from_secs(3600);

    fn key(n: u8) -> SessionKey {
        SessionKey::parse_hex(&format!("{n:02x}").repeat(32)).expect("key")
    }

    fn renewal(at: Timestamp) -> Renewal {
        Renewal {
            last_seen: at,
            expires_at: at.plus(4 * HOUR),
        }
    }

    #[test]
    fn renewals_wait_for_the_policy_unless_the_stored_expiry_is_near() {
        let known = Known::default();
        known.persisted(key(1), T, T.plus(4 * HOUR));
        known.persisted(key(2), T, T.plus(Duration::from_secs(60)));
        let later = T.plus(Duration::from_secs(30));
        assert!(known.renew(&key(1), renewal(later)));
        assert!(known.renew(&key(2), renewal(later)));
        let due: Vec<_> = known.due(T.minus(Duration::from_secs(1)));
        assert_eq!(due.iter().map(|d| d.0).collect::<Vec<_>>(), vec![key(2)]);
        assert_eq!(known.due(T).len(), 2);
    }

    #[test]
    fn time_never_runs_backwards_and_unknown_sessions_are_asked_about() {
        let known = Known::default();
        assert!(!known.renew(&key(1), renewal(T)));
        known.persisted(key(1), T, T.plus(HOUR));
        assert!(known.renew(&key(1), renewal(T.minus(Duration::from_secs(5)))));
        assert!(known.due(T).is_empty());
        known.renew(&key(1), renewal(T.plus(Duration::from_secs(90))));
        known.persisted(key(1), T.plus(Duration::from_secs(90)), T.plus(5 * HOUR));
        assert!(known.due(Timestamp(i64::MAX)).is_empty());
        known.prune();
        assert!(!known.renew(&key(1), renewal(T.plus(HOUR))));
    }
}
