//! Users in SQLite with argon2id password hashes, plus the in-memory directory sessions use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use rusqlite::{Connection, OptionalExtension, params};
use yam_sessions::{UserDirectory, UserId, UserInfo};

mod changes;
pub mod cli;
pub mod first_run;
pub mod passwords;
mod schema;

pub use changes::UserChange;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user database {}: {cause}", path.display())]
    Db {
        path: PathBuf,
        /// Part of the message rather than `source()`, so an error chain prints it once.
        cause: rusqlite::Error,
    },
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
    #[error("'{0}' is the last active admin: make another user an admin first")]
    LastAdmin(String),
    #[error("the password must have at least {min} characters", min = passwords::MIN_PASSWORD_LEN)]
    WeakPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
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

pub struct UserStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    cache: RwLock<HashMap<UserId, UserInfo>>,
    seen_data_version: Mutex<i64>,
}

pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

impl UserStore {
    pub fn open(path: &Path) -> Result<Self, UserError> {
        let db = |source| UserError::Db {
            path: path.to_path_buf(),
            cause: source,
        };
        // Private before SQLite opens it: its -wal and -shm files (the WAL holds password
        // hashes) are created with the database file's mode.
        yam_sessions::private::ensure_private_file(path).map_err(|e| UserError::Io {
            path: path.to_path_buf(),
            cause: e,
        })?;
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        schema::migrate(&mut conn).map_err(db)?;
        for companion in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(companion);
            // Narrow the companions an older version left readable; gone is fine.
            let _ = crate::paths::restrict_to_owner(Path::new(&name), 0o600);
        }
        let store = Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            cache: RwLock::new(HashMap::new()),
            seen_data_version: Mutex::new(-1),
        };
        store.reload_cache()?;
        Ok(store)
    }

    pub(crate) fn db_err(&self, source: rusqlite::Error) -> UserError {
        UserError::Db {
            path: self.path.clone(),
            cause: source,
        }
    }

    pub fn count(&self) -> Result<i64, UserError> {
        self.conn
            .lock()
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
            .map_err(|e| self.db_err(e))
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
        let now = yam_sessions::Clock::now(&yam_sessions::SystemClock).as_secs();
        let result = self.conn.lock().execute(
            "INSERT INTO users (username, email, password_hash, is_admin, is_active, created_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5)",
            params![username, email, password_hash, is_admin, now],
        );
        match result {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(UserError::Exists(username.to_owned()));
            }
            Err(e) => return Err(self.db_err(e)),
        }
        let id = self.conn.lock().last_insert_rowid();
        self.reload_cache()?;
        Ok(id)
    }

    pub fn list(&self) -> Result<Vec<UserRow>, UserError> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare(&format!("{SELECT_ROW} ORDER BY id"))
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map([], row_to_user)
            .map_err(|e| self.db_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.db_err(e))?;
        Ok(rows)
    }

    /// Finds a user by username or email, ignoring case.
    pub fn find_by_login(&self, login: &str) -> Result<Option<UserRow>, UserError> {
        self.conn
            .lock()
            .query_row(
                &format!("{SELECT_ROW} WHERE username = ?1 OR email = ?1 ORDER BY id LIMIT 1"),
                [login],
                row_to_user,
            )
            .optional()
            .map_err(|e| self.db_err(e))
    }

    pub fn set_password(&self, username: &str, password_hash: &str) -> Result<UserId, UserError> {
        let user = self
            .find_by_login(username)?
            .ok_or_else(|| UserError::NotFound(username.to_owned()))?;
        self.conn
            .lock()
            .execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![password_hash, user.info.id],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(user.info.id)
    }

    /// Replaces a user's hash (after a rehash with newer parameters).
    pub fn set_hash(&self, id: UserId, password_hash: &str) -> Result<(), UserError> {
        self.conn
            .lock()
            .execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![password_hash, id],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Reloads the directory cache when another process (e.g. `yam-server user remove`)
    /// changed the database. Cheap when nothing changed.
    pub fn refresh_if_changed(&self) -> Result<bool, UserError> {
        let version: i64 = self
            .conn
            .lock()
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.db_err(e))?;
        if *self.seen_data_version.lock() == version {
            return Ok(false);
        }
        self.reload_cache()?;
        Ok(true)
    }

    pub(crate) fn reload_cache(&self) -> Result<(), UserError> {
        let version: i64 = self
            .conn
            .lock()
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.db_err(e))?;
        let users = self.list()?;
        *self.cache.write() = users.into_iter().map(|u| (u.info.id, u.info)).collect();
        *self.seen_data_version.lock() = version;
        Ok(())
    }
}

const SELECT_ROW: &str = "SELECT id, username, email, password_hash, is_admin, is_active, \
     created_at, last_login_at FROM users";

fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        info: UserInfo {
            id: r.get(0)?,
            username: r.get(1)?,
            is_admin: r.get(4)?,
            is_active: r.get(5)?,
        },
        email: r.get(2)?,
        password_hash: r.get(3)?,
        created_at: r.get(6)?,
        last_login_at: r.get(7)?,
    })
}

impl UserDirectory for UserStore {
    /// From the cache; a miss (a user added a moment ago by the CLI) re-reads the database
    /// before saying the user does not exist.
    fn lookup(&self, id: UserId) -> Option<UserInfo> {
        if let Some(user) = self.cache.read().get(&id) {
            return Some(user.clone());
        }
        if let Err(e) = self.refresh_if_changed() {
            tracing::warn!("could not re-read users: {e}");
        }
        self.cache.read().get(&id).cloned()
    }

    fn lookup_cached(&self, id: UserId) -> Option<UserInfo> {
        self.cache.read().get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_find_rename_remove() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = UserStore::open(&dir.path().join("users.db")).expect("open");
        assert_eq!(store.count().expect("count"), 0);
        let id = store
            .add("Alice", Some("alice@example.org"), "h", false)
            .expect("add");
        assert!(matches!(
            store.add("alice", None, "h", false),
            Err(UserError::Exists(_))
        ));
        assert!(matches!(
            store.add("bad name", None, "h", false),
            Err(UserError::InvalidName(_))
        ));
        assert_eq!(
            store
                .find_by_login("ALICE@example.org")
                .expect("find")
                .map(|u| u.info.id),
            Some(id)
        );
        assert_eq!(store.lookup(id).map(|u| u.username), Some("Alice".into()));
        store.remove("alice").expect("remove");
        assert_eq!(store.lookup(id), None);
        // Ids are never reused, so an old session can never become another user's.
        let next = store.add("bob", None, "h", false).expect("add");
        assert!(next > id);
    }

    #[test]
    fn another_connection_s_changes_reach_the_cache() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("users.db");
        let server = UserStore::open(&path).expect("open");
        let cli = UserStore::open(&path).expect("open");
        server.refresh_if_changed().expect("refresh"); // the second open wrote the schema version
        assert!(!server.refresh_if_changed().expect("refresh"));
        // A user added elsewhere is found at once: a cache miss re-reads the database.
        let id = cli.add("carol", None, "h", false).expect("add");
        assert_eq!(server.lookup(id).map(|u| u.username), Some("carol".into()));
        // A removal elsewhere reaches the cache at the next refresh.
        cli.remove("carol").expect("remove");
        assert!(server.lookup(id).is_some(), "cached until the refresh");
        assert!(server.refresh_if_changed().expect("refresh"));
        assert_eq!(server.lookup(id), None);
    }
}
