//! A Flask-Session (server-side) YAM's browsers, as the door sees them. The session cookie
//! holds only an id (`sid`, or `sid.signature` with Flask-Session's signer); the session itself
//! is a file in YAM's folder (named by the hash of `"session:" + sid`) or a Redis key, and the
//! folder or Redis stays the source of the counts. The door adds what only it sees — each
//! browser's address, its browser, when it was last active — and its own count of the sessions
//! YAM answered with, which must agree with the folder's.
//!
//! It also makes a revoke or a force logout hold against Flask-Login's remember cookie, which
//! would sign a browser whose session file was deleted straight back in: a revoked browser,
//! and after a force logout every browser whose session is older than it, comes through with
//! its session and remember cookies taken out (and cleared in the answer).
//!
//! Pure: the door feeds it what it read, with the time. Ids are kept as the hash of the sid,
//! never the sid (a sid is as good as a password).

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::signins::{Admit, Client, Ended, Persisted, user_key};

/// How a sessions-table row names a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKey<'a> {
    /// A Flask-Session file: the sha256 (or, older cachelib, md5) of prefix + sid.
    File(&'a str),
    /// A Flask-Session Redis key's sid.
    Sid(&'a str),
}

/// More sessions than this are not followed (the least recently active are forgotten first).
pub const MAX_FOLLOWED: usize = 50_000;

/// A session id as Flask-Session writes it: letters, digits, `-`, `_` (a uuid in 0.5, 43
/// URL-safe characters since 0.6).
pub fn valid_sid(sid: &str) -> bool {
    (1..=128).contains(&sid.len())
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The sid in a session cookie's value: the value itself, or the part before the signature.
pub fn sid_of(value: &str) -> Option<&str> {
    let sid = value.split('.').next()?;
    valid_sid(sid).then_some(sid)
}

/// The names a session goes by: the sha256 of `prefix + sid` (cachelib ≥ 0.10's file name, and
/// the id kept here) and its md5 (older cachelib's file name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SidKeys {
    pub id: String,
    pub md5: String,
}

impl SidKeys {
    pub fn of(prefix: &str, sid: &str) -> Self {
        let key = format!("{prefix}{sid}");
        Self {
            id: hex::encode(Sha256::digest(key.as_bytes())),
            md5: hex::encode(Md5::digest(key.as_bytes())),
        }
    }
}

/// What an answer did to the session cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answered {
    Untouched,
    /// Set it to this session; `expires`: the cookie's own expiry (Unix seconds).
    Set {
        keys: SidKeys,
        expires: Option<u64>,
    },
    Cleared,
}

/// What to do with the answer's cookies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterAnswer {
    Keep,
    /// The browser was revoked or everyone logged out while the request was under way: clear
    /// the session YAM just set (and the remember cookie).
    LogOut,
}

/// One browser's session, as the door saw it (times in Unix milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub keys: SidKeys,
    /// When YAM began it, if the door saw that answer.
    pub begun_at: Option<u64>,
    pub first_seen: u64,
    pub last_activity: u64,
    pub expires_at: u64,
    pub client: Client,
}

#[derive(Debug)]
pub struct Sightings {
    /// Flask-Session's key prefix (`session:`).
    prefix: String,
    /// A session without a cookie expiry lasts this long after its last request.
    lifetime_ms: u64,
    /// By `SidKeys::id`.
    live: HashMap<String, Sighting>,
    /// md5 name → id.
    by_md5: HashMap<String, String>,
    state: Persisted,
    counts_version: u64,
    state_version: u64,
}

