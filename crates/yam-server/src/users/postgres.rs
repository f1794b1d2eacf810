//! Users in PostgreSQL (`--database postgres://…`), shared by several servers. A small pool of
//! connections (`deadpool-postgres`) driven by a runtime of its own, so the trait stays
//! blocking for its callers; every call has one deadline, so a PostgreSQL that hangs is
//! "unavailable" within seconds instead of holding logins forever. The schema is created or
//! migrated at start under an advisory lock, so two servers starting at once do it once.

use std::str::FromStr as _;
use std::time::Duration;

use deadpool_postgres::{Manager, Object, Pool};
use tokio::time::{Instant, timeout_at};
use tokio_postgres::{Client, Config, NoTls, Row, Transaction};
use yam_sessions::UserId;

use super::{UserChange, UserError, UserRow, UserStore};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The most any one call waits for a connection and its answers together.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections one server keeps at most (logins run on several threads at once).
const POOL_SIZE: usize = 16;
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
    /// `host:port/db`, without user or password.
    what: String,
    pool: Pool,
    /// Drives the connections; `None` only while being dropped.
    runtime: Option<tokio::runtime::Runtime>,
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
        let failed = |cause: String| UserError::Config {
            what: "connections".to_owned(),
            cause,
        };
        let pool = Pool::builder(Manager::new(config, NoTls))
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("yam-postgres")
            .enable_all()
            .build()
            .map_err(|e| failed(format!("cannot start its thread: {e}")))?;
        let store = Self {
            what,
            pool,
            runtime: Some(runtime),
        };
        store.with(async |c| migrate(c).await)?;
        Ok(store)
    }

    /// Runs `work` on a pooled connection within [`ANSWER_TIMEOUT`]. A connection that failed
    /// or did not answer in time leaves the pool, so the next call opens a new one.
    fn with<T>(
        &self,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, UserError> {
        let Some(runtime) = self.runtime.as_ref() else {
            unreachable!("the runtime lives as long as the store")
        };
        runtime.block_on(async {
            let deadline = Instant::now() + ANSWER_TIMEOUT;
            let mut client = match timeout_at(deadline, self.pool.get()).await {
                Ok(Ok(client)) => client,
                Ok(Err(deadpool_postgres::PoolError::Backend(e))) => return Err(self.error(&e)),
                Ok(Err(e)) => return Err(self.unavailable(e.to_string())),
                Err(_) => return Err(self.no_answer()),
            };
            match timeout_at(deadline, work(&mut client)).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => {
                    let error = self.error(&e);
                    if error.is_unavailable() {
                        drop(Object::take(client));
                    }
                    Err(error)
                }
                Err(_) => {
                    drop(Object::take(client));
                    Err(self.no_answer())
                }
            }
        })
    }

    fn no_answer(&self) -> UserError {
        self.unavailable(format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))
    }

    fn unavailable(&self, cause: String) -> UserError {
        UserError::Unavailable {
            what: self.what.clone(),
            cause,
        }
    }

    fn error(&self, e: &tokio_postgres::Error) -> UserError {
        match e.code() {
            // Connection exceptions (08…) and shutdowns (57P…) pass once the server is back.
            Some(code) if !code.code().starts_with("08") && !code.code().starts_with("57P") => {
                UserError::Postgres {
                    what: self.what.clone(),
                    cause: e
                        .as_db_error()
                        .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
                }
            }
            _ => self.unavailable(e.to_string()),
        }
    }

    /// Runs `write` on the user in a transaction that locks the table against other writers,
    /// and commits unless it leaves no active admin where there was one.
    fn write_checked(
        &self,
        username: &str,
        write: impl AsyncFnOnce(&Transaction<'_>, &UserRow) -> Result<(), tokio_postgres::Error>,
    ) -> Result<UserRow, UserError> {
        enum Outcome {
            Done(UserRow),
            NotFound,
            Exists,
            LastAdmin(String),
        }
        let outcome = self.with(async |c| {
            let tx = c.transaction().await?;
            tx.batch_execute("LOCK TABLE yam_users IN SHARE ROW EXCLUSIVE MODE")
                .await?;
            let Some(user) = tx
                .query_opt(
                    &format!("{SELECT_ROW} WHERE lower(username) = lower($1)"),
                    &[&username],
                )
                .await?
                .map(|r| row_to_user(&r))
            else {
                return Ok(Outcome::NotFound);
            };
            let before = active_admins(&tx).await?;
            if let Err(e) = write(&tx, &user).await {
                if is_unique_violation(&e) {
                    return Ok(Outcome::Exists);
                }
                return Err(e);
            }
            if before > 0 && active_admins(&tx).await? == 0 {
                return Ok(Outcome::LastAdmin(user.info.username));
            }
            tx.commit().await?;
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

impl Drop for PostgresUsers {
    /// Without waiting for the connections' tasks: the store may be dropped on an async
    /// worker, where blocking is not allowed.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `host:port/dbname` of the first host.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("postgresql://{host}:{port}/{db}")
}

async fn migrate(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(SCHEMA).await?;
    tx.execute(
        "INSERT INTO yam_schema (one, version) VALUES (TRUE, $1)
         ON CONFLICT (one) DO UPDATE SET version = GREATEST(yam_schema.version, $1)",
        &[&VERSION],
    )
    .await?;
    tx.commit().await
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

async fn active_admins(tx: &Transaction<'_>) -> Result<i64, tokio_postgres::Error> {
    Ok(tx
        .query_one(
            "SELECT COUNT(*) FROM yam_users WHERE is_admin AND is_active",
            &[],
        )
        .await?
        .get(0))
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

impl UserStore for PostgresUsers {
    fn describe(&self) -> String {
        format!("PostgreSQL {}", self.what)
    }

    fn count(&self) -> Result<i64, UserError> {
        self.with(async |c| {
            Ok(c.query_one("SELECT COUNT(*) FROM yam_users", &[])
                .await?
                .get(0))
        })
    }

    fn add(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
        is_admin: bool,
        now_secs: i64,
    ) -> Result<UserId, UserError> {
        let added = self.with(async |c| {
            match c
                .query_one(
                    "INSERT INTO yam_users (username, email, password_hash, is_admin, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&username, &email, &password_hash, &is_admin, &now_secs],
                )
                .await
            {
                Ok(row) => Ok(Some(row.get::<_, i64>(0))),
                Err(e) if is_unique_violation(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        added.ok_or_else(|| UserError::Exists(username.to_owned()))
    }

    fn list(&self) -> Result<Vec<UserRow>, UserError> {
        self.with(async |c| {
            Ok(c.query(&format!("{SELECT_ROW} ORDER BY id"), &[])
                .await?
                .iter()
                .map(row_to_user)
                .collect())
        })
    }

    fn find_by_username(&self, username: &str) -> Result<Option<UserRow>, UserError> {
        self.with(async |c| {
            Ok(c.query_opt(
                &format!("{SELECT_ROW} WHERE lower(username) = lower($1)"),
                &[&username],
            )
            .await?
            .map(|r| row_to_user(&r)))
        })
    }

    fn find_by_login(&self, login: &str) -> Result<Option<UserRow>, UserError> {
        self.with(async |c| {
            Ok(c.query_opt(
                &format!(
                    "{SELECT_ROW} WHERE lower(username) = lower($1) OR lower(email) = lower($1) \
                     ORDER BY (lower(username) = lower($1)) DESC, id LIMIT 1"
                ),
                &[&login],
            )
            .await?
            .map(|r| row_to_user(&r)))
        })
    }

    fn set_hash(&self, id: UserId, password_hash: &str) -> Result<(), UserError> {
        self.with(async |c| {
            c.execute(
                "UPDATE yam_users SET password_hash = $1 WHERE id = $2",
                &[&password_hash, &id],
            )
            .await
            .map(drop)
        })
    }

    fn update(&self, username: &str, change: &UserChange) -> Result<UserRow, UserError> {
        self.write_checked(username, async |tx, user| {
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
            .await
            .map(drop)
        })
    }

    fn remove(&self, username: &str) -> Result<UserRow, UserError> {
        self.write_checked(username, async |tx, user| {
            tx.execute("DELETE FROM yam_users WHERE id = $1", &[&user.info.id])
                .await
                .map(drop)
        })
    }

    fn record_login(&self, id: UserId, at_secs: i64) -> Result<(), UserError> {
        self.with(async |c| {
            c.execute(
                "UPDATE yam_users SET last_login_at = $1 WHERE id = $2",
                &[&at_secs, &id],
            )
            .await
            .map(drop)
        })
    }

    fn change_mark(&self) -> Result<i64, UserError> {
        self.with(async |c| {
            Ok(c.query_one("SELECT changes FROM yam_schema", &[])
                .await?
                .get(0))
        })
    }
}
