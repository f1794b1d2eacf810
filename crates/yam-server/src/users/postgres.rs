//! Users in PostgreSQL (`--database postgres://…`), shared by several servers. One connection,
//! re-opened after a failure; the schema is created or migrated at start under an advisory
//! lock, so two servers starting at once do it once.

use std::str::FromStr as _;
use std::time::Duration;

use parking_lot::Mutex;
use postgres::{Client, Config, NoTls, Row, Transaction};
use yam_sessions::UserId;

use super::{UserChange, UserError, UserRow, UserStore};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Any constant of ours: serialises schema changes between servers starting at once.
const MIGRATION_LOCK: i64 = 0x79616d_7573657273; // "yam" "users"
const VERSION: i32 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS yam_users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused
    username      TEXT NOT NULL,
    email         TEXT,
    password_hash TEXT NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS yam_users_username ON yam_users (lower(username));
CREATE UNIQUE INDEX IF NOT EXISTS yam_users_email ON yam_users (lower(email));
ALTER TABLE yam_users ADD COLUMN IF NOT EXISTS last_login_at BIGINT;
CREATE TABLE IF NOT EXISTS yam_schema (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version INTEGER NOT NULL,
    changes BIGINT NOT NULL DEFAULT 0
);
CREATE OR REPLACE FUNCTION yam_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE yam_schema SET changes = changes + 1;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER yam_users_changed AFTER INSERT OR UPDATE OR DELETE ON yam_users
    FOR EACH STATEMENT EXECUTE FUNCTION yam_users_changed();
";

const SELECT_ROW: &str = "SELECT id, username, email, password_hash, is_admin, is_active, \
     created_at, last_login_at FROM yam_users";

pub struct PostgresUsers {
    config: Config,
    /// `host:port/db`, without user or password.
    what: String,
    client: Mutex<Option<Client>>,
}

impl PostgresUsers {
    /// Connects and creates or migrates the schema.
    pub fn open(url: &str) -> Result<Self, UserError> {
        let mut config = Config::from_str(url).map_err(|e| UserError::Config {
            what: "address".to_owned(),
            cause: format!("not a PostgreSQL address (postgres://user:password@host:5432/db): {e}"),
        })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let what = describe(&config);
        let store = Self {
            config,
            what,
            client: Mutex::new(None),
        };
        store.with(migrate)?;
        Ok(store)
    }

    /// Runs `work` on the connection, opening it first if needed; a connection that failed
    /// is dropped so the next call opens a new one.
    fn with<T>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, UserError> {
        let mut slot = self.client.lock();
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(self.config.connect(NoTls).map_err(|e| self.error(&e))?);
        }
        let Some(client) = slot.as_mut() else {
            unreachable!("connected above")
        };
        match work(client) {
            Ok(value) => Ok(value),
            Err(e) => {
                let error = self.error(&e);
                if matches!(error, UserError::Unavailable { .. }) {
                    *slot = None;
                }
                Err(error)
            }
        }
    }

    fn error(&self, e: &postgres::Error) -> UserError {
        let what = self.what.clone();
        match e.code() {
            // Connection exceptions (08…) and shutdowns (57P…) pass once the server is back.
            Some(code) if !code.code().starts_with("08") && !code.code().starts_with("57P") => {
                UserError::Postgres {
                    what,
                    cause: e
                        .as_db_error()
                        .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
                }
            }
            _ => UserError::Unavailable {
                what,
                cause: e.to_string(),
            },
        }
    }

    /// Runs `write` on the user in a transaction that locks the table against other writers,
    /// and commits unless it leaves no active admin where there was one.
    fn write_checked(
        &self,
        username: &str,
        write: impl FnOnce(&mut Transaction<'_>, &UserRow) -> Result<(), postgres::Error>,
    ) -> Result<UserRow, UserError> {
        enum Outcome {
            Done(UserRow),
            NotFound,
            Exists,
            LastAdmin(String),
        }
        let outcome = self.with(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute("LOCK TABLE yam_users IN SHARE ROW EXCLUSIVE MODE")?;
            let Some(user) = tx
                .query_opt(
                    &format!("{SELECT_ROW} WHERE lower(username) = lower($1)"),
                    &[&username],
                )?
                .map(|r| row_to_user(&r))
            else {
                return Ok(Outcome::NotFound);
            };
            let before = active_admins(&mut tx)?;
            if let Err(e) = write(&mut tx, &user) {
                if is_unique_violation(&e) {
                    return Ok(Outcome::Exists);
                }
                return Err(e);
            }
            if before > 0 && active_admins(&mut tx)? == 0 {
                return Ok(Outcome::LastAdmin(user.info.username));
            }
            tx.commit()?;
            Ok(Outcome::Done(user))
        })?;
        match outcome {
            Outcome::Done(user) => Ok(user),
            Outcome::NotFound => Err(UserError::NotFound(username.to_owned())),
            Outcome::Exists => Err(UserError::Exists(username.to_owned())),
            Outcome::LastAdmin(name) => Err(UserError::LastAdmin(name)),
        }
    }
}

