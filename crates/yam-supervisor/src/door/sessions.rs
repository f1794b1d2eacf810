//! Sessions seen at the door, for a YAM whose sessions are Flask's signed cookies: every
//! request's session cookie is read (and checked with YAM's secret when it is known), each
//! browser's sign-in is followed with a companion cookie of the door's own, and a revoked or
//! force-logged-out browser has its session and remember cookies taken out of its requests
//! and cleared in the answer, so YAM shows it its own login page. Cookie values are never
//! logged or kept; only what the sessions table shows is, in memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::http::{HeaderMap, HeaderValue, header};
use parking_lot::Mutex;
use tokio::sync::watch;
use yam_sessions::{Clock as _, SystemClock};

use super::cookie_jar::{self, SetCookie};
use crate::readers::flask_cookie::{self, CookieError, Secrets};
use crate::signins::{Admit, Answer, Client, Companion, CookieView, Persisted, SignIns};
use crate::tally::Counts;

/// The door's kept state (force logout, revocations), in the data folder.
pub const SESSIONS_FILE: &str = "door-sessions.json";
/// The door's own cookie that follows one sign-in.
pub const COMPANION: &str = "yam_tray_sid";
/// "Expiring soon" in the counts: within 10 minutes.
const SOON_MS: u64 = 10 * 60 * 1000;

/// How to read YAM's cookies.
#[derive(Clone, Debug)]
pub struct CookieRules {
    pub session: String,
    pub remember: String,
    /// The payload fields that hold the user's id, first found wins.
    pub id_fields: Vec<String>,
    pub name_field: String,
    /// YAM's secret keys; `None`: counts are unverified claims.
    pub secrets: Option<Secrets>,
    /// A session without an expiry of its own lasts this long after its last request.
    pub lifetime_ms: u64,
    /// Where the force logout and revocations are kept.
    pub state_file: PathBuf,
}

/// What YAM's own cookies say of the secret the door checks with: the first cookie YAM sets
/// decides (and again while it does not match, so a corrected YAM is noticed). Until then a
/// cookie that fails the check is not counted but goes to YAM, which decides; a secret that
/// does not match is not used, so a wrong key in Settings never locks browsers out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SecretCheck {
    /// No secret: counts are the cookies' claims.
    NoSecret,
    /// Not proven yet by a cookie YAM set.
    Unconfirmed,
    /// YAM's cookies verify with it: a cookie that does not is forged.
    Confirmed,
    /// YAM's cookies do not verify with it.
    Mismatch,
}

impl SecretCheck {
    fn from_u8(n: u8) -> Self {
        match n {
            1 => Self::Unconfirmed,
            2 => Self::Confirmed,
            3 => Self::Mismatch,
            _ => Self::NoSecret,
        }
    }
}

pub struct DoorSessions {
    rules: CookieRules,
    registry: Mutex<SignIns>,
    counts: watch::Sender<Counts>,
    secret: AtomicU8,
}

/// What the door noted about a request, for its answer.
pub struct Pending {
    companion: Option<String>,
    admitted: Option<CookieView>,
    logged_out: bool,
    started_ms: u64,
    client: Client,
}

/// Now, in Unix milliseconds (the sign-ins' clock).
pub fn now_ms() -> u64 {
    u64::try_from(SystemClock.now().as_millis()).unwrap_or(0)
}

impl DoorSessions {
    /// Loads the kept state (a damaged file starts afresh: the warning says so).
    pub fn open(rules: CookieRules) -> (Arc<Self>, Option<String>) {
        let (state, warning) = Persisted::load(&rules.state_file);
        let registry = SignIns::new(rules.lifetime_ms, state);
        let (counts, _) = watch::channel(registry.counts(now_ms(), SOON_MS));
        let secret = match rules.secrets {
            Some(_) => SecretCheck::Unconfirmed,
            None => SecretCheck::NoSecret,
        };
        let this = Arc::new(Self {
            rules,
            registry: Mutex::new(registry),
            counts,
            secret: AtomicU8::new(secret as u8),
        });
        (this, warning)
    }

    /// YAM's lifetime for the mode changed (a toggle): applies from each sign-in's next request.
    pub fn set_lifetime(&self, lifetime_ms: u64) {
        self.registry.lock().set_lifetime(lifetime_ms);
    }

    /// Whether cookies are checked with a secret not proven wrong.
    pub fn verified(&self) -> bool {
        !matches!(
            self.secret_check(),
            SecretCheck::NoSecret | SecretCheck::Mismatch
        )
    }

