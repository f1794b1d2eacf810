//! `RedisStore`: sessions shared by several servers. Every change is one atomic Lua script
//! (see `scripts.rs` for the key layout); renewals are kept in memory and written by
//! [`SessionStore::flush_renewals`], so the "at most once a minute" policy stays in the
//! session manager, as for the folder store.

mod known;
mod pool;
mod scripts;
mod seal;

pub use pool::redact;
pub use seal::{RecordSeal, Verdict};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use redis::Connection;

use self::known::Known;
use self::pool::Pool;
use super::{
    LoadFuture, Loaded, Quarantined, Saved, SessionCounts, SessionStore, SessionSummary,
    StoreError, create_with_unique_id,
};
use crate::id::{SessionId, SessionKey};
use crate::policy::Renewal;
use crate::record::{Damage, DamageKind, SessionRecord, UserId};
use crate::time::Timestamp;

/// The key prefix when none is given: several deployments can share one Redis with their own.
pub const DEFAULT_PREFIX: &str = "yam:";
/// How long a damaged session is kept under `q:` for inspection.
const QUARANTINE_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct RedisStore {
    pool: Pool,
    prefix: String,
    known: Known,
    seal: RecordSeal,
    /// A foreign seal was reported (said once, not per request).
    foreign_reported: std::sync::atomic::AtomicBool,
}

