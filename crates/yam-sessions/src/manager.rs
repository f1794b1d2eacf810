//! `SessionManager`: login, authentication, renewal, displacement and damage repair on top
//! of any `SessionStore`. No HTTP in here; the server maps outcomes to responses.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::id::{SessionId, SessionKey};
use crate::policy::{Access, SessionPolicy};
use crate::record::{ClientInfo, Damage, SessionMode, SessionRecord, UserId};
use crate::store::{Loaded, Saved, SessionCounts, SessionStore, StoreError};
use crate::time::{Clock, Timestamp};

/// Reasons remembered for ended sessions are bounded so a flood of logins cannot grow memory.
const MAX_TOMBSTONES: usize = 200_000;
/// Logins of one user serialise on one of these (single session mode: create + displace).
const LOGIN_STRIPES: usize = 16;

/// A user as far as sessions care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
    pub is_active: bool,
}

/// The users database could not say whether a user exists (it is not answering). A session is
/// never ended for this: the request is answered 503 and the session kept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DirectoryUnavailable(pub String);

/// Where sessions check that their user still exists (and under which name).
pub trait UserDirectory: Send + Sync + 'static {
    /// `Ok(None)`: no such user (any more).
    fn lookup(&self, id: UserId) -> Result<Option<UserInfo>, DirectoryUnavailable>;
    /// `lookup` from memory only; `None` when the answer needs storage (a cache miss).
    fn lookup_cached(&self, id: UserId) -> Option<UserInfo> {
        self.lookup(id).ok().flatten()
    }
}

/// Why a session is not (or no longer) valid; sent to clients as `reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    LoggedOut,
    Displaced,
    Revoked,
    ForceLogout,
    Expired,
    Damaged,
    UserInvalid,
    /// Unknown id: never issued, from before a `clear` restart, or ended and forgotten.
    Unknown,
    /// One request carried valid sessions of two different users: one cookie was set by
    /// someone else (a planted cookie). Both sessions are ended.
    Ambiguous,
    /// The user logged in more often than the per-user cap allows: the oldest session ends.
    SessionLimit,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::LoggedOut => "logged_out",
            EndReason::Displaced => "displaced",
            EndReason::Revoked => "revoked",
            EndReason::ForceLogout => "force_logout",
            EndReason::Expired => "expired",
            EndReason::Damaged => "damaged",
            EndReason::UserInvalid => "user_invalid",
            EndReason::Unknown => "unknown",
            EndReason::Ambiguous => "ambiguous_session",
            EndReason::SessionLimit => "session_limit",
        }
    }

    /// The reason named by [`EndReason::as_str`] (from a query string, or recorded by another
    /// server in a shared store).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            EndReason::LoggedOut,
            EndReason::Displaced,
            EndReason::Revoked,
            EndReason::ForceLogout,
            EndReason::Expired,
            EndReason::Damaged,
            EndReason::UserInvalid,
            EndReason::Unknown,
            EndReason::Ambiguous,
            EndReason::SessionLimit,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }

    pub fn message(self) -> &'static str {
        match self {
            EndReason::LoggedOut => "You have logged out. Please log in again.",
            EndReason::Displaced => {
                "Your session ended because you logged in somewhere else (single session mode)."
            }
            EndReason::Revoked => "An administrator ended your session. Please log in again.",
            EndReason::ForceLogout => "An administrator logged everyone out. Please log in again.",
            EndReason::Expired => "Your session has expired. Please log in again.",
            EndReason::Damaged => {
                "Your session could not be read and was reset. Please log in again."
            }
            EndReason::UserInvalid => {
                "Your account is no longer active. Please contact an administrator."
            }
            EndReason::Unknown => "Your session is no longer valid. Please log in again.",
            EndReason::Ambiguous => {
                "Your browser sent two different sessions, one of them set by someone else; \
                 both were ended. Please log in again."
            }
            EndReason::SessionLimit => {
                "Your session ended because your account signed in on more devices than a user \
                 may keep at once; the oldest session ends first. Please log in again."
            }
        }
    }
}

