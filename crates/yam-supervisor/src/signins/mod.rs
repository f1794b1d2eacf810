//! Sign-ins seen at the door, for a YAM whose sessions are Flask's signed cookies. A sign-in is
//! one browser's session from the login that set the cookie until logout, expiry or
//! revocation — not one cookie value (Flask signs the cookie again at every answer). The door
//! follows a sign-in with a small cookie of its own (the *companion*, a random id); a browser
//! that was signed in before the supervisor started is seen when it comes back.
//!
//! Pure: the door feeds it what it read from each request and answer, with the time; it says
//! whether to let a request's session through, and what to do with the companion cookie.

mod persist;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::tally::{Counts, UserCount};
pub use persist::{Persisted, user_key};

/// Who a session cookie says, as the door read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieView {
    /// `None`: a session nobody is signed in to.
    pub user: Option<(String, Option<String>)>,
    /// When Flask signed it (Unix seconds).
    pub signed_at: u64,
}

/// The browser side of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What a request carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request<'a> {
    pub companion: Option<&'a str>,
    /// The session cookie, read (and checked, when the secret is known).
    pub session: Option<CookieView>,
    /// A session cookie that is not Flask's or whose signature is wrong.
    pub forged_session: bool,
    /// The user id of a remember cookie (Flask-Login's `remember_token`).
    pub remember_user: Option<&'a str>,
}

/// Why the door logged a browser out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The admin revoked this sign-in.
    Revoked,
    /// Force logout: everyone signed in before it.
    ForcedOut,
    /// A session cookie that YAM's secret did not sign.
    Forged,
}

/// Whether a request's session goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    Pass,
    /// Take the session and remember cookies out of the request and clear them in the
    /// answer: YAM sees a browser that is not signed in (its login page, one redirect).
    LogOut(Ended),
}

/// What an answer did to the session cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Left it alone.
    Untouched,
    /// Set it; `expires`: the cookie's own expiry (Unix seconds), when it has one.
    Set {
        view: CookieView,
        expires: Option<u64>,
    },
    /// Cleared it (logout).
    Cleared,
}

/// What to do with the companion cookie in the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Companion {
    Keep,
    /// Set it to this id, expiring with the session (Unix seconds).
    Set {
        id: String,
        expires: u64,
    },
    Clear,
    /// The sign-in was revoked, or everyone logged out, while this request was under way:
    /// whatever session the answer sets is cleared (with the remember and companion cookies).
    LogOut,
}

/// One sign-in, as the sessions table lists it (times in Unix milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    pub id: String,
    pub user_id: String,
    pub username: Option<String>,
    /// When the login was seen; `None` for a browser signed in before the door saw it.
    pub signed_in_at: Option<u64>,
    /// When the door first saw it.
    pub seen_at: u64,
    pub last_activity: u64,
    pub expires_at: u64,
    /// Whether `expires_at` is the cookie's own expiry (else the lifetime after the last
    /// request, which slides).
    pub cookie_expiry: bool,
    pub client: Client,
}

#[derive(Debug)]
pub struct SignIns {
    /// A session without an expiry of its own lasts this long after its last request
    /// (YAM's lifetime for the mode).
    lifetime_ms: u64,
    live: HashMap<String, SignIn>,
    state: Persisted,
    logins_seen: u64,
    /// Sign-ins YAM ended itself (an answer cleared the cookie), newest last.
    ended_by_yam: VecDeque<(u64, String)>,
    /// Bumped when the counts may have changed, and when the kept state did: a request that
    /// only continues a sign-in changes neither, and costs no recount or write.
    counts_version: u64,
    state_version: u64,
}

/// How many ends by YAM are remembered (for "what did the last mode switch do").
const ENDED_KEPT: usize = 1000;

/// Answers this close together, for one user from one browser, first seen signed in: one
/// sign-in.
const TWIN_WINDOW_MS: u64 = 10_000;

/// A new companion id: 128 random bits, hex.
pub fn new_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

