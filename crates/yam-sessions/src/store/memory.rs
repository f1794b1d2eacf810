//! `MemoryStore`: the same contract without a disk, for tests and ephemeral servers.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use super::index::{Entry, FileStamp, Index};
use super::{
    Loaded, Quarantined, Saved, SessionCounts, SessionStore, SessionSummary, StoreError,
    create_with_unique_id,
};
use crate::id::{SessionId, SessionKey};
use crate::policy::Renewal;
use crate::record::{SessionRecord, UserId};
use crate::time::Timestamp;

#[derive(Default)]
pub struct MemoryStore {
    index: RwLock<Index>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl SessionStore for MemoryStore {
    fn create(&self, record: SessionRecord) -> Result<SessionId, StoreError> {
        create_with_unique_id(|id| {
            let key = id.key();
            let mut index = self.index.write();
            if index.contains(&key) {
                return Ok(false);
            }
            index.insert(key, Entry::written(record.clone(), FileStamp::default()));
            Ok(true)
        })
    }

    fn load(&self, key: &SessionKey) -> Result<Loaded, StoreError> {
        Ok(match self.index.read().get(key) {
            Some(entry) => Loaded::Found(Arc::clone(&entry.record)),
            None => Loaded::Missing,
        })
    }

    fn replace(&self, key: &SessionKey, record: SessionRecord) -> Result<Saved, StoreError> {
        let mut index = self.index.write();
        if !index.contains(key) {
            return Ok(Saved::Gone);
        }
        index.insert(*key, Entry::written(record, FileStamp::default()));
        Ok(Saved::Written)
    }

    fn touch(&self, key: &SessionKey, renewal: Renewal) -> Result<Saved, StoreError> {
        Ok(if self.index.write().touch(key, renewal) {
            Saved::Written
        } else {
            Saved::Gone
        })
    }

    fn flush_renewals(&self, written_before: Timestamp) -> Result<usize, StoreError> {
        let mut index = self.index.write();
        let keys = index.dirty_keys(written_before);
        for key in &keys {
            if let Some(last_seen) = index.get(key).map(|e| e.record.last_seen) {
                index.mark_persisted(key, last_seen, FileStamp::default());
            }
        }
        Ok(keys.len())
    }

    fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        Ok(self.index.write().remove(key))
    }

    fn list(&self) -> Result<Vec<SessionSummary>, StoreError> {
        Ok(self.index.read().all_summaries())
    }

    fn list_by_user(&self, user_id: UserId) -> Result<Vec<SessionSummary>, StoreError> {
        Ok(self.index.read().user_summaries(user_id))
    }

    fn delete_by_user(
        &self,
        user_id: UserId,
        keep: Option<&SessionKey>,
    ) -> Result<Vec<SessionKey>, StoreError> {
        let mut index = self.index.write();
        let keys: Vec<_> = index
            .user_keys(user_id)
            .into_iter()
            .filter(|k| Some(k) != keep)
            .collect();
        for key in &keys {
            index.remove(key);
        }
        Ok(keys)
    }

    fn delete_all(&self) -> Result<usize, StoreError> {
        let mut index = self.index.write();
        let n = index.keys().len();
        *index = Index::default();
        Ok(n)
    }

    fn counts(&self, now: Timestamp, soon: Duration) -> Result<SessionCounts, StoreError> {
        Ok(self.index.read().counts(now, soon))
    }

    fn purge_expired(&self, now: Timestamp) -> Result<Vec<SessionKey>, StoreError> {
        let mut index = self.index.write();
        let keys = index.expired_keys(now);
        for key in &keys {
            index.remove(key);
        }
        Ok(keys)
    }

    fn quarantine(&self, key: &SessionKey) -> Result<Quarantined, StoreError> {
        self.index.write().remove(key);
        Ok(Quarantined::Removed)
    }

    fn load_cached(&self, key: &SessionKey) -> Option<Loaded> {
        self.load(key).ok()
    }
}