/// `text` as a Redis glob matching itself only (`*`, `?`, `[`, `]`, `\` escaped): a key prefix
/// such as `yam?` must not match another deployment's keys in `SCAN MATCH`.
pub fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisStore {
    /// Connects lazily: a Redis that is down at start is reported by [`SessionStore::check`]
    /// and by each request, and is used as soon as it answers. Records are sealed and checked
    /// with `seal` (see [`RecordSeal`]).
    pub fn open(url: &str, prefix: &str, seal: RecordSeal) -> Result<Self, StoreError> {
        if prefix.is_empty() || prefix.contains(char::is_whitespace) {
            return Err(StoreError::Config(format!(
                "the Redis key prefix {prefix:?} must be non-empty, without spaces"
            )));
        }
        Ok(Self {
            pool: Pool::new(url)?,
            prefix: prefix.to_owned(),
            known: Known::default(),
            seal,
            foreign_reported: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Where the sessions are, without any password (for logs and the health answer).
    pub fn address(&self) -> &str {
        &self.pool.address
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A number every change to the sessions moves (one small read): a watcher re-reads the
    /// index only when it differs from the last one it saw.
    pub fn change_mark(&self) -> Result<i64, StoreError> {
        let name = format!("{}:changes", self.all_key());
        self.pool
            .with(|c| redis::cmd("GET").arg(&name).query::<Option<i64>>(c))
            .map(|mark| mark.unwrap_or(0))
    }

    /// Every session that expires after `now`: who, which, and when (one read, no records).
    pub fn live_index(&self, now: Timestamp) -> Result<Vec<IndexEntry>, StoreError> {
        let live: Vec<(String, f64)> = self.pool.with(|c| {
            redis::cmd("ZRANGEBYSCORE")
                .arg(self.all_key())
                .arg(format!("({}", now.as_millis()))
                .arg("+inf")
                .arg("WITHSCORES")
                .query(c)
        })?;
        Ok(live
            .iter()
            .filter_map(|(member, expires)| {
                let (user_id, hex) = split_member(member)?;
                Some(IndexEntry {
                    user_id,
                    key: SessionKey::parse_hex(hex)?,
                    expires_at: Timestamp(*expires as i64),
                })
            })
            .collect())
    }

    fn session_key(&self, hex: &str) -> String {
        format!("{}s:{hex}", self.prefix)
    }

    fn user_key(&self, user: UserId) -> String {
        format!("{}u:{user}", self.prefix)
    }

    /// Why a session ended (`e:<hex>`), kept for a session lifetime.
    fn ended_key(&self, key: &SessionKey) -> String {
        format!("{}e:{}", self.prefix, key.to_hex())
    }

    fn all_key(&self) -> String {
        format!("{}all", self.prefix)
    }

    fn run_create(
        &self,
        id: &SessionId,
        record: &SessionRecord,
        displace: bool,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let hex = id.key().to_hex();
        self.pool.with(|c| {
            let mut call = scripts::CREATE.key(self.session_key(&hex));
            call.key(self.user_key(record.user_id)).key(self.all_key());
            with_record(&mut call, record, &hex, &self.seal)
                .arg(if displace { "1" } else { "0" })
                .arg(&self.prefix)
                .invoke(c)
        })
    }

    fn create_inner(
        &self,
        record: SessionRecord,
        displace: bool,
    ) -> Result<(SessionId, Vec<SessionKey>), StoreError> {
        let mut displaced = Vec::new();
        let id = create_with_unique_id(|id| {
            Ok(match self.run_create(id, &record, displace)? {
                Some(hexes) => {
                    displaced = parse_keys(&hexes);
                    true
                }
                None => false,
            })
        })?;
        self.known.forget_all(&displaced);
        self.known.written(id.key(), &record);
        Ok((id, displaced))
    }

    /// A read hash (`None`: not a hash) as the session it is, with this server's pending
    /// renewal applied; what is gone is forgotten.
    fn loaded(&self, key: &SessionKey, fields: Option<HashMap<String, Vec<u8>>>) -> Loaded {
        let loaded = match fields {
            Some(f) => self.decode(&key.to_hex(), &f),
            None => Loaded::Damaged(Damage::new(DamageKind::NotAnObject, None)),
        };
        match loaded {
            Loaded::Found(record) => Loaded::Found(self.known.loaded(*key, record)),
            Loaded::Missing => {
                self.known.forget(key);
                Loaded::Missing
            }
            damaged @ Loaded::Damaged(_) => damaged,
        }
    }

    /// Reads several sessions in one round trip; missing ones are left out.
    fn read_many(
        &self,
        conn: &mut Connection,
        hexes: &[String],
    ) -> redis::RedisResult<Vec<SessionSummary>> {
        if hexes.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for hex in hexes {
            pipe.cmd("HGETALL").arg(self.session_key(hex));
        }
        let fields: Vec<HashMap<String, Vec<u8>>> = pipe.query(conn)?;
        Ok(hexes
            .iter()
            .zip(fields)
            .filter_map(|(hex, fields)| {
                let key = SessionKey::parse_hex(hex)?;
                match self.decode(hex, &fields) {
                    Loaded::Found(record) => Some(SessionSummary { key, record }),
                    Loaded::Missing | Loaded::Damaged(_) => None,
                }
            })
            .collect())
    }
}

/// One live session as the expiry index holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub user_id: UserId,
    pub key: SessionKey,
    pub expires_at: Timestamp,
}

/// Counts over index entries, leaving out those expired at `now`.
pub fn counts_of(entries: &[IndexEntry], now: Timestamp, soon: Duration) -> SessionCounts {
    let soon_at = now.plus(soon);
    let mut per_user: BTreeMap<UserId, usize> = BTreeMap::new();
    let mut expiring_soon = 0;
    for entry in entries.iter().filter(|e| e.expires_at > now) {
        *per_user.entry(entry.user_id).or_default() += 1;
        if entry.expires_at <= soon_at {
            expiring_soon += 1;
        }
    }
    SessionCounts {
        live: per_user.values().sum(),
        users: per_user.len(),
        per_user,
        expiring_soon,
        damaged: 0,
    }
}

impl RedisStore {
    /// A stored hash back to a record, its seal checked: `seen` and `exp` are the authority
    /// for the times (renewals write only them).
    fn decode(&self, hex: &str, fields: &HashMap<String, Vec<u8>>) -> Loaded {
        if fields.is_empty() {
            return Loaded::Missing;
        }
        let Some(json) = fields.get("rec") else {
            return Loaded::Damaged(Damage::new(DamageKind::NotAnObject, None));
        };
        match self
            .seal
            .check(hex, json, fields.get("mac").map(Vec::as_slice))
        {
            Verdict::Sound => decode_sealed(json, fields),
            // Nothing is salvaged from it: a repair would make its claims a session.
            Verdict::Broken => Loaded::Damaged(Damage::new(DamageKind::BadSeal, None)),
            Verdict::Foreign(theirs) => {
                if !self
                    .foreign_reported
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::error!(
                        "a session in Redis is sealed with key {theirs}, this server's is {}: \
                         every server sharing this Redis and prefix needs the same \
                         --form-secret (YAM_FORM_SECRET). Such sessions are refused here and \
                         left for the server that wrote them",
                        self.seal.key_id().unwrap_or("-")
                    );
                }
                Loaded::Missing
            }
        }
    }
}

/// A record whose seal was checked, with the stored times applied.
fn decode_sealed(json: &[u8], fields: &HashMap<String, Vec<u8>>) -> Loaded {
    let mut record = match SessionRecord::from_json(json) {
        Ok(r) => r,
        Err(damage) => return Loaded::Damaged(damage),
    };
    let millis = |name: &str| {
        fields
            .get(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok())
            .map(Timestamp)
    };
    if let (Some(seen), Some(exp)) = (millis("seen"), millis("exp")) {
        record.last_seen = seen;
        record.expires_at = exp;
    }
    Loaded::Found(Arc::new(record))
}

/// `fallback` when something else (not a hash) was written under a session's name.
fn unless_wrong_type<T>(read: redis::RedisResult<T>, fallback: T) -> redis::RedisResult<T> {
    match read {
        Err(e) if e.code() == Some("WRONGTYPE") => Ok(fallback),
        other => other,
    }
}

/// The session's fields every write script takes: record, seen, exp, uid, hex, seal.
fn with_record<'a, 'b>(
    call: &'a mut redis::ScriptInvocation<'b>,
    record: &SessionRecord,
    hex: &str,
    seal: &RecordSeal,
) -> &'a mut redis::ScriptInvocation<'b> {
    let json = record.to_json();
    let sealed = seal.seal(hex, &json);
    call.arg(json)
        .arg(record.last_seen.as_millis())
        .arg(record.expires_at.as_millis())
        .arg(record.user_id)
        .arg(hex)
        .arg(sealed)
}

fn parse_keys(hexes: &[String]) -> Vec<SessionKey> {
    hexes
        .iter()
        .filter_map(|h| SessionKey::parse_hex(h))
        .collect()
}

/// `<uid>:<hex>` members of the expiry index.
fn split_member(member: &str) -> Option<(UserId, &str)> {
    let (uid, hex) = member.split_once(':')?;
    Some((uid.parse().ok()?, hex))
}

impl SessionStore for RedisStore {
    fn create(&self, record: SessionRecord) -> Result<SessionId, StoreError> {
        Ok(self.create_inner(record, false)?.0)
    }

    fn create_displacing(
        &self,
        record: SessionRecord,
    ) -> Result<(SessionId, Vec<SessionKey>), StoreError> {
        self.create_inner(record, true)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn record_end(
        &self,
        keys: &[SessionKey],
        reason: &'static str,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1);
        self.pool.with(|c| {
            let mut pipe = redis::pipe();
            for key in keys {
                pipe.cmd("SET")
                    .arg(self.ended_key(key))
                    .arg(reason)
                    .arg("PX")
                    .arg(keep_ms)
                    .ignore();
            }
            pipe.query::<()>(c)
        })
    }

    fn end_reason(&self, key: &SessionKey) -> Result<Option<String>, StoreError> {
        let name = self.ended_key(key);
        self.pool.with(|c| redis::cmd("GET").arg(&name).query(c))
    }

    fn check(&self) -> Result<(), StoreError> {
        self.pool
            .with(|c| redis::cmd("PING").query::<String>(c))
            .map(|_| ())
    }

    fn load(&self, key: &SessionKey) -> Result<Loaded, StoreError> {
        let name = self.session_key(&key.to_hex());
        let fields = self.pool.with(|c| {
            unless_wrong_type(redis::cmd("HGETALL").arg(&name).query(c).map(Some), None)
        })?;
        Ok(self.loaded(key, fields))
    }

    fn load_async(&self, key: SessionKey) -> Option<LoadFuture<'_>> {
        Some(Box::pin(async move {
            let name = self.session_key(&key.to_hex());
            let fields = self
                .pool
                .with_async(|mut c| async move {
                    let read = redis::cmd("HGETALL").arg(&name).query_async(&mut c).await;
                    unless_wrong_type(read.map(Some), None)
                })
                .await?;
            Ok(self.loaded(&key, fields))
        }))
    }

    fn replace(&self, key: &SessionKey, record: SessionRecord) -> Result<Saved, StoreError> {
        let hex = key.to_hex();
        let written: i64 = self.pool.with(|c| {
            let mut call = scripts::REPLACE.key(self.session_key(&hex));
            call.key(self.all_key());
            with_record(&mut call, &record, &hex, &self.seal)
                .arg(&self.prefix)
                .invoke(c)
        })?;
        if written == 0 {
            self.known.forget(key);
            return Ok(Saved::Gone);
        }
        self.known.written(*key, &record);
        Ok(Saved::Written)
    }

    fn touch(&self, key: &SessionKey, renewal: Renewal) -> Result<Saved, StoreError> {
        if self.known.renew(key, renewal) {
            return Ok(Saved::Written);
        }
        // Not read by this server lately: ask Redis whether the session still exists.
        let name = self.session_key(&key.to_hex());
        let times: (Option<i64>, Option<i64>) = self.pool.with(|c| {
            let read = redis::cmd("HMGET")
                .arg(&name)
                .arg("seen")
                .arg("exp")
                .query(c);
            unless_wrong_type(read, (None, None))
        })?;
        let (Some(seen), Some(exp)) = times else {
            return Ok(Saved::Gone);
        };
        self.known.persisted(*key, Timestamp(seen), Timestamp(exp));
        self.known.renew(key, renewal);
        Ok(Saved::Written)
    }

    fn flush_renewals(&self, written_before: Timestamp) -> Result<usize, StoreError> {
        let due = self.known.due(written_before);
        for (key, renewal) in &due {
            let hex = key.to_hex();
            let written: i64 = self.pool.with(|c| {
                scripts::RENEW
                    .key(self.session_key(&hex))
                    .key(self.all_key())
                    .arg(renewal.last_seen.as_millis())
                    .arg(renewal.expires_at.as_millis())
                    .arg(&hex)
                    .arg(&self.prefix)
                    .invoke(c)
            })?;
            if written == 0 {
                self.known.forget(key);
            } else {
                self.known
                    .persisted(*key, renewal.last_seen, renewal.expires_at);
            }
        }
        self.known.prune();
        Ok(due.len())
    }

    fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let hex = key.to_hex();
        let deleted: i64 = self.pool.with(|c| {
            scripts::DELETE
                .key(self.session_key(&hex))
                .key(self.all_key())
                .arg(&hex)
                .arg(&self.prefix)
                .invoke(c)
        })?;
        self.known.forget(key);
        Ok(deleted > 0)
    }

    fn list(&self) -> Result<Vec<SessionSummary>, StoreError> {
        let all = self.all_key();
        self.pool.with(|c| {
            let members: Vec<String> = redis::cmd("ZRANGE").arg(&all).arg(0).arg(-1).query(c)?;
            let hexes: Vec<String> = members
                .iter()
                .filter_map(|m| split_member(m).map(|(_, hex)| hex.to_owned()))
                .collect();
            self.read_many(c, &hexes)
        })
    }

    fn list_by_user(&self, user_id: UserId) -> Result<Vec<SessionSummary>, StoreError> {
        let set = self.user_key(user_id);
        self.pool.with(|c| {
            let hexes: Vec<String> = redis::cmd("SMEMBERS").arg(&set).query(c)?;
            let found = self.read_many(c, &hexes)?;
            Ok(found
                .into_iter()
                .filter(|s| s.record.user_id == user_id)
                .collect())
        })
    }

    fn delete_by_user(
        &self,
        user_id: UserId,
        keep: Option<&SessionKey>,
    ) -> Result<Vec<SessionKey>, StoreError> {
        let keep = keep.map(SessionKey::to_hex).unwrap_or_default();
        let hexes: Vec<String> = self.pool.with(|c| {
            scripts::DELETE_USER
                .key(self.user_key(user_id))
                .key(self.all_key())
                .arg(user_id)
                .arg(&keep)
                .arg(&self.prefix)
                .invoke(c)
        })?;
        let keys = parse_keys(&hexes);
        self.known.forget_all(&keys);
        Ok(keys)
    }

    fn delete_all(&self) -> Result<usize, StoreError> {
        let pattern = format!("{}s:*", glob_escape(&self.prefix));
        let deleted = self.pool.with(|c| {
            let indexed: i64 = scripts::DELETE_ALL
                .key(self.all_key())
                .arg(&self.prefix)
                .invoke(c)?;
            // Values under a session's name that were never indexed (written by hand, damaged).
            let stray: HashSet<String> = redis::cmd("SCAN")
                .cursor_arg(0)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .clone()
                .iter(c)?
                .collect::<Result<_, _>>()?;
            let mut removed = 0i64;
            for name in stray {
                removed += redis::cmd("DEL").arg(name).query::<i64>(c)?;
            }
            Ok(indexed + removed)
        })?;
        self.known.clear();
        Ok(usize::try_from(deleted).unwrap_or(0))
    }

    fn counts(&self, now: Timestamp, soon: Duration) -> Result<SessionCounts, StoreError> {
        Ok(counts_of(&self.live_index(now)?, now, soon))
    }

    fn purge_expired(&self, now: Timestamp) -> Result<Vec<SessionKey>, StoreError> {
        let hexes: Vec<String> = self.pool.with(|c| {
            scripts::PURGE
                .key(self.all_key())
                .arg(now.as_millis())
                .arg(&self.prefix)
                .invoke(c)
        })?;
        let keys = parse_keys(&hexes);
        self.known.forget_all(&keys);
        Ok(keys)
    }

    fn quarantine(&self, key: &SessionKey) -> Result<Quarantined, StoreError> {
        let hex = key.to_hex();
        let moved: i64 = self.pool.with(|c| {
            scripts::QUARANTINE
                .key(self.session_key(&hex))
                .key(self.all_key())
                .key(format!("{}q:{hex}", self.prefix))
                .arg(&hex)
                .arg(&self.prefix)
                .arg(QUARANTINE_KEEP.as_millis() as u64)
                .invoke(c)
        })?;
        self.known.forget(key);
        Ok(if moved == 1 {
            Quarantined::Moved
        } else {
            Quarantined::Removed
        })
    }
}