/// `host:port/dbname` of the first host.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("postgresql://{host}:{port}/{db}")
}

fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(SCHEMA)?;
    tx.execute(
        "INSERT INTO yam_schema (one, version) VALUES (TRUE, $1)
         ON CONFLICT (one) DO UPDATE SET version = GREATEST(yam_schema.version, $1)",
        &[&VERSION],
    )?;
    tx.commit()
}

fn row_to_user(r: &Row) -> UserRow {
    UserRow {
        info: yam_sessions::UserInfo {
            id: r.get(0),
            username: r.get(1),
            is_admin: r.get(4),
            is_active: r.get(5),
        },
        email: r.get(2),
        password_hash: r.get(3),
        created_at: r.get(6),
        last_login_at: r.get(7),
    }
}

fn active_admins(tx: &mut Transaction<'_>) -> Result<i64, postgres::Error> {
    Ok(tx
        .query_one(
            "SELECT COUNT(*) FROM yam_users WHERE is_admin AND is_active",
            &[],
        )?
        .get(0))
}

fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

impl UserStore for PostgresUsers {
    fn describe(&self) -> String {
        format!("PostgreSQL {}", self.what)
    }

    fn count(&self) -> Result<i64, UserError> {
        self.with(|c| Ok(c.query_one("SELECT COUNT(*) FROM yam_users", &[])?.get(0)))
    }

    fn add(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        is_admin: bool,
        now_secs: i64,
    ) -> Result<UserId, UserError> {
        let added = self.with(|c| {
            match c.query_one(
                "INSERT INTO yam_users (username, email, password_hash, is_admin, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&username, &email, &password_hash, &is_admin, &now_secs],
            ) {
                Ok(row) => Ok(Some(row.get::<_, i64>(0))),
                Err(e) if is_unique_violation(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        added.ok_or_else(|| UserError::Exists(username.to_owned()))
    }

    fn list(&self) -> Result<Vec<UserRow>, UserError> {
        self.with(|c| {
            Ok(c.query(&format!("{SELECT_ROW} ORDER BY id"), &[])?
                .iter()
                .map(row_to_user)
                .collect())
        })
    }

    fn find_by_login(&self, login: &str) -> Result<Option<UserRow>, UserError> {
        self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "{SELECT_ROW} WHERE lower(username) = lower($1) OR lower(email) = lower($1) \
                     ORDER BY id LIMIT 1"
                ),
                &[&login],
            )?
            .map(|r| row_to_user(&r)))
        })
    }

    fn set_hash(&self, id: UserId, password_hash: &str) -> Result<(), UserError> {
        self.with(|c| {
            c.execute(
                "UPDATE yam_users SET password_hash = $1 WHERE id = $2",
                &[&password_hash, &id],
            )
            .map(drop)
        })
    }

    fn update(&self, username: &str, change: &UserChange) -> Result<UserRow, UserError> {
        self.write_checked(username, |tx, user| {
            let next = change.applied_to(user);
            tx.execute(
                "UPDATE yam_users SET email = $1, is_admin = $2, is_active = $3, password_hash = $4
                 WHERE id = $5",
                &[
                    &next.email,
                    &next.info.is_admin,
                    &next.info.is_active,
                    &next.password_hash,
                    &user.info.id,
                ],
            )
            .map(drop)
        })
    }

    fn remove(&self, username: &str) -> Result<UserRow, UserError> {
        self.write_checked(username, |tx, user| {
            tx.execute("DELETE FROM yam_users WHERE id = $1", &[&user.info.id])
                .map(drop)
        })
    }

    fn record_login(&self, id: UserId, at_secs: i64) -> Result<(), UserError> {
        self.with(|c| {
            c.execute(
                "UPDATE yam_users SET last_login_at = $1 WHERE id = $2",
                &[&at_secs, &id],
            )
            .map(drop)
        })
    }

    fn change_mark(&self) -> Result<i64, UserError> {
        self.with(|c| Ok(c.query_one("SELECT changes FROM yam_schema", &[])?.get(0)))
    }
}