    pub fn secret_check(&self) -> SecretCheck {
        SecretCheck::from_u8(self.secret.load(Ordering::Relaxed))
    }

    /// Checks a cookie YAM itself just set against the secret: every one until one verifies,
    /// then those that begin a sign-in (`sign_in`: the request had no proven session), so YAM
    /// restarted with another key is noticed at its next login — not every answer, which would
    /// double a request's cost at the door.
    fn learn_secret(&self, value: &str, sign_in: bool) {
        let now = self.secret_check();
        let check = match now {
            SecretCheck::NoSecret => false,
            SecretCheck::Unconfirmed | SecretCheck::Mismatch => true,
            SecretCheck::Confirmed => sign_in,
        };
        let Some(secrets) = self.rules.secrets.as_ref().filter(|_| check) else {
            return;
        };
        let next = match flask_cookie::read(value, Some(secrets)) {
            Ok(_) => SecretCheck::Confirmed,
            Err(CookieError::BadSignature) => SecretCheck::Mismatch,
            Err(_) => return,
        };
        if next != now {
            self.secret.store(next as u8, Ordering::Relaxed);
            match next {
                SecretCheck::Mismatch => tracing::warn!(
                    "the secret key the door checks with does not match the one YAM signs its \
                     cookies with: sessions are counted unverified"
                ),
                _ => tracing::info!("YAM's cookies verify with its secret key"),
            }
        }
    }

    pub fn counts(&self) -> watch::Receiver<Counts> {
        self.counts.subscribe()
    }

    pub fn rules(&self) -> &CookieRules {
        &self.rules
    }

    fn publish(&self, registry: &SignIns) {
        let counts = registry.counts(now_ms(), SOON_MS);
        self.counts.send_if_modified(|c| {
            let changed = *c != counts;
            *c = counts;
            changed
        });
    }

    fn save(&self, registry: &SignIns) {
        if let Err(e) = registry.persisted().save(&self.rules.state_file) {
            tracing::warn!("could not save {}: {e}", self.rules.state_file.display());
        }
    }

    /// `checked`: verify the signature (a browser's cookie); YAM's own answers need not be.
    fn read_session(&self, value: &str, checked: bool) -> Result<CookieView, CookieError> {
        let secrets = self
            .rules
            .secrets
            .as_ref()
            .filter(|_| checked && self.secret_check() != SecretCheck::Mismatch);
        let cookie = flask_cookie::read(value, secrets)?;
        Ok(CookieView {
            user: flask_cookie::who(&cookie, &self.rules.id_fields, &self.rules.name_field),
            signed_at: cookie.signed_at,
        })
    }

    /// Reads a request before it goes to YAM; takes a logged-out browser's cookies out.
    pub fn on_request(&self, headers: &mut HeaderMap, client: Client) -> Pending {
        let started_ms = now_ms();
        let mut session = None;
        // A cookie that failed a check with a key not proven yet: what it claims, weighed
        // against a force logout only (never counted).
        let mut unproven = None;
        let mut forged = false;
        let mut remember = None;
        let mut companion = None;
        for c in cookie_jar::request_cookies(headers) {
            let name = c.name();
            if name == self.rules.session && session.is_none() && !forged {
                match self.read_session(c.value(), true) {
                    Ok(view) => session = Some(view),
                    // Forged, once YAM's own cookies proved the secret; before that, not
                    // counted, and YAM decides.
                    Err(CookieError::BadSignature) => {
                        forged = self.secret_check() == SecretCheck::Confirmed;
                        // A forged one is refused whatever it claims: read no further.
                        if !forged {
                            unproven = self.read_session(c.value(), false).ok();
                        }
                    }
                    // Not a signed Flask session (or garbage): YAM decides.
                    Err(_) => {}
                }
            } else if name == self.rules.remember && remember.is_none() {
                remember = cookie_jar::remember_user(c.value());
            } else if name == COMPANION && companion.is_none() {
                companion = Some(c.value().to_owned());
            }
        }
        let request = crate::signins::Request {
            companion: companion.as_deref(),
            session: session.clone().or(unproven),
            forged_session: forged,
            remember_user: remember.as_deref(),
        };
        let admit = self.registry.lock().admit(&request);
        let logged_out = admit != Admit::Pass;
        if logged_out {
            cookie_jar::strip(
                headers,
                &[&self.rules.session, &self.rules.remember, COMPANION],
            );
        }
        Pending {
            companion,
            admitted: if logged_out { None } else { session },
            logged_out,
            started_ms,
            client,
        }
    }