/// A request's valid session.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub key: SessionKey,
    pub record: Arc<SessionRecord>,
    pub user: UserInfo,
}

#[derive(Clone, Debug)]
pub enum AuthOutcome {
    Valid(Authenticated),
    Rejected(EndReason),
}

#[derive(Clone, Debug)]
pub struct Login {
    pub id: SessionId,
    pub key: SessionKey,
    pub record: SessionRecord,
    /// Sessions of the same user ended by this login (single session mode).
    pub displaced: usize,
}

#[derive(Clone, Debug)]
pub struct ManagerSettings {
    pub mode: SessionMode,
    pub conflict_resolution: bool,
    pub epoch: String,
    /// Live sessions one user may have (multiple session mode); a login beyond it ends the
    /// oldest. At least 1.
    pub max_sessions_per_user: usize,
}

/// A team's user has a few browsers and devices; a script logging in in a loop has hundreds.
pub const DEFAULT_MAX_SESSIONS_PER_USER: usize = 30;

pub struct SessionManager {
    store: Arc<dyn SessionStore>,
    users: Arc<dyn UserDirectory>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
    conflict_resolution: bool,
    epoch: String,
    max_sessions_per_user: usize,
    tombstones: Mutex<HashMap<SessionKey, (EndReason, Timestamp)>>,
    login_stripes: Vec<Mutex<()>>,
}

/// How much work `authenticate` may do.
#[derive(Clone, PartialEq)]
enum Work {
    /// Anything, storage included (a blocking thread).
    Full,
    /// Memory only: give up (`None`) where storage would be touched (an async worker).
    MemoryOnly,
    /// The session was read already (without blocking); the rest in memory only.
    Read(Loaded),
}

