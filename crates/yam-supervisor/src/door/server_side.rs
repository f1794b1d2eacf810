//! The door's view of a Flask-Session (server-side) YAM: each request's session id is followed
//! (see `crate::sightings`), so the sessions table can show each browser's address, browser and
//! last activity beside what the folder or Redis holds, and a revoke or force logout also takes
//! the remember cookie away from the browsers it ended. The folder (or Redis) stays the source
//! of the counts. Session ids are never logged or kept; only their hashes, in memory, and the
//! revoked ones' hashes in the data folder.

use std::path::PathBuf;

use axum::http::HeaderMap;
use parking_lot::Mutex;

use super::cookie_jar::{self, SetCookie};
use super::sessions::now_ms;
use crate::sightings::{AfterAnswer, Answered, RowKey, SidKeys, Sighting, Sightings, sid_of};
use crate::signins::{Admit, Client, Persisted};

/// The kept state (force logout, revocations) of this view, in the data folder.
pub const SIGHTINGS_FILE: &str = "door-server-sessions.json";

/// How to read a Flask-Session YAM's cookies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SidRules {
    pub session: String,
    pub remember: String,
    /// Flask-Session's key prefix (`session:`).
    pub key_prefix: String,
    pub lifetime_ms: u64,
    pub state_file: PathBuf,
}

pub struct ServerSideSessions {
    rules: SidRules,
    registry: Mutex<Sightings>,
}

/// What the door noted about a request, for its answer.
pub struct SidPending {
    sid: Option<SidKeys>,
    logged_out: bool,
    started_ms: u64,
    client: Client,
}

impl ServerSideSessions {
    /// Loads the kept state (a damaged file starts afresh: the warning says so).
    pub fn open(rules: SidRules) -> (Self, Option<String>) {
        let (state, warning) = Persisted::load(&rules.state_file);
        let registry = Sightings::new(&rules.key_prefix, rules.lifetime_ms, state);
        (
            Self {
                rules,
                registry: Mutex::new(registry),
            },
            warning,
        )
    }

    pub fn rules(&self) -> &SidRules {
        &self.rules
    }

    pub fn set_lifetime(&self, lifetime_ms: u64) {
        self.registry.lock().set_lifetime(lifetime_ms);
    }

    fn save(&self, registry: &Sightings) {
        if let Err(e) = registry.persisted().save(&self.rules.state_file) {
            tracing::warn!("could not save {}: {e}", self.rules.state_file.display());
        }
    }

    /// Reads a request before it goes to YAM; takes an ended browser's cookies out.
    pub fn on_request(&self, headers: &mut HeaderMap, client: Client) -> SidPending {
        let started_ms = now_ms();
        let mut sid = None;
        let mut remember = None;
        for c in cookie_jar::request_cookies(headers) {
            if c.name() == self.rules.session && sid.is_none() {
                sid = sid_of(c.value()).map(|s| SidKeys::of(&self.rules.key_prefix, s));
            } else if c.name() == self.rules.remember && remember.is_none() {
                remember = cookie_jar::remember_user(c.value());
            }
        }
        let admit = self
            .registry
            .lock()
            .admit(sid.as_ref(), remember.as_deref());
        let logged_out = admit != Admit::Pass;
        if logged_out {
            cookie_jar::strip(headers, &[&self.rules.session, &self.rules.remember]);
        }
        SidPending {
            sid: if logged_out { None } else { sid },
            logged_out,
            started_ms,
            client,
        }
    }

    /// Follows YAM's answer; clears the cookies of a browser that was logged out.
    pub fn on_answer(&self, pending: SidPending, headers: &mut HeaderMap) {
        let now = now_ms();
        let answered = match cookie_jar::answered(headers, &self.rules.session, now / 1000) {
            None => Answered::Untouched,
            Some(SetCookie::Cleared) => Answered::Cleared,
            Some(SetCookie::Set { value, expires }) => match sid_of(&value) {
                Some(sid) => Answered::Set {
                    keys: SidKeys::of(&self.rules.key_prefix, sid),
                    expires,
                },
                None => Answered::Untouched,
            },
        };
        let remember_set = match cookie_jar::answered(headers, &self.rules.remember, now / 1000) {
            Some(SetCookie::Set { value, .. }) => cookie_jar::remember_user(&value),
            Some(SetCookie::Cleared) | None => None,
        };
        let mut registry = self.registry.lock();
        let state_before = registry.versions().1;
        let after = registry.answer(
            pending.sid.as_ref(),
            &answered,
            remember_set.as_deref(),
            pending.client,
            (pending.started_ms, now),
        );
        if registry.versions().1 != state_before {
            self.save(&registry);
        }
        drop(registry);
        match (after, pending.logged_out) {
            (AfterAnswer::LogOut, _) => {
                cookie_jar::clear_all(headers, &[&self.rules.session, &self.rules.remember])
            }
            // Its cookies were taken out: YAM answered a browser that is not signed in. Clear
            // them, unless YAM set a new (anonymous) session.
            (AfterAnswer::Keep, true) => {
                let mut names = Vec::new();
                if remember_set.is_none() {
                    names.push(self.rules.remember.as_str());
                }
                if !matches!(answered, Answered::Set { .. }) {
                    names.push(&self.rules.session);
                }
                cookie_jar::clear_all(headers, &names);
            }
            (AfterAnswer::Keep, false) => {}
        }
    }

    /// Ends the session a sessions-table row names, and refuses its user's remember cookie
    /// until they sign in again (saved at once). Whether the door could name the session.
    pub fn revoke(&self, row: RowKey<'_>, user: Option<&str>) -> bool {
        let mut registry = self.registry.lock();
        let named = registry.revoke(row, user, now_ms());
        self.save(&registry);
        named
    }

    /// Everyone logged out (saved at once): how many sessions the door followed. Call
    /// `cleared` once the folder or Redis is cleared.
    pub fn force_logout(&self) -> usize {
        let mut registry = self.registry.lock();
        let n = registry.force_logout(now_ms());
        self.save(&registry);
        n
    }

    /// The sessions are deleted: requests that began before now may have read them.
    pub fn cleared(&self) {
        let mut registry = self.registry.lock();
        registry.cleared(now_ms());
        self.save(&registry);
    }

    /// What the door saw of the session a row names.
    pub fn find(&self, row: RowKey<'_>) -> Option<Sighting> {
        self.registry.lock().find(row).cloned()
    }

    /// The sessions the door follows now.
    pub fn live(&self) -> usize {
        self.registry.lock().live(now_ms())
    }

    /// Forgets what expired (called every second).
    pub fn tick(&self) {
        let mut registry = self.registry.lock();
        let before = registry.versions().1;
        registry.expire(now_ms());
        if registry.versions().1 != before {
            self.save(&registry);
        }
    }
}
