//! `FileStore`: one JSON file per session, an in-memory index built by one scan at open.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Mutex, RwLock};

use super::fsio::{
    self, QUARANTINE_DIR, ReadRefused, Replaced, is_temp_file_name, key_of_file_name,
    remove_if_present, session_path, stamp_of,
};
use super::index::{Entry, FileStamp, Index};
use super::{
    Loaded, Quarantined, Saved, SessionCounts, SessionStore, SessionSummary, StoreError,
    create_with_unique_id,
};
use crate::id::{SessionId, SessionKey};
use crate::policy::Renewal;
use crate::record::{Damage, DamageKind, MAX_RECORD_BYTES, SessionRecord, UserId};
use crate::time::Timestamp;

/// Writers of one session serialise on its stripe; different sessions rarely share one.
const STRIPES: usize = 64;
/// Temp files older than this are leftovers of a crash, not a write in progress.
const STALE_TEMP_AGE: Duration = Duration::from_secs(60);

/// What a scan of the sessions folder found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub sessions: usize,
    pub damaged: usize,
    /// Files that are not ours (`.gitkeep`, Flask-Session files…): ignored, never touched.
    pub foreign: usize,
    pub stale_temp_removed: usize,
    pub elapsed: Duration,
}

pub struct FileStore {
    dir: PathBuf,
    index: RwLock<Index>,
    stripes: Vec<Mutex<()>>,
}

