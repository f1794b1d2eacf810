//! Users with argon2id password hashes: the [`UserStore`] trait with its SQLite (default) and
//! PostgreSQL backends, and [`Users`], the cached directory the server and sessions use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use yam_sessions::{DirectoryUnavailable, UserDirectory, UserId, UserInfo};

mod changes;
pub mod cli;
pub mod first_run;
pub mod identity;
pub mod passwords;
mod postgres;
mod schema;
mod sqlite;

pub use postgres::PostgresUsers;
pub use sqlite::SqliteUsers;

pub use changes::UserChange;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user database {}: {cause}", path.display())]
    Db {
        path: PathBuf,
        /// Part of the message rather than `source()`, so an error chain prints it once.
        cause: rusqlite::Error,
    },
    /// The PostgreSQL database answered with an error.
    #[error("user database {what}: {cause}")]
    Postgres { what: String, cause: String },
    /// The PostgreSQL database is not answering (down, restarting, unreachable).
    #[error("user database {what} is not answering: {cause}")]
    Unavailable { what: String, cause: String },
    #[error("user database {what}: {cause}")]
    Config { what: String, cause: String },
    #[error("user database {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("a user named '{0}' already exists")]
    Exists(String),
    #[error("no user named '{0}'")]
    NotFound(String),
    #[error("invalid username '{0}': use 1-64 letters, digits, '.', '_', '-' or '@'")]
    InvalidName(String),
    /// The sentence says what is wrong with it.
    #[error("invalid email: {0}")]
    InvalidEmail(String),
    /// A username or email that would make a login name two accounts.
    #[error("{0}")]
    Ambiguous(String),
    #[error("'{0}' is the last active admin: make another user an admin first")]
    LastAdmin(String),
    #[error("the password must have at least {min} characters", min = passwords::MIN_PASSWORD_LEN)]
    WeakPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl UserError {
    /// The database cannot be reached right now; it passes by itself once it is back.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A user row as the login needs it.
#[derive(Clone, Debug)]
pub struct UserRow {
    pub info: UserInfo,
    pub email: Option<String>,
    pub password_hash: String,
    pub created_at: i64,
    /// Unix seconds of the last successful login, if any.
    pub last_login_at: Option<i64>,
}

/// Where users are kept. Every backend runs the same contract suite
/// (`tests/user_store_contract.rs`): case-insensitive names and emails, ids never reused, the
/// last active admin kept, a change mark that moves when anyone changes a user.
pub trait UserStore: Send + Sync + 'static {
    /// `SQLite <path>` or `PostgreSQL <host/db>`, without any password.
    fn describe(&self) -> String;
    fn count(&self) -> Result<i64, UserError>;
    /// Adds an active user; `Exists` when the name or email is taken (any case).
    fn add(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        is_admin: bool,
        now_secs: i64,
    ) -> Result<UserId, UserError>;
    /// Every user, by id.
    fn list(&self) -> Result<Vec<UserRow>, UserError>;
    /// A user by username or email, ignoring case; a username match first (a database from
    /// before names and emails were kept apart may have both).
    fn find_by_login(&self, login: &str) -> Result<Option<UserRow>, UserError>;
    /// A user by username only, ignoring case: what admin actions address.
    fn find_by_username(&self, username: &str) -> Result<Option<UserRow>, UserError>;
    fn set_hash(&self, id: UserId, password_hash: &str) -> Result<(), UserError>;
    /// Applies `change` in one transaction (refused with `LastAdmin` where it would leave no
    /// active admin); the user as it was before.
    fn update(&self, username: &str, change: &UserChange) -> Result<UserRow, UserError>;
    /// Removes a user (same rule); the removed row.
    fn remove(&self, username: &str) -> Result<UserRow, UserError>;
    fn record_login(&self, id: UserId, at_secs: i64) -> Result<(), UserError>;
    /// A number that changes when users change (a cheap "anything new?").
    fn change_mark(&self) -> Result<i64, UserError>;
}

/// The users of this server: a [`UserStore`] plus the in-memory directory that sessions look
/// users up in on every request.
pub struct Users {
    db: Box<dyn UserStore>,
    cache: RwLock<HashMap<UserId, UserInfo>>,
    seen_mark: Mutex<i64>,
}

pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

impl Users {
    pub fn new(db: Box<dyn UserStore>) -> Result<Self, UserError> {
        let users = Self {
            db,
            cache: RwLock::new(HashMap::new()),
            seen_mark: Mutex::new(i64::MIN),
        };
        users.reload_cache()?;
        Ok(users)
    }

    /// The SQLite database at `path` (created if missing).
    pub fn open_sqlite(path: &Path) -> Result<Self, UserError> {
        Self::new(Box::new(SqliteUsers::open(path)?))
    }