impl SessionManager {
    pub fn new(
        store: Arc<dyn SessionStore>,
        users: Arc<dyn UserDirectory>,
        clock: Arc<dyn Clock>,
        settings: ManagerSettings,
    ) -> Self {
        Self {
            store,
            users,
            clock,
            policy: SessionPolicy::new(settings.mode),
            conflict_resolution: settings.conflict_resolution,
            epoch: settings.epoch,
            max_sessions_per_user: settings.max_sessions_per_user.max(1),
            tombstones: Mutex::new(HashMap::new()),
            login_stripes: (0..LOGIN_STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    pub fn conflict_resolution(&self) -> bool {
        self.conflict_resolution
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn time_remaining(&self, record: &SessionRecord) -> Duration {
        self.now().until(record.expires_at)
    }

    /// Starts a session for an authenticated user. In single session mode the user's other
    /// sessions end with reason "displaced"; two logins of one user at once are serialised,
    /// so exactly one of them survives. In multiple session mode a login beyond the per-user
    /// cap ends the oldest sessions ("session_limit").
    pub fn login(&self, user: &UserInfo, client: ClientInfo) -> Result<Login, StoreError> {
        let stripe = usize::try_from(user.id.rem_euclid(LOGIN_STRIPES as i64)).unwrap_or(0);
        let _serialised = self.login_stripes[stripe].lock();
        let now = self.now();
        let record = self
            .policy
            .new_record(user.id, &user.username, client, now, &self.epoch);
        let (id, displaced) = if self.policy.login_displaces_others() {
            // Remembered before they go, so a request racing the login hears "displaced".
            let others: Vec<_> = self
                .store
                .list_by_user(user.id)?
                .into_iter()
                .map(|s| s.key)
                .collect();
            self.remember(&others, EndReason::Displaced);
            let (id, displaced) = self.store.create_displacing(record.clone())?;
            // Sessions created meanwhile on another server are displaced too (those already
            // remembered are not recorded twice).
            let unseen: Vec<_> = displaced
                .iter()
                .filter(|k| !others.contains(k))
                .copied()
                .collect();
            self.remember(&unseen, EndReason::Displaced);
            (id, displaced.len())
        } else {
            let id = self.store.create(record.clone())?;
            self.end_beyond_cap(user.id, id.key())?;
            (id, 0)
        };
        let key = id.key();
        Ok(Login {
            id,
            key,
            record,
            displaced,
        })
    }

    /// Ends the user's oldest sessions beyond the cap (never `newest`, the one just created).
    fn end_beyond_cap(&self, user_id: UserId, newest: SessionKey) -> Result<(), StoreError> {
        let mut sessions = self.store.list_by_user(user_id)?;
        if sessions.len() <= self.max_sessions_per_user {
            return Ok(());
        }
        // Newest first; the one just created leads whatever its clock says.
        sessions.sort_by_key(|s| (s.key != newest, std::cmp::Reverse(s.record.created)));
        let beyond: Vec<SessionKey> = sessions
            .iter()
            .skip(self.max_sessions_per_user)
            .map(|s| s.key)
            .collect();
        for key in &beyond {
            self.end(key, EndReason::SessionLimit)?;
        }
        Ok(())
    }

    /// Checks a cookie value and applies the renewal the access earns.
    pub fn authenticate(&self, cookie: &str, access: Access) -> Result<AuthOutcome, StoreError> {
        Ok(self
            .authenticate_with(cookie, access, Work::Full)?
            .unwrap_or(AuthOutcome::Rejected(EndReason::Unknown)))
    }

    /// `authenticate` without touching storage: `None` when the answer needs it (a file to
    /// read, a session to end or repair, a user to look up), for the caller to run
    /// `authenticate` where blocking is fine. The common case (a known, valid session) is
    /// answered here.
    pub fn authenticate_in_memory(
        &self,
        cookie: &str,
        access: Access,
    ) -> Result<Option<AuthOutcome>, StoreError> {
        self.authenticate_with(cookie, access, Work::MemoryOnly)
    }

    /// `authenticate_in_memory` for a store that reads without blocking (Redis): the session
    /// is read on the async worker, the rest is answered from memory. `None` as above (and
    /// when the store has no such read).
    pub async fn authenticate_without_blocking(
        &self,
        cookie: &str,
        access: Access,
    ) -> Result<Option<AuthOutcome>, StoreError> {
        let Some(id) = SessionId::parse(cookie) else {
            return Ok(Some(AuthOutcome::Rejected(EndReason::Unknown)));
        };
        let Some(read) = self.store.load_async(id.key()) else {
            return Ok(None);
        };
        let loaded = read.await?;
        self.authenticate_with(cookie, access, Work::Read(loaded))
    }

    fn authenticate_with(
        &self,
        cookie: &str,
        access: Access,
        work: Work,
    ) -> Result<Option<AuthOutcome>, StoreError> {
        let full = work == Work::Full;
        let Some(id) = SessionId::parse(cookie) else {
            return Ok(Some(AuthOutcome::Rejected(EndReason::Unknown)));
        };
        let key = id.key();
        let loaded = match work {
            Work::Full => self.store.load(&key)?,
            Work::Read(loaded) => loaded,
            Work::MemoryOnly => match self.store.load_cached(&key) {
                Some(loaded) => loaded,
                None => return Ok(None),
            },
        };
        let record = match loaded {
            Loaded::Found(record) => record,
            // Why it ended may be known only to the shared store (another server ended it).
            Loaded::Missing if !full && self.store.is_shared() && !self.remembers(&key) => {
                return Ok(None);
            }
            Loaded::Missing => return Ok(Some(AuthOutcome::Rejected(self.reason_for(&key)))),
            Loaded::Damaged(_) if !full => return Ok(None),
            Loaded::Damaged(damage) => return self.resolve_damage(&key, &damage).map(Some),
        };
        let now = self.now();
        if record.is_expired(now) {
            if !full {
                return Ok(None);
            }
            self.end(&key, EndReason::Expired)?;
            return Ok(Some(AuthOutcome::Rejected(EndReason::Expired)));
        }
        let user = if full {
            self.users.lookup(record.user_id)?
        } else {
            self.users.lookup_cached(record.user_id)
        };
        let user = match user {
            Some(user) if user.is_active && user.username == record.username => user,
            _ if !full => return Ok(None),
            Some(user) if user.is_active => {
                return self.resolve_rename(&key, &record, user).map(Some);
            }
            _ => {
                self.end(&key, EndReason::UserInvalid)?;
                return Ok(Some(AuthOutcome::Rejected(EndReason::UserInvalid)));
            }
        };
        let mut record = record;
        if let Some(renewal) = self.policy.renewal(&record, now, access) {
            if self.store.touch(&key, renewal)? == Saved::Gone {
                return Ok(Some(AuthOutcome::Rejected(self.reason_for(&key))));
            }
            let renewed = Arc::make_mut(&mut record);
            renewed.last_seen = renewal.last_seen;
            renewed.expires_at = renewal.expires_at;
        }
        Ok(Some(AuthOutcome::Valid(Authenticated {
            key,
            record,
            user,
        })))
    }

    /// Renews and writes the session to storage now (an explicit "extend").
    pub fn extend(&self, auth: &Authenticated) -> Result<Option<SessionRecord>, StoreError> {
        let now = self.now();
        let Some(renewal) = self.policy.renewal(&auth.record, now, Access::Activity) else {
            return Ok(None);
        };
        let mut record = (*auth.record).clone();
        record.last_seen = renewal.last_seen;
        record.expires_at = renewal.expires_at;
        Ok(match self.store.replace(&auth.key, record.clone())? {
            Saved::Written => Some(record),
            Saved::Gone => None,
        })
    }

    /// Ends one session; returns whether it existed.
    pub fn end(&self, key: &SessionKey, reason: EndReason) -> Result<bool, StoreError> {
        self.remember(std::slice::from_ref(key), reason);
        self.store.delete(key)
    }

    pub fn end_user(&self, user_id: UserId, reason: EndReason) -> Result<usize, StoreError> {
        let keys: Vec<_> = self
            .store
            .list_by_user(user_id)?
            .into_iter()
            .map(|s| s.key)
            .collect();
        self.remember(&keys, reason);
        Ok(self.store.delete_by_user(user_id, None)?.len())
    }

    pub fn end_all(&self, reason: EndReason) -> Result<usize, StoreError> {
        let keys: Vec<_> = self.store.list()?.into_iter().map(|s| s.key).collect();
        self.remember(&keys, reason);
        self.store.delete_all()
    }

    /// Deletes expired sessions and forgets old end reasons. Returns the sessions deleted.
    pub fn sweep(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let purged = self.store.purge_expired(now)?;
        self.remember(&purged, EndReason::Expired);
        let horizon = now.minus(
            self.policy
                .multiple_lifetime
                .max(self.policy.single_lifetime),
        );
        self.tombstones.lock().retain(|_, (_, at)| *at > horizon);
        Ok(purged.len())
    }

    /// Writes renewals that are due (at most one write a minute per session).
    pub fn flush_due(&self) -> Result<usize, StoreError> {
        self.store
            .flush_renewals(self.now().minus(self.policy.persist_interval))
    }

    /// Writes every pending renewal, e.g. at shutdown.
    pub fn flush_all(&self) -> Result<usize, StoreError> {
        self.store.flush_renewals(Timestamp(i64::MAX))
    }

    pub fn counts(&self, soon: Duration) -> Result<SessionCounts, StoreError> {
        self.store.counts(self.now(), soon)
    }

    fn remember(&self, keys: &[SessionKey], reason: EndReason) {
        if keys.is_empty() {
            return;
        }
        let now = self.now();
        {
            let mut tombstones = self.tombstones.lock();
            if tombstones.len() + keys.len() > MAX_TOMBSTONES {
                tombstones.clear();
            }
            for key in keys {
                tombstones.insert(*key, (reason, now));
            }
        }
        // Other servers sharing the store tell the user the same reason.
        let keep = self
            .policy
            .multiple_lifetime
            .max(self.policy.single_lifetime);
        if let Err(e) = self.store.record_end(keys, reason.as_str(), keep) {
            tracing::warn!(
                "could not record why {} ended: {e}",
                crate::words::count(keys.len(), "session")
            );
        }
    }

    fn remembers(&self, key: &SessionKey) -> bool {
        self.tombstones.lock().contains_key(key)
    }

    fn reason_for(&self, key: &SessionKey) -> EndReason {
        if let Some((reason, _)) = self.tombstones.lock().get(key) {
            return *reason;
        }
        match self.store.end_reason(key) {
            Ok(name) => name
                .as_deref()
                .and_then(EndReason::from_name)
                .unwrap_or(EndReason::Unknown),
            Err(e) => {
                tracing::warn!("could not read why a session ended: {e}");
                EndReason::Unknown
            }
        }
    }

    fn mode_words(&self) -> &'static str {
        self.policy.mode.describe()
    }

    /// Conflict resolution: repair a damaged session whose user is still valid, otherwise
    /// quarantine it. Without conflict resolution every damaged session is quarantined.
    fn resolve_damage(&self, key: &SessionKey, damage: &Damage) -> Result<AuthOutcome, StoreError> {
        if self.conflict_resolution {
            let user = match &damage.salvage {
                Some(s) => self.users.lookup(s.user_id)?,
                None => None,
            }
            .filter(|u| u.is_active);
            if let Some(user) = user {
                let now = self.now();
                let mut record = self.policy.new_record(
                    user.id,
                    &user.username,
                    ClientInfo::default(),
                    now,
                    &self.epoch,
                );
                if let Some(created) = damage.salvage.as_ref().and_then(|s| s.created) {
                    record.created = created.min(now);
                }
                if self.store.replace(key, record.clone())? == Saved::Written {
                    tracing::info!(
                        session = %key.short(), problem = %damage,
                        "Re-initialized session for user {} ({})", user.username, self.mode_words()
                    );
                    return Ok(AuthOutcome::Valid(Authenticated {
                        key: *key,
                        record: Arc::new(record),
                        user,
                    }));
                }
                return Ok(AuthOutcome::Rejected(self.reason_for(key)));
            }
            let done = self.store.quarantine(key)?;
            tracing::warn!(
                session = %key.short(), problem = %damage,
                "Session conflict resolved: damaged session {} (no valid user to restore)",
                done.describe()
            );
        } else {
            let done = self.store.quarantine(key)?;
            tracing::warn!(
                session = %key.short(), problem = %damage,
                "Rejected damaged session: {} (conflict resolution is off)",
                done.describe()
            );
        }
        self.remember(std::slice::from_ref(key), EndReason::Damaged);
        Ok(AuthOutcome::Rejected(EndReason::Damaged))
    }

    /// The user was renamed since login: re-initialise under the new name, or quarantine.
    fn resolve_rename(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        user: UserInfo,
    ) -> Result<AuthOutcome, StoreError> {
        if !self.conflict_resolution {
            let done = self.store.quarantine(key)?;
            tracing::warn!(
                session = %key.short(),
                "Rejected session of renamed user {}: {} (conflict resolution is off)",
                user.username, done.describe()
            );
            self.remember(std::slice::from_ref(key), EndReason::Damaged);
            return Ok(AuthOutcome::Rejected(EndReason::Damaged));
        }
        let mut repaired = record.clone();
        repaired.username = user.username.clone();
        if self.store.replace(key, repaired.clone())? == Saved::Gone {
            return Ok(AuthOutcome::Rejected(self.reason_for(key)));
        }
        tracing::info!(session = %key.short(), "Re-initialized session for user {} ({})", user.username, self.mode_words());
        Ok(AuthOutcome::Valid(Authenticated {
            key: *key,
            record: Arc::new(repaired),
            user,
        }))
    }
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
