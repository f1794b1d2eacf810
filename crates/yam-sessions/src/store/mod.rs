//! The `SessionStore` trait and its backends.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::id::{SessionId, SessionKey};
use crate::policy::Renewal;
use crate::record::{Damage, SessionRecord, UserId};
use crate::time::Timestamp;

mod file;
mod fsio;
mod index;
mod memory;
mod redis;

pub use file::{FileStore, ScanReport};
#[cfg(unix)]
pub use fsio::SAFE_OPEN_FLAGS;
pub use fsio::{
    QUARANTINE_DIR, ReadRefused, check_regular, is_link_refusal, is_session_file_name, not_regular,
    open_without_following, read_bounded, read_regular, retry_while_shared,
};
pub use memory::MemoryStore;
pub use redis::{
    DEFAULT_PREFIX, IndexEntry, RecordSeal, RedisStore, Verdict, counts_of, glob_escape, redact,
};

/// How many times `create` draws a new id when the first one is already taken.
const CREATE_ATTEMPTS: usize = 4;

/// What [`SessionStore::load_async`] returns.
pub type LoadFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<Loaded, StoreError>> + Send + 'a>>;

/// The result of looking a session up.
#[derive(Clone, Debug, PartialEq)]
pub enum Loaded {
    /// The record as stored (it may be expired: the caller decides what that means).
    Found(Arc<SessionRecord>),
    Missing,
    /// The session exists but cannot be used as it is.
    Damaged(Damage),
}

/// What became of a damaged session taken out of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quarantined {
    /// Moved to the quarantine folder for inspection.
    Moved,
    /// Deleted (no copy could be kept).
    Removed,
    /// Left where it is: the quarantine folder is unusable (a link, a file).
    LeftInPlace,
}

impl Quarantined {
    pub fn describe(self) -> &'static str {
        match self {
            Quarantined::Moved => "moved to quarantine",
            Quarantined::Removed => "deleted",
            Quarantined::LeftInPlace => "left in place (the quarantine folder cannot be used)",
        }
    }
}

/// The result of a write to an existing session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// The session was deleted meanwhile; nothing was written (no resurrection).
    Gone,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not {action} {}: {cause}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        /// Part of the message rather than `source()`, so an error chain prints it once.
        cause: io::Error,
    },
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    #[error("could not find an unused session id after {CREATE_ATTEMPTS} attempts")]
    IdExhausted,
    /// A shared store (Redis) is not answering: down, restarting, unreachable.
    #[error("{store} is not answering: {cause}")]
    Unavailable { store: String, cause: String },
    /// A shared store answered with an error that is not about reaching it.
    #[error("{0}")]
    Backend(String),
    /// The users database is not answering, so a session's user cannot be checked.
    #[error("the users database is not answering: {0}")]
    UsersUnavailable(String),
    /// The store's address or settings are wrong (found when the store is opened).
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    /// The folder refuses writes (read-only, no permission, disk or quota full): a condition
    /// outside the server that passes once the folder is fixed, not a bug.
    pub fn is_unwritable(&self) -> bool {
        matches!(self, Self::Io { cause, .. } if matches!(
            cause.kind(),
            io::ErrorKind::PermissionDenied
                | io::ErrorKind::ReadOnlyFilesystem
                | io::ErrorKind::StorageFull
                | io::ErrorKind::QuotaExceeded
        ))
    }

    /// A shared store cannot be reached right now; it passes by itself once it is back.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    pub fn is_users_unavailable(&self) -> bool {
        matches!(self, Self::UsersUnavailable(_))
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            cause: source,
        }
    }
}

/// A session as listed to admins: its non-secret key and its record.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSummary {
    pub key: SessionKey,
    pub record: Arc<SessionRecord>,
}

/// Counts over live (unexpired) sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionCounts {
    pub live: usize,
    pub users: usize,
    pub per_user: BTreeMap<UserId, usize>,
    pub expiring_soon: usize,
    pub damaged: usize,
}

