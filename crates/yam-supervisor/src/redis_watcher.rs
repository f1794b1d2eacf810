//! Live counts and the sessions table when sessions live in Redis: yam-server's layout (read
//! through `RedisStore`: a poll of its change mark, the expiry index re-read only when it
//! moved) or Flask-Session's `session:<sid>` keys (a SCAN each second). Runs on its own thread;
//! Redis being down keeps the last counts and logs once, never stops the supervisor.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;
use yam_sessions::store::IndexEntry;
use yam_sessions::{
    Clock, RecordSeal, RedisStore, SessionKey, SessionStore, StoreError, SystemClock, UserId,
};

use crate::readers::{FileInfo, flask_redis};
use crate::status::SessionRow;
use crate::tally::{Counts, Tally, UserCount};
use crate::watcher::SOON;

/// How often the change mark is read (yam-server's layout): one tiny GET.
pub const POLL: Duration = Duration::from_millis(100);
/// How often Flask-Session's keys are scanned (a SCAN reads every key name).
pub const FLASK_POLL: Duration = Duration::from_secs(1);
/// The index is re-read this often even when the mark did not move (Redis expiring keys on
/// its own moves nothing).
const FULL_EVERY: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Usernames looked up per poll for users seen for the first time.
const NAMES_PER_POLL: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisLayout {
    /// yam-server `--store redis://…`: `<prefix>all`, `<prefix>s:<hex>`…
    Yam,
    /// Flask-Session `SESSION_TYPE = "redis"`: `<prefix><sid>`.
    Flask,
}

/// Where sessions are in Redis, and in which layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisSource {
    pub url: String,
    pub prefix: String,
    pub layout: RedisLayout,
}

#[derive(Debug, thiserror::Error)]
pub enum RedisSessionsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Redis at {0}: {1}")]
    Redis(String, String),
}

struct Shared {
    counts: watch::Sender<Counts>,
    /// Flask layout: the sessions found by the last scan (key without the prefix).
    rows: Mutex<Vec<(String, FileInfo)>>,
    refresh: AtomicBool,
    stop: AtomicBool,
}

pub struct RedisWatcher {
    source: RedisSource,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl RedisWatcher {
    pub fn start(source: RedisSource) -> Self {
        let (counts, _) = watch::channel(Counts::default());
        let shared = Arc::new(Shared {
            counts,
            rows: Mutex::new(Vec::new()),
            refresh: AtomicBool::new(true),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let (source, shared) = (source.clone(), Arc::clone(&shared));
            std::thread::Builder::new()
                .name("redis-sessions".into())
                .spawn(move || run(&source, &shared))
                .ok()
        };
        Self {
            source,
            shared,
            thread,
        }
    }

    pub fn source(&self) -> &RedisSource {
        &self.source
    }

    pub fn counts(&self) -> watch::Receiver<Counts> {
        self.shared.counts.subscribe()
    }

    pub fn current(&self) -> Counts {
        self.shared.counts.borrow().clone()
    }

    /// Re-reads at the next poll (after an action changed sessions).
    pub fn refresh(&self) {
        self.shared.refresh.store(true, Ordering::Relaxed);
    }

    /// Flask layout: the sessions of the last scan.
    pub fn scanned(&self) -> Vec<(String, FileInfo)> {
        self.shared.rows.lock().clone()
    }
}

impl Drop for RedisWatcher {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Logins seen since the watcher started: keys that were not there at the previous read (the
/// first read only learns what exists).
#[derive(Debug, Default)]
pub struct LoginCounter {
    known: HashSet<SessionKey>,
    started: bool,
    pub logins: u64,
}

impl LoginCounter {
    pub fn update(&mut self, entries: &[IndexEntry]) {
        let now: HashSet<SessionKey> = entries.iter().map(|e| e.key).collect();
        if self.started {
            self.logins += now.difference(&self.known).count() as u64;
        }
        self.started = true;
        self.known = now;
    }
}

/// Counts from yam-server's expiry index (every session there is signed in).
pub fn yam_counts(
    entries: &[IndexEntry],
    names: &HashMap<UserId, String>,
    now: yam_sessions::Timestamp,
    logins_seen: u64,
) -> Counts {
    let counts = yam_sessions::store::counts_of(entries, now, SOON);
    Counts {
        live: counts.live,
        authenticated: counts.live,
        anonymous: 0,
        users: counts.users,
        per_user: counts
            .per_user
            .iter()
            .map(|(id, n)| UserCount {
                user_id: id.to_string(),
                username: names.get(id).cloned(),
                sessions: *n,
            })
            .collect(),
        expiring_soon: counts.expiring_soon,
        damaged: 0,
        logins_seen,
    }
}

fn publish(shared: &Shared, counts: Counts) {
    shared.counts.send_if_modified(|old| {
        let changed = *old != counts;
        *old = counts;
        changed
    });
}

/// Logs the first failure of a streak and the recovery, not every poll.
#[derive(Default)]
struct Health {
    failing: bool,
}

impl Health {
    fn result<T>(&mut self, what: &str, r: Result<T, RedisSessionsError>) -> Option<T> {
        match r {
            Ok(v) => {
                if std::mem::take(&mut self.failing) {
                    tracing::info!("{what}: Redis answers again");
                }
                Some(v)
            }
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!("{what}: {e}; counts are kept as they were until it answers");
                }
                None
            }
        }
    }
}

fn run(source: &RedisSource, shared: &Shared) {
    match source.layout {
        RedisLayout::Yam => run_yam(source, shared),
        RedisLayout::Flask => run_flask(source, shared),
    }
}

/// The supervisor counts and lists; it logs nobody in: records are read unchecked (their seals
/// are the servers' business), so a planted record could at most show a false name here.
fn run_yam(source: &RedisSource, shared: &Shared) {
    let store = match RedisStore::open(&source.url, &source.prefix, RecordSeal::Unchecked) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot count sessions in Redis: {e}");
            return;
        }
    };
    let mut health = Health::default();
    let mut entries: Vec<IndexEntry> = Vec::new();
    let mut mark = None;
    let mut next_full = Instant::now();
    let mut logins = LoginCounter::default();
    let mut names: HashMap<UserId, String> = HashMap::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let now = SystemClock.now();
        let current = health.result("counting sessions", store.change_mark().map_err(Into::into));
        let due = shared.refresh.load(Ordering::Relaxed) || Instant::now() >= next_full;
        let read = match current {
            Some(_) if current != mark || due => health.result(
                "counting sessions",
                store.live_index(now).map_err(Into::into),
            ),
            _ => None,
        };
        if let Some(read) = read {
            shared.refresh.store(false, Ordering::Relaxed);
            entries = read;
            mark = current;
            next_full = Instant::now() + FULL_EVERY;
            logins.update(&entries);
            learn_names(&store, &entries, &mut names);
        }
        publish(shared, yam_counts(&entries, &names, now, logins.logins));
        std::thread::sleep(POLL);
    }
}

