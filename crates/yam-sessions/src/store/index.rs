//! The in-memory index shared by both backends: key → record, user → keys, damaged keys.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::{SessionCounts, SessionSummary};
use crate::id::SessionKey;
use crate::policy::Renewal;
use crate::record::{DamageKind, SessionRecord, UserId};
use crate::time::Timestamp;

/// What identifies one version of a file on disk; zero for the memory backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub len: u64,
    pub mtime_ns: i128,
    pub ino: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub record: Arc<SessionRecord>,
    /// `last_seen` of the version last written to storage.
    pub persisted_last_seen: Timestamp,
    pub stamp: FileStamp,
}

impl Entry {
    pub fn written(record: SessionRecord, stamp: FileStamp) -> Self {
        Self {
            persisted_last_seen: record.last_seen,
            record: Arc::new(record),
            stamp,
        }
    }

    fn is_dirty(&self) -> bool {
        self.record.last_seen > self.persisted_last_seen
    }
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    entries: HashMap<SessionKey, Entry>,
    by_user: HashMap<UserId, HashSet<SessionKey>>,
    damaged: HashMap<SessionKey, DamageKind>,
}

impl Index {
    pub fn get(&self, key: &SessionKey) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn contains(&self, key: &SessionKey) -> bool {
        self.entries.contains_key(key) || self.damaged.contains_key(key)
    }

    pub fn insert(&mut self, key: SessionKey, entry: Entry) {
        self.damaged.remove(&key);
        let user = entry.record.user_id;
        if let Some(old) = self.entries.insert(key, entry)
            && old.record.user_id != user
        {
            self.unlink_user(old.record.user_id, &key);
        }
        self.by_user.entry(user).or_default().insert(key);
    }

    pub fn remove(&mut self, key: &SessionKey) -> bool {
        let damaged = self.damaged.remove(key).is_some();
        match self.entries.remove(key) {
            Some(old) => {
                self.unlink_user(old.record.user_id, key);
                true
            }
            None => damaged,
        }
    }

    pub fn set_damaged(&mut self, key: SessionKey, kind: DamageKind) {
        if let Some(old) = self.entries.remove(&key) {
            self.unlink_user(old.record.user_id, &key);
        }
        self.damaged.insert(key, kind);
    }

    fn unlink_user(&mut self, user: UserId, key: &SessionKey) {
        if let Some(keys) = self.by_user.get_mut(&user) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_user.remove(&user);
            }
        }
    }

    /// Applies a renewal in memory; false when the session is gone.
    pub fn touch(&mut self, key: &SessionKey, renewal: Renewal) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        // Two requests may race; the later renewal wins and time never runs backwards.
        if renewal.last_seen >= entry.record.last_seen {
            let record = Arc::make_mut(&mut entry.record);
            record.last_seen = renewal.last_seen;
            record.expires_at = renewal.expires_at;
        }
        true
    }

    pub fn mark_persisted(&mut self, key: &SessionKey, last_seen: Timestamp, stamp: FileStamp) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.persisted_last_seen = entry.persisted_last_seen.max(last_seen);
            entry.stamp = stamp;
        }
    }

    pub fn dirty_keys(&self, written_before: Timestamp) -> Vec<SessionKey> {
        self.entries
            .iter()
            .filter(|(_, e)| e.is_dirty() && e.persisted_last_seen <= written_before)
            .map(|(k, _)| *k)
            .collect()
    }

    pub fn keys(&self) -> Vec<SessionKey> {
        self.entries
            .keys()
            .chain(self.damaged.keys())
            .copied()
            .collect()
    }

    pub fn user_keys(&self, user: UserId) -> Vec<SessionKey> {
        self.by_user
            .get(&user)
            .map(|keys| keys.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn expired_keys(&self, now: Timestamp) -> Vec<SessionKey> {
        self.entries
            .iter()
            .filter(|(_, e)| e.record.is_expired(now))
            .map(|(k, _)| *k)
            .collect()
    }

    pub fn summaries<'a>(
        &'a self,
        keys: impl Iterator<Item = &'a SessionKey>,
    ) -> Vec<SessionSummary> {
        keys.filter_map(|k| {
            self.entries.get(k).map(|e| SessionSummary {
                key: *k,
                record: Arc::clone(&e.record),
            })
        })
        .collect()
    }

    pub fn all_summaries(&self) -> Vec<SessionSummary> {
        self.summaries(self.entries.keys())
    }

    pub fn user_summaries(&self, user: UserId) -> Vec<SessionSummary> {
        match self.by_user.get(&user) {
            Some(keys) => self.summaries(keys.iter()),
            None => Vec::new(),
        }
    }

    pub fn counts(&self, now: Timestamp, soon: Duration) -> SessionCounts {
        let soon_limit = now.plus(soon);
        let mut counts = SessionCounts {
            damaged: self.damaged.len(),
            ..SessionCounts::default()
        };
        for entry in self.entries.values() {
            let r = &entry.record;
            if r.is_expired(now) {
                continue;
            }
            counts.live += 1;
            *counts.per_user.entry(r.user_id).or_default() += 1;
            if r.expires_at <= soon_limit {
                counts.expiring_soon += 1;
            }
        }
        counts.users = counts.per_user.len();
        counts
    }
}
