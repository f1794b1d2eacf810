//! The users table and its migrations: run at every open, idempotent, safe when another
//! process (a second instance, the CLI) opens the database at the same moment.

use rusqlite::{Connection, TransactionBehavior};

const VERSION: i64 = 2;

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: old session files must not map to a new user
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email         TEXT UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    is_active     INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER
);
";

fn has_column(conn: &Connection, column: &str) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('users')")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    for name in names {
        if name? == column {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Creates the table or brings it to the current version, in one write transaction.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(CREATE)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 2 && !has_column(&tx, "last_login_at")? {
        tx.execute_batch("ALTER TABLE users ADD COLUMN last_login_at INTEGER")?;
    }
    if version < VERSION {
        tx.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_gains_last_login_and_migrating_twice_is_harmless() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("users.db");
        let mut old = Connection::open(&path).expect("open");
        old.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL \
             UNIQUE COLLATE NOCASE, email TEXT UNIQUE COLLATE NOCASE, password_hash TEXT NOT \
             NULL, is_admin INTEGER NOT NULL DEFAULT 0, is_active INTEGER NOT NULL DEFAULT 1, \
             created_at INTEGER NOT NULL); PRAGMA user_version = 1; \
             INSERT INTO users (username, password_hash, created_at) VALUES ('bob', 'h', 1);",
        )
        .expect("version 1");
        migrate(&mut old).expect("migrate");
        migrate(&mut old).expect("again");
        let mut other = Connection::open(&path).expect("second process");
        migrate(&mut other).expect("another process");
        assert!(has_column(&old, "last_login_at").expect("columns"));
        let version: i64 = old
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, VERSION);
        let bob: String = old
            .query_row("SELECT username FROM users", [], |r| r.get(0))
            .expect("kept");
        assert_eq!(bob, "bob");
    }
}