    /// What YAM's answer did to the session cookie.
    fn answered(&self, headers: &HeaderMap, sign_in: bool) -> Answer {
        match cookie_jar::answered(headers, &self.rules.session, now_ms() / 1000) {
            None => Answer::Untouched,
            Some(SetCookie::Cleared) => Answer::Cleared,
            Some(SetCookie::Set { value, expires }) => {
                self.learn_secret(&value, sign_in);
                match self.read_session(&value, false) {
                    Ok(view) => Answer::Set { view, expires },
                    Err(_) => Answer::Untouched,
                }
            }
        }
    }

    /// Follows YAM's answer: the sign-in it began, continued or ended, and the cookies to set.
    pub fn on_answer(&self, pending: Pending, headers: &mut HeaderMap) {
        let answer = self.answered(headers, pending.admitted.is_none());
        let mut registry = self.registry.lock();
        let before = registry.versions();
        let fresh_login = matches!(&answer, Answer::Set { view, .. } if view.user.is_some());
        let companion = match (pending.logged_out, fresh_login) {
            // The browser's old cookies were taken out, and YAM signed it in anew (its login
            // form): a new sign-in, not the one that ended.
            (true, true) => registry.answer(
                None,
                None,
                &answer,
                pending.client,
                (pending.started_ms, now_ms()),
            ),
            (true, false) => Companion::LogOut,
            (false, _) => registry.answer(
                pending.companion.as_deref(),
                pending.admitted.as_ref(),
                &answer,
                pending.client,
                (pending.started_ms, now_ms()),
            ),
        };
        match companion {
            Companion::Keep => {}
            Companion::Set { id, expires } => {
                let at = chrono::DateTime::from_timestamp(i64::try_from(expires).unwrap_or(0), 0)
                    .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
                    .unwrap_or_default();
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "{COMPANION}={id}; Path=/; Expires={at}; HttpOnly; SameSite=Lax"
                )) {
                    headers.append(header::SET_COOKIE, v);
                }
            }
            Companion::Clear => cookie_jar::clear(headers, COMPANION),
            Companion::LogOut => self.log_out(
                headers,
                matches!(
                    answer,
                    Answer::Set {
                        view: CookieView { user: None, .. },
                        ..
                    }
                ),
            ),
        }
        self.after(&registry, before);
    }

    /// Publishes the counts and saves the kept state, when they changed since `before`.
    fn after(&self, registry: &SignIns, before: (u64, u64)) {
        let now = registry.versions();
        if now.0 != before.0 {
            self.publish(registry);
        }
        if now.1 != before.1 {
            self.save(registry);
        }
    }

    /// Clears the session (unless YAM just set an anonymous one), remember and companion
    /// cookies in an answer.
    fn log_out(&self, headers: &mut HeaderMap, anonymous_session_set: bool) {
        let mut names = vec![self.rules.remember.as_str(), COMPANION];
        if !anonymous_session_set {
            names.push(&self.rules.session);
        }
        cookie_jar::clear_all(headers, &names);
    }

    /// Ends one sign-in (saved at once).
    pub fn revoke(&self, id: &str) -> bool {
        let mut registry = self.registry.lock();
        let ended = registry.revoke(id, now_ms());
        if ended {
            self.save(&registry);
            self.publish(&registry);
        }
        ended
    }

    /// Ends every sign-in (saved at once): how many the door knew of.
    pub fn force_logout(&self) -> usize {
        let mut registry = self.registry.lock();
        let n = registry.force_logout(now_ms());
        self.save(&registry);
        self.publish(&registry);
        n
    }

    pub fn live_ids(&self) -> Vec<String> {
        self.registry.lock().live_ids(now_ms())
    }

    /// How many of `among` YAM ended itself (its answers cleared their cookie) since `since_ms`.
    pub fn ended_by_yam_since(&self, since_ms: u64, among: &[String]) -> usize {
        self.registry.lock().ended_by_yam_since(since_ms, among)
    }

    pub fn list(&self) -> Vec<crate::signins::SignIn> {
        self.registry.lock().list(now_ms())
    }

    /// Forgets what expired; publishes the counts (called every second).
    pub fn tick(&self) {
        let mut registry = self.registry.lock();
        let before = registry.versions();
        registry.expire(now_ms());
        // "Expiring soon" moves with time alone: published even without a change.
        self.publish(&registry);
        self.after(&registry, (registry.versions().0, before.1));
    }
}