impl FileStore {
    /// Opens (creating if needed) a sessions folder and indexes it. A folder that cannot be
    /// written is an error here rather than a failed login later.
    pub fn open(dir: impl Into<PathBuf>) -> Result<(Self, ScanReport), StoreError> {
        let dir = dir.into();
        fsio::create_private_dir(&dir).map_err(|e| StoreError::io("create", &dir, e))?;
        fsio::probe_writable(&dir).map_err(|e| StoreError::io("write to", &dir, e))?;
        let store = Self {
            dir,
            index: RwLock::new(Index::default()),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        };
        let report = store.rescan()?;
        Ok((store, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Rebuilds the index from the folder. Renewals not yet flushed are lost, so call
    /// `flush_renewals` first when the store has been in use.
    pub fn rescan(&self) -> Result<ScanReport, StoreError> {
        let started = Instant::now();
        let mut report = ScanReport::default();
        let mut index = Index::default();
        let entries = fs::read_dir(&self.dir).map_err(|e| StoreError::io("list", &self.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                report.foreign += 1;
                continue;
            };
            if is_temp_file_name(name) {
                if is_stale(&entry.path()) && remove_if_present(&entry.path()).unwrap_or(false) {
                    report.stale_temp_removed += 1;
                }
                continue;
            }
            let Some(key) = key_of_file_name(name) else {
                if name != QUARANTINE_DIR {
                    report.foreign += 1;
                }
                continue;
            };
            match read_record(&entry.path()) {
                Ok(Some((record, stamp))) => {
                    index.insert(key, Entry::written(record, stamp));
                    report.sessions += 1;
                }
                Ok(None) => {}
                Err(damage) => {
                    index.set_damaged(key, damage.kind);
                    report.damaged += 1;
                }
            }
        }
        *self.index.write() = index;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    fn stripe(&self, key: &SessionKey) -> parking_lot::MutexGuard<'_, ()> {
        self.stripes[key.stripe(STRIPES)].lock()
    }

    fn path(&self, key: &SessionKey) -> PathBuf {
        session_path(&self.dir, key)
    }

    fn create_file(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
    ) -> Result<FileStamp, StoreError> {
        fsio::create_atomically(&self.dir, key, &record.to_json())
            .map_err(|e| StoreError::io("write session file in", &self.dir, e))
    }

    /// Rewrites an existing session file (the caller holds its stripe). A file deleted by
    /// anyone, at any moment, stays deleted: the index forgets it and `None` comes back.
    fn rewrite(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
    ) -> Result<Option<FileStamp>, StoreError> {
        let written = fsio::replace_atomically(&self.dir, key, &record.to_json())
            .map_err(|e| StoreError::io("write session file in", &self.dir, e))?;
        Ok(match written {
            Replaced::Written(stamp) => Some(stamp),
            Replaced::Gone => {
                self.index.write().remove(key);
                None
            }
        })
    }

    /// The in-memory answer when the file on disk is the version indexed (one `lstat`, no
    /// stripe, no read); `None` when the file must be read.
    fn cached(&self, key: &SessionKey) -> Option<Loaded> {
        match fs::symlink_metadata(self.path(key)) {
            Ok(meta) => {
                let index = self.index.read();
                let entry = index.get(key)?;
                (entry.stamp == stamp_of(&meta)).then(|| Loaded::Found(Arc::clone(&entry.record)))
            }
            // Deleted outside the server while indexed: forgetting it needs the stripe.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                (!self.index.read().contains(key)).then_some(Loaded::Missing)
            }
            Err(_) => None,
        }
    }

    /// Slow path of `load`: the file changed behind our back or is not indexed yet.
    fn reload(&self, key: &SessionKey) -> Result<Loaded, StoreError> {
        let _guard = self.stripe(key);
        let path = self.path(key);
        // A writer may have finished while we waited for the stripe.
        if let Ok(meta) = fs::symlink_metadata(&path)
            && let Some(entry) = self.index.read().get(key)
            && entry.stamp == stamp_of(&meta)
        {
            return Ok(Loaded::Found(Arc::clone(&entry.record)));
        }
        match read_record(&path) {
            Ok(Some((record, stamp))) => {
                let record = Arc::new(record);
                let mut index = self.index.write();
                index.insert(
                    *key,
                    Entry {
                        persisted_last_seen: record.last_seen,
                        record: Arc::clone(&record),
                        stamp,
                    },
                );
                Ok(Loaded::Found(record))
            }
            Ok(None) => {
                self.index.write().remove(key);
                Ok(Loaded::Missing)
            }
            Err(damage) => {
                self.index.write().set_damaged(*key, damage.kind.clone());
                Ok(Loaded::Damaged(damage))
            }
        }
    }

    fn delete_locked(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let path = self.path(key);
        let removed = remove_if_present(&path).map_err(|e| StoreError::io("delete", &path, e))?;
        let indexed = self.index.write().remove(key);
        Ok(removed || indexed)
    }

    fn delete_keys(&self, keys: &[SessionKey]) -> Result<Vec<SessionKey>, StoreError> {
        let mut deleted = Vec::with_capacity(keys.len());
        for key in keys {
            let _guard = self.stripe(key);
            if self.delete_locked(key)? {
                deleted.push(*key);
            }
        }
        Ok(deleted)
    }
}

/// Reads and parses one session file. `Ok(None)`: the file is gone. Links, FIFOs, devices and
/// folders named like a session are damage, never opened for reading.
fn read_record(path: &Path) -> Result<Option<(SessionRecord, FileStamp)>, Damage> {
    match fsio::read_regular(path, MAX_RECORD_BYTES) {
        Ok(None) => Ok(None),
        Ok(Some((bytes, meta))) => {
            let record = SessionRecord::from_json(&bytes)?;
            Ok(Some((record, stamp_of(&meta))))
        }
        Err(ReadRefused::NotRegular(kind)) => {
            Err(Damage::new(DamageKind::NotRegularFile(kind), None))
        }
        Err(ReadRefused::TooLarge(n)) => Err(Damage::new(DamageKind::TooLarge(n), None)),
        Err(ReadRefused::Io(e)) => Err(Damage::new(
            DamageKind::Unreadable(e.kind().to_string()),
            None,
        )),
    }
}

/// An old temp file of ours (a crash's leftover), judged by the entry itself, never a target.
fn is_stale(path: &Path) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age >= STALE_TEMP_AGE)
}

impl SessionStore for FileStore {
    fn create(&self, record: SessionRecord) -> Result<SessionId, StoreError> {
        create_with_unique_id(|id| {
            let key = id.key();
            let _guard = self.stripe(&key);
            if self.index.read().contains(&key) || self.path(&key).exists() {
                return Ok(false);
            }
            // The login's success response promises the session survives a crash: sync the
            // folder too, so the rename is durable.
            let stamp = self.create_file(&key, &record)?;
            self.index
                .write()
                .insert(key, Entry::written(record.clone(), stamp));
            Ok(true)
        })
    }

