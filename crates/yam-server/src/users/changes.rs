//! What admins change about users (the admin API and the CLI), with the rule that the last
//! active admin can never be removed, disabled or demoted: checked inside the write
//! transaction, so two admins (or the CLI) acting at once cannot both pass it.

use rusqlite::{Connection, TransactionBehavior, params};

use super::{SELECT_ROW, UserError, UserRow, UserStore, row_to_user};
use yam_sessions::UserId;

/// A change to one user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserChange {
    /// `Some(None)` removes the email.
    pub email: Option<Option<String>>,
    pub is_admin: Option<bool>,
    pub is_active: Option<bool>,
    pub password_hash: Option<String>,
}

impl UserChange {
    /// Whether the user's sessions must end: a new password or a disabled account.
    pub fn ends_sessions(&self) -> bool {
        self.password_hash.is_some() || self.is_active == Some(false)
    }
}

fn active_admins(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM users WHERE is_admin AND is_active",
        [],
        |r| r.get(0),
    )
}

fn find(conn: &Connection, username: &str) -> rusqlite::Result<Option<UserRow>> {
    use rusqlite::OptionalExtension as _;
    conn.query_row(
        &format!("{SELECT_ROW} WHERE username = ?1"),
        [username],
        row_to_user,
    )
    .optional()
}

impl UserStore {
    /// Applies `change` to `username` in one transaction; the changed user.
    pub fn update(&self, username: &str, change: &UserChange) -> Result<UserRow, UserError> {
        let user = self.write_checked(username, |tx, user| {
            let email = match &change.email {
                Some(e) => e.clone(),
                None => user.email.clone(),
            };
            tx.execute(
                "UPDATE users SET email = ?1, is_admin = ?2, is_active = ?3, password_hash = ?4
                 WHERE id = ?5",
                params![
                    email,
                    change.is_admin.unwrap_or(user.info.is_admin),
                    change.is_active.unwrap_or(user.info.is_active),
                    change
                        .password_hash
                        .as_deref()
                        .unwrap_or(&user.password_hash),
                    user.info.id
                ],
            )
            .map(drop)
        })?;
        self.find_by_login(&user.info.username)?
            .ok_or_else(|| UserError::NotFound(username.to_owned()))
    }

    /// Removes a user; the removed row.
    pub fn remove(&self, username: &str) -> Result<UserRow, UserError> {
        self.write_checked(username, |tx, user| {
            tx.execute("DELETE FROM users WHERE id = ?1", [user.info.id])
                .map(drop)
        })
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
        drop(conn);
        self.reload_cache()?;
        Ok(user)
    }

    /// Remembers a successful login (shown in the users list).
    pub fn record_login(&self, id: UserId, at_secs: i64) -> Result<(), UserError> {
        self.conn
            .lock()
            .execute(
                "UPDATE users SET last_login_at = ?1 WHERE id = ?2",
                params![at_secs, id],
            )
            .map(drop)
            .map_err(|e| self.db_err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, UserStore) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = UserStore::open(&dir.path().join("users.db")).expect("open");
        (dir, store)
    }

    #[test]
    fn the_last_admin_stays_an_active_admin() {
        let (_dir, users) = store();
        users.add("admin", None, "h", true).expect("add");
        users.add("bob", None, "h", false).expect("add");
        let demote = UserChange {
            is_admin: Some(false),
            ..UserChange::default()
        };
        let disable = UserChange {
            is_active: Some(false),
            ..UserChange::default()
        };
        for change in [&demote, &disable] {
            assert!(matches!(
                users.update("admin", change),
                Err(UserError::LastAdmin(_))
            ));
        }
        assert!(matches!(
            users.remove("ADMIN"),
            Err(UserError::LastAdmin(_))
        ));
        assert!(
            users
                .find_by_login("admin")
                .expect("find")
                .is_some_and(|u| u.info.is_admin && u.info.is_active)
        );
        // With a second admin, the first may go.
        users
            .update(
                "bob",
                &UserChange {
                    is_admin: Some(true),
                    ..UserChange::default()
                },
            )
            .expect("promote");
        users.update("admin", &disable).expect("disable now");
        assert!(
            matches!(users.remove("bob"), Err(UserError::LastAdmin(_))),
            "bob is the last active one"
        );
        users.remove("admin").expect("remove the disabled one");
    }

    #[test]
    fn changes_apply_and_report_what_ends_sessions() {
        let (_dir, users) = store();
        users
            .add("carol", Some("c@example.org"), "h1", false)
            .expect("add");
        let change = UserChange {
            email: Some(None),
            password_hash: Some("h2".into()),
            ..UserChange::default()
        };
        assert!(change.ends_sessions());
        let carol = users.update("carol", &change).expect("update");
        assert_eq!((carol.email, carol.password_hash.as_str()), (None, "h2"));
        assert!(matches!(
            users.update("nobody", &change),
            Err(UserError::NotFound(_))
        ));
        users
            .record_login(carol.info.id, 1_800_000_000)
            .expect("login");
        let carol = users.find_by_login("carol").expect("find").expect("carol");
        assert_eq!(carol.last_login_at, Some(1_800_000_000));
    }
}