/// Storage for sessions. The folder and memory stores keep an in-memory index so that counts
/// and per-user lookups never read every session per request; a shared store (Redis) answers
/// them from per-user sets and an expiry-ordered index, and may fail to answer at all.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session under a fresh, unused id and returns that id.
    fn create(&self, record: SessionRecord) -> Result<SessionId, StoreError>;
    /// `create`, then deletes the user's other sessions (single session mode); returns the new
    /// id and the keys deleted. A shared store does both in one atomic step, so two logins on
    /// two servers at once leave exactly one session; a local store relies on the caller
    /// serialising logins of one user.
    fn create_displacing(
        &self,
        record: SessionRecord,
    ) -> Result<(SessionId, Vec<SessionKey>), StoreError> {
        let user_id = record.user_id;
        let id = self.create(record)?;
        let displaced = self.delete_by_user(user_id, Some(&id.key()))?;
        Ok((id, displaced))
    }
    /// Whether several servers share this store (their sessions and its failures).
    fn is_shared(&self) -> bool {
        false
    }
    /// Records why sessions ended, for the other servers sharing the store (kept `keep`);
    /// a local store keeps nothing (the session manager remembers in memory).
    fn record_end(
        &self,
        keys: &[SessionKey],
        reason: &'static str,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let _ = (keys, reason, keep);
        Ok(())
    }
    /// Why a session ended, when a server sharing the store recorded it.
    fn end_reason(&self, key: &SessionKey) -> Result<Option<String>, StoreError> {
        let _ = key;
        Ok(None)
    }
    /// Whether the store answers (a shared store may be down); local stores always do.
    fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn load(&self, key: &SessionKey) -> Result<Loaded, StoreError>;
    /// `load` answered from memory, or `None` when storage must be read (the caller then
    /// calls `load` where blocking is fine).
    fn load_cached(&self, key: &SessionKey) -> Option<Loaded> {
        let _ = key;
        None
    }
    /// `load` without blocking a thread, for stores that read over the network (Redis);
    /// `None` when the store has no such path (the caller reads on a blocking thread).
    fn load_async(&self, key: SessionKey) -> Option<LoadFuture<'_>> {
        let _ = key;
        None
    }
    /// Overwrites an existing (possibly damaged) session; never re-creates a deleted one.
    fn replace(&self, key: &SessionKey, record: SessionRecord) -> Result<Saved, StoreError>;
    /// Records a renewal in memory; [`SessionStore::flush_renewals`] persists it later.
    fn touch(&self, key: &SessionKey, renewal: Renewal) -> Result<Saved, StoreError>;
    /// Persists renewals of sessions last written at or before `written_before`.
    fn flush_renewals(&self, written_before: Timestamp) -> Result<usize, StoreError>;
    /// Returns whether a session existed.
    fn delete(&self, key: &SessionKey) -> Result<bool, StoreError>;
    /// All indexed sessions, expired ones included.
    fn list(&self) -> Result<Vec<SessionSummary>, StoreError>;
    fn list_by_user(&self, user_id: UserId) -> Result<Vec<SessionSummary>, StoreError>;
    /// Deletes the user's sessions except `keep`; returns the keys deleted.
    fn delete_by_user(
        &self,
        user_id: UserId,
        keep: Option<&SessionKey>,
    ) -> Result<Vec<SessionKey>, StoreError>;
    /// Deletes every session, damaged ones included; returns how many were deleted.
    fn delete_all(&self) -> Result<usize, StoreError>;
    /// Counts live sessions; `soon` sets what "expiring soon" means.
    fn counts(&self, now: Timestamp, soon: Duration) -> Result<SessionCounts, StoreError>;
    /// Deletes expired sessions; returns the keys deleted.
    fn purge_expired(&self, now: Timestamp) -> Result<Vec<SessionKey>, StoreError>;
    /// Takes a damaged session out of service, keeping a copy for inspection where possible.
    fn quarantine(&self, key: &SessionKey) -> Result<Quarantined, StoreError>;
}

impl From<crate::manager::DirectoryUnavailable> for StoreError {
    fn from(e: crate::manager::DirectoryUnavailable) -> Self {
        Self::UsersUnavailable(e.0)
    }
}

/// Draws ids until `try_insert` accepts one.
pub(crate) fn create_with_unique_id(
    mut try_insert: impl FnMut(&SessionId) -> Result<bool, StoreError>,
) -> Result<SessionId, StoreError> {
    for _ in 0..CREATE_ATTEMPTS {
        let id = SessionId::generate().map_err(|e| StoreError::Rng(e.to_string()))?;
        if try_insert(&id)? {
            return Ok(id);
        }
    }
    Err(StoreError::IdExhausted)
}