    fn load(&self, key: &SessionKey) -> Result<Loaded, StoreError> {
        if let Some(loaded) = self.cached(key) {
            return Ok(loaded);
        }
        let path = self.path(key);
        if !path.exists() && fs::symlink_metadata(&path).is_err() {
            // Deleted outside the server (an admin emptied the folder): the session ended.
            let _guard = self.stripe(key);
            if fs::symlink_metadata(&path).is_err() {
                self.index.write().remove(key);
            }
            return Ok(Loaded::Missing);
        }
        self.reload(key)
    }

    fn load_cached(&self, key: &SessionKey) -> Option<Loaded> {
        self.cached(key)
    }

    fn replace(&self, key: &SessionKey, record: SessionRecord) -> Result<Saved, StoreError> {
        let _guard = self.stripe(key);
        let Some(stamp) = self.rewrite(key, &record)? else {
            return Ok(Saved::Gone);
        };
        self.index
            .write()
            .insert(*key, Entry::written(record, stamp));
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
        let keys = self.index.read().dirty_keys(written_before);
        let mut written = 0;
        for key in keys {
            let _guard = self.stripe(&key);
            let Some(record) = self.index.read().get(&key).map(|e| Arc::clone(&e.record)) else {
                continue;
            };
            if let Some(stamp) = self.rewrite(&key, &record)? {
                self.index
                    .write()
                    .mark_persisted(&key, record.last_seen, stamp);
                written += 1;
            }
        }
        Ok(written)
    }

    fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let _guard = self.stripe(key);
        self.delete_locked(key)
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
        let keys: Vec<_> = self
            .index
            .read()
            .user_keys(user_id)
            .into_iter()
            .filter(|k| Some(k) != keep)
            .collect();
        self.delete_keys(&keys)
    }

    fn delete_all(&self) -> Result<usize, StoreError> {
        let mut keys = self.index.read().keys();
        // Files written by another process since the last scan end too.
        if let Ok(entries) = fs::read_dir(&self.dir) {
            keys.extend(
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(key_of_file_name)),
            );
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(self.delete_keys(&keys)?.len())
    }

    fn counts(&self, now: Timestamp, soon: Duration) -> Result<SessionCounts, StoreError> {
        Ok(self.index.read().counts(now, soon))
    }

    fn purge_expired(&self, now: Timestamp) -> Result<Vec<SessionKey>, StoreError> {
        let keys = self.index.read().expired_keys(now);
        let mut deleted = Vec::new();
        for key in keys {
            let _guard = self.stripe(&key);
            let still_expired = self
                .index
                .read()
                .get(&key)
                .is_some_and(|e| e.record.is_expired(now));
            if still_expired && self.delete_locked(&key)? {
                deleted.push(key);
            }
        }
        Ok(deleted)
    }

    fn quarantine(&self, key: &SessionKey) -> Result<Quarantined, StoreError> {
        let _guard = self.stripe(key);
        let from = self.path(key);
        let qdir = match fsio::quarantine_dir(&self.dir) {
            Ok(q) => q,
            Err(why) => {
                // Never move a session out of the folder: leave it and say why.
                tracing::warn!(session = %key.short(), "Damaged session left in place: {why}");
                self.index.write().remove(key);
                return Ok(Quarantined::LeftInPlace);
            }
        };
        let millis = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let to = qdir.join(format!("{}.json.{millis}", key.to_hex()));
        let outcome = match fsio::retry_while_shared(|| fs::rename(&from, &to)) {
            Ok(()) => Quarantined::Moved,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Quarantined::Moved,
            // Could not keep a copy (e.g. another volume): still take it out of service.
            Err(_) => {
                remove_if_present(&from).map_err(|e| StoreError::io("delete", &from, e))?;
                Quarantined::Removed
            }
        };
        self.index.write().remove(key);
        Ok(outcome)
    }
}