fn learn_names(store: &RedisStore, entries: &[IndexEntry], names: &mut HashMap<UserId, String>) {
    let unknown: Vec<UserId> = entries
        .iter()
        .map(|e| e.user_id)
        .filter(|id| !names.contains_key(id))
        .collect::<HashSet<_>>()
        .into_iter()
        .take(NAMES_PER_POLL)
        .collect();
    for id in unknown {
        if let Some(s) = store
            .list_by_user(id)
            .ok()
            .and_then(|l| l.into_iter().next())
        {
            names.insert(id, s.record.username.clone());
        }
    }
}

fn run_flask(source: &RedisSource, shared: &Shared) {
    let mut health = Health::default();
    let mut tally = Tally::default();
    let mut next = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        if shared.refresh.swap(false, Ordering::Relaxed) || Instant::now() >= next {
            next = Instant::now() + FLASK_POLL;
            if let Some(found) =
                health.result("counting Flask-Session sessions", scan_flask(source))
            {
                // The tally keeps one entry per "file"; here a key under a pseudo-folder.
                let folder = Path::new("redis");
                tally.replace_dir(
                    folder,
                    found
                        .iter()
                        .map(|(sid, info)| (folder.join(sid), info.clone()))
                        .collect(),
                );
                *shared.rows.lock() = found;
            }
        }
        publish(shared, tally.counts(SystemClock.now(), SOON));
        std::thread::sleep(POLL);
    }
}

fn flask_error(source: &RedisSource, e: &redis::RedisError) -> RedisSessionsError {
    RedisSessionsError::Redis(redact(&source.url), e.to_string())
}

fn connect(source: &RedisSource) -> Result<redis::Connection, RedisSessionsError> {
    let client = redis::Client::open(source.url.as_str()).map_err(|e| flask_error(source, &e))?;
    let conn = client
        .get_connection_with_timeout(CONNECT_TIMEOUT)
        .map_err(|e| flask_error(source, &e))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| flask_error(source, &e))?;
    Ok(conn)
}

fn flask_keys(
    source: &RedisSource,
    conn: &mut redis::Connection,
) -> Result<Vec<String>, RedisSessionsError> {
    redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("MATCH")
        .arg(format!(
            "{}*",
            yam_sessions::store::glob_escape(&source.prefix)
        ))
        .arg("COUNT")
        .arg(1000)
        .clone()
        .iter::<String>(conn)
        .and_then(|keys| keys.collect::<Result<Vec<_>, _>>())
        .map_err(|e| flask_error(source, &e))
}

/// A Flask-Session value larger than this is damaged (a session is a few hundred bytes).
const MAX_VALUE: usize = 256 * 1024;