/// A companion id as the door sets it (32 lowercase hex).
pub fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl SignIns {
    pub fn new(lifetime_ms: u64, state: Persisted) -> Self {
        Self {
            lifetime_ms,
            live: HashMap::new(),
            state,
            logins_seen: 0,
            ended_by_yam: VecDeque::new(),
            counts_version: 0,
            state_version: 0,
        }
    }

    /// (counts, kept state) versions: compare before and after a call to know what changed.
    pub fn versions(&self) -> (u64, u64) {
        (self.counts_version, self.state_version)
    }

    pub fn set_lifetime(&mut self, lifetime_ms: u64) {
        self.lifetime_ms = lifetime_ms;
    }

    pub fn persisted(&self) -> &Persisted {
        &self.state
    }

    /// Whether `request` may go through as signed in.
    pub fn admit(&self, request: &Request<'_>) -> Admit {
        if let Some(c) = request.companion
            && self.state.revoked.contains_key(c)
        {
            return Admit::LogOut(Ended::Revoked);
        }
        if request.forged_session {
            return Admit::LogOut(Ended::Forged);
        }
        if let Some(forced_at) = self.state.logged_out_at
            && let Some(view) = &request.session
            && view.user.is_some()
        {
            let fresh_sign_in = request
                .companion
                .and_then(|c| self.live.get(c))
                .is_some_and(|s| s.seen_at > forced_at);
            // Signed before the force logout (or within its second, unless the door saw this
            // sign-in begin after it): that browser was logged out.
            if !fresh_sign_in && view.signed_at.saturating_mul(1000) <= forced_at {
                return Admit::LogOut(Ended::ForcedOut);
            }
        }
        if request.session.as_ref().is_some_and(|v| v.user.is_some()) {
            return Admit::Pass;
        }
        // No one signed in by the session: a remember cookie would sign the browser in by
        // itself — not after a force logout or a revoke, until its user signs in again.
        self.state.admit_remember(request.remember_user)
    }

    /// Follows an answer: the sign-in it began, continued or ended. `admitted`: what the
    /// request's session was after `admit` (`None` when it was taken out); `started_ms`: when
    /// the request came in.
    pub fn answer(
        &mut self,
        companion: Option<&str>,
        admitted: Option<&CookieView>,
        answer: &Answer,
        client: Client,
        (started_ms, now_ms): (u64, u64),
    ) -> Companion {
        let revoked = companion.is_some_and(|c| self.state.revoked.contains_key(c));
        let forced = self.state.logged_out_at.is_some_and(|t| t >= started_ms);
        let companion = companion.filter(|c| valid_id(c) && !revoked);
        let (now_user, cookie_expires, new_cookie) = match answer {
            Answer::Set { view, expires } => (view.user.clone(), *expires, true),
            Answer::Cleared => (None, None, true),
            Answer::Untouched => (admitted.and_then(|v| v.user.clone()), None, false),
        };
        if (revoked || forced) && now_user.is_some() {
            return Companion::LogOut;
        }
        let before = admitted.and_then(|v| v.user.as_ref().map(|(id, _)| id.clone()));
        let Some((user_id, username)) = now_user else {
            // Nobody signed in now: a logout ends the sign-in the companion names.
            return match companion.and_then(|c| self.live.remove(c)) {
                Some(s) => {
                    self.counts_version += 1;
                    if self.ended_by_yam.len() == ENDED_KEPT {
                        self.ended_by_yam.pop_front();
                    }
                    self.ended_by_yam.push_back((now_ms, s.id));
                    Companion::Clear
                }
                None if new_cookie && companion.is_some() => Companion::Clear,
                None => Companion::Keep,
            };
        };
        let login = new_cookie && before.as_deref() != Some(user_id.as_str());
        if login {
            self.logins_seen += 1;
            self.counts_version += 1;
            if self.state.signed_in_again(&user_key(&user_id)) {
                self.state_version += 1;
            }
        }
        let expires_ms = cookie_expires
            .map(|s| s.saturating_mul(1000))
            .unwrap_or(now_ms + self.lifetime_ms);
        // The same browser, the same user: the sign-in goes on.
        if let Some(c) = companion
            && let Some(s) = self.live.get_mut(c)
            && s.user_id == user_id
            && !login
        {
            s.last_activity = now_ms;
            // The cookie's own expiry, as YAM set it last, wins (a mode switch shortens it);
            // without one the lifetime slides from each request.
            match cookie_expires {
                Some(_) => (s.expires_at, s.cookie_expiry) = (expires_ms, true),
                None if !s.cookie_expiry => s.expires_at = s.expires_at.max(expires_ms),
                None => {}
            }
            if username.is_some() {
                s.username = username;
            }
            s.client = client;
            return Companion::Keep;
        }
        // A new sign-in (a login, another user, or a browser the door had not seen yet).
        if let Some(c) = companion {
            self.live.remove(c);
        }
        self.counts_version += 1;
        let adopt = companion.filter(|_| !login).map(str::to_owned);
        // A browser seen signed in for the first time often asks for several things at once
        // (a page and its assets): each answer would start a sign-in; they are one.
        let twin = (adopt.is_none() && !login)
            .then(|| {
                self.live.values().find(|s| {
                    s.signed_in_at.is_none()
                        && s.user_id == user_id
                        && s.client == client
                        && now_ms.saturating_sub(s.seen_at) <= TWIN_WINDOW_MS
                })
            })
            .flatten()
            .map(|s| s.id.clone());
        if let Some(id) = twin {
            let expires = self.live.get(&id).map_or(0, |s| s.expires_at / 1000);
            return Companion::Set { id, expires };
        }
        let Some(id) = adopt.clone().or_else(new_id) else {
            return Companion::Keep;
        };
        self.live.insert(
            id.clone(),
            SignIn {
                id: id.clone(),
                user_id,
                username,
                signed_in_at: login.then_some(now_ms),
                seen_at: now_ms,
                last_activity: now_ms,
                expires_at: expires_ms,
                cookie_expiry: cookie_expires.is_some(),
                client,
            },
        );
        match adopt {
            Some(_) => Companion::Keep,
            None => Companion::Set {
                id,
                expires: expires_ms / 1000,
            },
        }
    }

    /// Ends one sign-in: its browser is logged out when it comes back. Whether it was live.
    pub fn revoke(&mut self, id: &str, now_ms: u64) -> bool {
        let Some(s) = self.live.remove(id) else {
            return false;
        };
        self.counts_version += 1;
        self.state_version += 1;
        self.state
            .revoked
            .insert(id.to_owned(), s.expires_at.max(now_ms));
        self.state.remember_refused.insert(user_key(&s.user_id));
        true
    }

    /// Ends every sign-in: every session signed before now is refused from now on (persisted,
    /// so neither a supervisor restart nor an old cookie brought back undoes it). How many
    /// the door knew of.
    pub fn force_logout(&mut self, now_ms: u64) -> usize {
        let n = self.live.len();
        self.live.clear();
        self.state.logged_out_at = Some(now_ms);
        self.state.back_since_logout.clear();
        self.counts_version += 1;
        self.state_version += 1;
        n
    }

    /// Forgets what has expired. Whether anything changed.
    pub fn expire(&mut self, now_ms: u64) -> bool {
        let before = (self.live.len(), self.state.revoked.len());
        self.live.retain(|_, s| s.expires_at > now_ms);
        self.state.revoked.retain(|_, until| *until > now_ms);
        if self.live.len() != before.0 {
            self.counts_version += 1;
        }
        if self.state.revoked.len() != before.1 {
            self.state_version += 1;
        }
        before != (self.live.len(), self.state.revoked.len())
    }

    pub fn counts(&self, now_ms: u64, soon_ms: u64) -> Counts {
        let mut per_user: BTreeMap<&str, UserCount> = BTreeMap::new();
        let mut soon = 0;
        for s in self.live.values().filter(|s| s.expires_at > now_ms) {
            let entry = per_user.entry(&s.user_id).or_insert_with(|| UserCount {
                user_id: s.user_id.clone(),
                username: s.username.clone(),
                sessions: 0,
            });
            entry.sessions += 1;
            soon += usize::from(s.expires_at <= now_ms + soon_ms);
        }
        let live: usize = per_user.values().map(|u| u.sessions).sum();
        let users: HashSet<&str> = per_user.keys().copied().collect();
        Counts {
            live,
            authenticated: live,
            anonymous: 0,
            users: users.len(),
            per_user: per_user.into_values().collect(),
            expiring_soon: soon,
            damaged: 0,
            logins_seen: self.logins_seen,
        }
    }

    /// The ids of the live sign-ins.
    pub fn live_ids(&self, now_ms: u64) -> Vec<String> {
        self.live
            .values()
            .filter(|s| s.expires_at > now_ms)
            .map(|s| s.id.clone())
            .collect()
    }

    /// How many of `among` YAM ended itself since `since_ms`.
    pub fn ended_by_yam_since(&self, since_ms: u64, among: &[String]) -> usize {
        let ended: HashSet<&str> = self
            .ended_by_yam
            .iter()
            .filter(|(at, _)| *at >= since_ms)
            .map(|(_, id)| id.as_str())
            .collect();
        among
            .iter()
            .filter(|id| ended.contains(id.as_str()))
            .count()
    }

    /// Every live sign-in, most recently active first.
    pub fn list(&self, now_ms: u64) -> Vec<SignIn> {
        let mut all: Vec<SignIn> = self
            .live
            .values()
            .filter(|s| s.expires_at > now_ms)
            .cloned()
            .collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.last_activity));
        all
    }
}
