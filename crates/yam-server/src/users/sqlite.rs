//! Users in SQLite (the default, `<data-dir>/users.db`): one connection, WAL, private files.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use yam_sessions::UserId;

use super::{UserChange, UserError, UserRow, UserStore, schema};

pub struct SqliteUsers {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteUsers {
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
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn db_err(&self, source: rusqlite::Error) -> UserError {
        UserError::Db {
            path: self.path.clone(),
            cause: source,
        }
    }

    /// Runs `write` on the user in a write transaction and commits unless it leaves no active
    /// admin where there was one.
    fn write_checked(
        &self,
        username: &str,
        write: impl FnOnce(&Connection, &UserRow) -> rusqlite::Result<()>,
    ) -> Result<UserRow, UserError> {
        let mut conn = self.conn.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.db_err(e))?;
        let user = find(&tx, username)
            .map_err(|e| self.db_err(e))?
            .ok_or_else(|| UserError::NotFound(username.to_owned()))?;
        let before = active_admins(&tx).map_err(|e| self.db_err(e))?;
        write(&tx, &user).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                UserError::Exists(username.to_owned())
            }
            other => self.db_err(other),
        })?;
        let after = active_admins(&tx).map_err(|e| self.db_err(e))?;
        if before > 0 && after == 0 {
            return Err(UserError::LastAdmin(user.info.username));
        }
        tx.commit().map_err(|e| self.db_err(e))?;
        Ok(user)
    }
}

const SELECT_ROW: &str = "SELECT id, username, email, password_hash, is_admin, is_active, \
     created_at, last_login_at FROM users";

fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        info: yam_sessions::UserInfo {
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

fn active_admins(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM users WHERE is_admin AND is_active",
        [],
        |r| r.get(0),
    )
}

fn find(conn: &Connection, username: &str) -> rusqlite::Result<Option<UserRow>> {
    conn.query_row(
        &format!("{SELECT_ROW} WHERE username = ?1"),
        [username],
        row_to_user,
    )
    .optional()
}

impl UserStore for SqliteUsers {
    fn describe(&self) -> String {
        format!("SQLite {}", self.path.display())
    }

    fn count(&self) -> Result<i64, UserError> {
        self.conn
            .lock()
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
            .map_err(|e| self.db_err(e))
    }

    fn add(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        is_admin: bool,
        now_secs: i64,
    ) -> Result<UserId, UserError> {
        let conn = self.conn.lock();
        let result = conn.execute(
            "INSERT INTO users (username, email, password_hash, is_admin, is_active, created_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5)",
            params![username, email, password_hash, is_admin, now_secs],
        );
        match result {
            Ok(_) => Ok(conn.last_insert_rowid()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(UserError::Exists(username.to_owned()))
            }
            Err(e) => Err(self.db_err(e)),
        }
    }

    fn list(&self) -> Result<Vec<UserRow>, UserError> {
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

    fn find_by_login(&self, login: &str) -> Result<Option<UserRow>, UserError> {
        self.conn
            .lock()
            .query_row(
                &format!(
                    "{SELECT_ROW} WHERE username = ?1 OR email = ?1 \
                     ORDER BY username = ?1 DESC, id LIMIT 1"
                ),
                [login],
                row_to_user,
            )
            .optional()
            .map_err(|e| self.db_err(e))
    }

    fn find_by_username(&self, username: &str) -> Result<Option<UserRow>, UserError> {
        find(&self.conn.lock(), username).map_err(|e| self.db_err(e))
    }

    fn set_hash(&self, id: UserId, password_hash: &str) -> Result<(), UserError> {
        self.conn
            .lock()
            .execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![password_hash, id],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    fn update(&self, username: &str, change: &UserChange) -> Result<UserRow, UserError> {
        self.write_checked(username, |tx, user| {
            let next = change.applied_to(user);
            tx.execute(
                "UPDATE users SET email = ?1, is_admin = ?2, is_active = ?3, password_hash = ?4
                 WHERE id = ?5",
                params![
                    next.email,
                    next.info.is_admin,
                    next.info.is_active,
                    next.password_hash,
                    user.info.id
                ],
            )
            .map(drop)
        })
    }

    fn remove(&self, username: &str) -> Result<UserRow, UserError> {
        self.write_checked(username, |tx, user| {
            tx.execute("DELETE FROM users WHERE id = ?1", [user.info.id])
                .map(drop)
        })
    }

    fn record_login(&self, id: UserId, at_secs: i64) -> Result<(), UserError> {
        self.conn
            .lock()
            .execute(
                "UPDATE users SET last_login_at = ?1 WHERE id = ?2",
                params![at_secs, id],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }

    /// SQLite's `data_version`: changes when another connection commits.
    fn change_mark(&self) -> Result<i64, UserError> {
        self.conn
            .lock()
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.db_err(e))
    }
}