/// Every Flask-Session key with what its value says (sid without the prefix).
pub fn scan_flask(source: &RedisSource) -> Result<Vec<(String, FileInfo)>, RedisSessionsError> {
    let mut conn = connect(source)?;
    let keys = flask_keys(source, &mut conn)?;
    let now = SystemClock.now();
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for key in chunk {
            // Never more than a session can be: a huge value is damaged, not read.
            pipe.cmd("STRLEN")
                .arg(key)
                .cmd("GETRANGE")
                .arg(key)
                .arg(0)
                .arg(MAX_VALUE - 1)
                .cmd("PTTL")
                .arg(key);
        }
        let values: Vec<(usize, Vec<u8>, i64)> =
            pipe.query(&mut conn).map_err(|e| flask_error(source, &e))?;
        for (key, (len, value, ttl_ms)) in chunk.iter().zip(values) {
            if len == 0 {
                continue;
            }
            let expires = (ttl_ms >= 0).then(|| now.plus(Duration::from_millis(ttl_ms as u64)));
            let sid = key.strip_prefix(&source.prefix).unwrap_or(key).to_owned();
            let info = if len > MAX_VALUE {
                FileInfo::damaged_until(expires)
            } else {
                std::panic::catch_unwind(|| flask_redis::parse(&value, expires))
                    .unwrap_or_else(|_| FileInfo::damaged_until(expires))
            };
            found.push((sid, info));
        }
    }
    Ok(found)
}

/// Ends every session in the source (force logout with the server stopped); how many.
pub fn clear(source: &RedisSource) -> Result<usize, RedisSessionsError> {
    match source.layout {
        RedisLayout::Yam => {
            Ok(
                RedisStore::open(&source.url, &source.prefix, RecordSeal::Unchecked)?
                    .delete_all()?,
            )
        }
        RedisLayout::Flask => {
            let mut conn = connect(source)?;
            let keys = flask_keys(source, &mut conn)?;
            let mut n = 0usize;
            for chunk in keys.chunks(500) {
                n += redis::cmd("DEL")
                    .arg(chunk)
                    .query::<usize>(&mut conn)
                    .map_err(|e| flask_error(source, &e))?;
            }
            Ok(n)
        }
    }
}

/// Ends one session; whether it existed.
pub fn revoke(source: &RedisSource, key: &str) -> Result<bool, RedisSessionsError> {
    match source.layout {
        RedisLayout::Yam => {
            let Some(key) = SessionKey::parse_hex(key) else {
                return Ok(false);
            };
            Ok(
                RedisStore::open(&source.url, &source.prefix, RecordSeal::Unchecked)?
                    .delete(&key)?,
            )
        }
        RedisLayout::Flask => {
            let mut conn = connect(source)?;
            let n: usize = redis::cmd("DEL")
                .arg(format!("{}{key}", source.prefix))
                .query(&mut conn)
                .map_err(|e| flask_error(source, &e))?;
            Ok(n > 0)
        }
    }
}

/// The sessions table from yam-server's layout (the server being stopped).
pub fn yam_rows(source: &RedisSource) -> Result<Vec<SessionRow>, RedisSessionsError> {
    let store = RedisStore::open(&source.url, &source.prefix, RecordSeal::Unchecked)?;
    let now = SystemClock.now();
    Ok(store
        .list()?
        .into_iter()
        .filter(|s| !s.record.is_expired(now))
        .map(|s| SessionRow {
            key: s.key.to_hex(),
            user_id: Some(s.record.user_id.to_string()),
            username: Some(s.record.username.clone()),
            created_at: Some(s.record.created.to_rfc3339()),
            last_activity: Some(s.record.last_seen.to_rfc3339()),
            expires_at: Some(s.record.expires_at.to_rfc3339()),
            ip: s.record.client.ip.clone(),
            user_agent: s.record.client.user_agent.clone(),
            damaged: false,
        })
        .collect())
}

pub use yam_sessions::store::redact;

#[cfg(test)]
mod tests {
    use super::*;
    use yam_sessions::Timestamp;

    fn entry(user: UserId, n: u8, expires: i64) -> IndexEntry {
        IndexEntry {
            user_id: user,
            key: SessionKey::parse_hex(&format!("{n:02x}").repeat(32)).expect("key"),
            expires_at: Timestamp(expires),
        }
    }

    #[test]
    fn counts_and_logins_from_the_index() {
        let now = Timestamp(1_000_000);
        let mut logins = LoginCounter::default();
        let first = [entry(1, 1, 2_000_000_000), entry(1, 2, 2_000_000_000)];
        logins.update(&first);
        assert_eq!(
            logins.logins, 0,
            "what exists at the first read is not a login"
        );
        let second = [
            first[0],
            entry(2, 3, now.plus(Duration::from_secs(60)).0),
            entry(3, 4, 10),
        ];
        logins.update(&second);
        assert_eq!(logins.logins, 2);
        let names = HashMap::from([(2, "bob".to_owned())]);
        let c = yam_counts(&second, &names, now, logins.logins);
        assert_eq!(
            (c.live, c.users, c.expiring_soon, c.logins_seen),
            (2, 2, 1, 2)
        );
        assert_eq!(c.per_user[1].username.as_deref(), Some("bob"));
        assert_eq!(c.per_user[0].username, None);
    }
}