impl Sightings {
    pub fn new(prefix: &str, lifetime_ms: u64, state: Persisted) -> Self {
        Self {
            prefix: prefix.to_owned(),
            lifetime_ms,
            live: HashMap::new(),
            by_md5: HashMap::new(),
            state,
            counts_version: 0,
            state_version: 0,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn set_lifetime(&mut self, lifetime_ms: u64) {
        self.lifetime_ms = lifetime_ms;
    }

    /// (counts, kept state) versions, to tell what a call changed.
    pub fn versions(&self) -> (u64, u64) {
        (self.counts_version, self.state_version)
    }

    pub fn persisted(&self) -> &Persisted {
        &self.state
    }

    /// Whether a request with this session (and remember cookie of this user) goes through.
    pub fn admit(&self, sid: Option<&SidKeys>, remember_user: Option<&str>) -> Admit {
        if sid.is_some_and(|k| self.state.revoked.contains_key(&k.id)) {
            return Admit::LogOut(Ended::Revoked);
        }
        // The door cannot see whether the session is signed in (that is in YAM's file), so
        // a refused remember cookie is taken out whatever session comes with it: a new
        // anonymous session plus an old remember cookie would sign the browser in.
        self.state.admit_remember(remember_user)
    }

    /// Follows an answer. `sid`: the request's session as it went to YAM (`None` when the
    /// door took it out); `remember_set_for`: the user YAM gave a new remember cookie.
    pub fn answer(
        &mut self,
        sid: Option<&SidKeys>,
        answered: &Answered,
        remember_set_for: Option<&str>,
        client: Client,
        (started_ms, now_ms): (u64, u64),
    ) -> AfterAnswer {
        let revoked = sid.is_some_and(|k| self.state.revoked.contains_key(&k.id));
        let forced = self.state.logged_out_at.is_some_and(|t| t >= started_ms);
        if revoked || forced {
            // YAM may have read the session before its file was deleted, and write it back
            // at the end of this request: that id is refused from now on.
            if let Some(k) = sid {
                let until = self.forget(&k.id).map_or(0, |s| s.expires_at);
                self.state
                    .revoked
                    .insert(k.id.clone(), until.max(now_ms + self.lifetime_ms));
                self.state_version += 1;
            }
            if matches!(answered, Answered::Set { .. }) {
                return AfterAnswer::LogOut;
            }
            return AfterAnswer::Keep;
        }
        if let Some(user) = remember_set_for
            && self.state.signed_in_again(user)
        {
            self.state_version += 1;
        }
        match answered {
            Answered::Untouched => {
                if let Some(s) = sid.and_then(|k| self.live.get_mut(&k.id)) {
                    s.last_activity = now_ms;
                    s.expires_at = s.expires_at.max(now_ms + self.lifetime_ms);
                    s.client = client;
                }
            }
            Answered::Cleared => {
                if let Some(k) = sid {
                    self.forget(&k.id);
                }
            }
            Answered::Set { keys, expires } => {
                // YAM gave the browser another session (a new id at login, or the old one
                // was gone): the old one is over.
                if let Some(k) = sid.filter(|k| k.id != keys.id) {
                    self.forget(&k.id);
                }
                let expires_at = expires
                    .map(|s| s.saturating_mul(1000))
                    .unwrap_or(now_ms + self.lifetime_ms);
                if let Some(s) = self.live.get_mut(&keys.id) {
                    s.last_activity = now_ms;
                    s.expires_at = expires_at;
                    s.client = client;
                } else {
                    let carried = sid.is_some_and(|k| k.id == keys.id);
                    self.make_room(now_ms);
                    self.by_md5.insert(keys.md5.clone(), keys.id.clone());
                    self.live.insert(
                        keys.id.clone(),
                        Sighting {
                            keys: keys.clone(),
                            begun_at: (!carried).then_some(now_ms),
                            first_seen: now_ms,
                            last_activity: now_ms,
                            expires_at,
                            client,
                        },
                    );
                    self.counts_version += 1;
                }
            }
        }
        AfterAnswer::Keep
    }

    fn forget(&mut self, id: &str) -> Option<Sighting> {
        let s = self.live.remove(id)?;
        self.by_md5.remove(&s.keys.md5);
        self.counts_version += 1;
        Some(s)
    }

    /// Keeps the map under `MAX_FOLLOWED`: what expired goes first, then the least recently
    /// active.
    fn make_room(&mut self, now_ms: u64) {
        if self.live.len() < MAX_FOLLOWED {
            return;
        }
        self.expire(now_ms);
        if self.live.len() < MAX_FOLLOWED {
            return;
        }
        // The least recently active tenth at once: the next inserts cost nothing.
        let mut by_age: Vec<(u64, String)> = self
            .live
            .values()
            .map(|s| (s.last_activity, s.keys.id.clone()))
            .collect();
        let n = (MAX_FOLLOWED / 10).max(1);
        by_age.select_nth_unstable_by_key(n - 1, |(at, _)| *at);
        for (_, id) in by_age.into_iter().take(n) {
            self.forget(&id);
        }
    }

    /// The id (`SidKeys::id`) of the session a row names, when it can be told.
    fn id_of(&self, row: RowKey<'_>) -> Option<String> {
        match row {
            RowKey::File(name) if name.len() == 64 => Some(name.to_owned()),
            RowKey::File(name) => self.by_md5.get(name).cloned(),
            RowKey::Sid(sid) => valid_sid(sid).then(|| SidKeys::of(&self.prefix, sid).id),
        }
    }

    /// What the door saw of the session a row names.
    pub fn find(&self, row: RowKey<'_>) -> Option<&Sighting> {
        self.live.get(&self.id_of(row)?)
    }

    /// Ends the session a row names (its browser is logged out when it comes back, until the
    /// session would have expired), and refuses the remember cookie of `user` (its user)
    /// until they sign in again. Whether the door could name that session.
    pub fn revoke(&mut self, row: RowKey<'_>, user: Option<&str>, now_ms: u64) -> bool {
        if let Some(user) = user {
            self.state.remember_refused.insert(user_key(user));
            self.state_version += 1;
        }
        let Some(id) = self.id_of(row) else {
            return false;
        };
        let until = self
            .forget(&id)
            .map_or(now_ms + self.lifetime_ms, |s| s.expires_at.max(now_ms));
        self.state.revoked.insert(id, until);
        self.state_version += 1;
        true
    }

    /// Everyone logged out now: every session the door saw is refused from now on, and so is a
    /// remember cookie until its user signs in again. How many sessions the door followed.
    pub fn force_logout(&mut self, now_ms: u64) -> usize {
        let n = self.live.len();
        self.live.clear();
        self.by_md5.clear();
        self.state.logged_out_at = Some(now_ms);
        self.state.back_since_logout.clear();
        self.counts_version += 1;
        self.state_version += 1;
        n
    }

    /// The folder or Redis is cleared: the force logout's moment moves here, so a request
    /// that began before the sessions were gone has what YAM sets cleared, and its session
    /// refused.
    pub fn cleared(&mut self, now_ms: u64) {
        if self.state.logged_out_at.is_some() {
            self.state.logged_out_at = Some(now_ms);
            self.state_version += 1;
        }
    }

    /// Forgets what has expired.
    pub fn expire(&mut self, now_ms: u64) {
        let before = (self.live.len(), self.state.revoked.len());
        let gone: Vec<String> = self
            .live
            .values()
            .filter(|s| s.expires_at <= now_ms)
            .map(|s| s.keys.id.clone())
            .collect();
        for id in gone {
            self.forget(&id);
        }
        self.state.revoked.retain(|_, until| *until > now_ms);
        if self.state.revoked.len() != before.1 {
            self.state_version += 1;
        }
    }

    /// The sessions the door follows now.
    pub fn live(&self, now_ms: u64) -> usize {
        self.live.values().filter(|s| s.expires_at > now_ms).count()
    }
}