    /// `postgres://…` or the SQLite file at `sqlite_path`.
    pub fn open(database: Option<&str>, sqlite_path: &Path) -> Result<Self, UserError> {
        match database.map(str::trim).filter(|d| !d.is_empty()) {
            None => Self::open_sqlite(sqlite_path),
            Some(url) => Self::new(Box::new(PostgresUsers::open(url)?)),
        }
    }

    pub fn describe(&self) -> String {
        self.db.describe()
    }

    pub fn count(&self) -> Result<i64, UserError> {
        self.db.count()
    }

    pub fn add(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<UserId, UserError> {
        if !valid_username(username) {
            return Err(UserError::InvalidName(username.to_owned()));
        }
        if let Some(email) = email {
            identity::check_email(email).map_err(UserError::InvalidEmail)?;
        }
        if let Some(why) = identity::collision(&self.db.list()?, username, email, None) {
            return Err(UserError::Ambiguous(why));
        }
        let now = yam_sessions::Clock::now(&yam_sessions::SystemClock).as_secs();
        let id = self.db.add(username, email, password_hash, is_admin, now)?;
        self.reload_cache()?;
        Ok(id)
    }

    pub fn list(&self) -> Result<Vec<UserRow>, UserError> {
        self.db.list()
    }

    /// Finds a user by username or email, ignoring case (a login).
    pub fn find_by_login(&self, login: &str) -> Result<Option<UserRow>, UserError> {
        self.db.find_by_login(login)
    }

    /// Finds a user by username only, ignoring case (an admin action names one account).
    pub fn find_by_username(&self, username: &str) -> Result<Option<UserRow>, UserError> {
        self.db.find_by_username(username)
    }

    pub fn set_password(&self, username: &str, password_hash: &str) -> Result<UserId, UserError> {
        let user = self
            .find_by_username(username)?
            .ok_or_else(|| UserError::NotFound(username.to_owned()))?;
        self.db.set_hash(user.info.id, password_hash)?;
        Ok(user.info.id)
    }

    /// Replaces a user's hash (after a rehash with newer parameters).
    pub fn set_hash(&self, id: UserId, password_hash: &str) -> Result<(), UserError> {
        self.db.set_hash(id, password_hash)
    }

    /// Applies `change` to `username` in one transaction; the changed user.
    pub fn update(&self, username: &str, change: &UserChange) -> Result<UserRow, UserError> {
        if let Some(Some(email)) = &change.email {
            identity::check_email(email).map_err(UserError::InvalidEmail)?;
            let users = self.db.list()?;
            let me = users
                .iter()
                .find(|u| u.info.username.eq_ignore_ascii_case(username))
                .map(|u| u.info.id);
            if let Some(why) = identity::collision(&users, username, Some(email), me) {
                return Err(UserError::Ambiguous(why));
            }
        }
        let before = self.db.update(username, change)?;
        self.reload_cache()?;
        self.find_by_username(&before.info.username)?
            .ok_or_else(|| UserError::NotFound(username.to_owned()))
    }

    /// Removes a user; the removed row.
    pub fn remove(&self, username: &str) -> Result<UserRow, UserError> {
        let removed = self.db.remove(username)?;
        self.reload_cache()?;
        Ok(removed)
    }

    /// Remembers a successful login (shown in the users list).
    pub fn record_login(&self, id: UserId, at_secs: i64) -> Result<(), UserError> {
        self.db.record_login(id, at_secs)
    }

    /// Puts a user the database has just returned into the directory (a login).
    pub fn remember(&self, user: &UserInfo) {
        self.cache.write().insert(user.id, user.clone());
    }

    /// Reloads the directory cache when another process (another server, `yam-server user
    /// remove`) changed users. Cheap when nothing changed.
    pub fn refresh_if_changed(&self) -> Result<bool, UserError> {
        if *self.seen_mark.lock() == self.db.change_mark()? {
            return Ok(false);
        }
        self.reload_cache()?;
        Ok(true)
    }

    fn reload_cache(&self) -> Result<(), UserError> {
        let mark = self.db.change_mark()?;
        let users = self.db.list()?;
        *self.cache.write() = users.into_iter().map(|u| (u.info.id, u.info)).collect();
        *self.seen_mark.lock() = mark;
        Ok(())
    }
}

impl UserDirectory for Users {
    /// From the cache; a miss (a user added a moment ago by the CLI or another server)
    /// re-reads the database before saying the user does not exist, and says it cannot tell
    /// when the database does not answer.
    fn lookup(&self, id: UserId) -> Result<Option<UserInfo>, DirectoryUnavailable> {
        if let Some(user) = self.cache.read().get(&id) {
            return Ok(Some(user.clone()));
        }
        self.refresh_if_changed()
            .map_err(|e| DirectoryUnavailable(e.to_string()))?;
        Ok(self.cache.read().get(&id).cloned())
    }

    fn lookup_cached(&self, id: UserId) -> Option<UserInfo> {
        self.cache.read().get(&id).cloned()
    }
}
