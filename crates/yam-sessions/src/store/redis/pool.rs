//! A few reusable Redis connections with short timeouts: a request never waits long for a
//! Redis that is down, and a connection that failed is dropped, not reused.

use std::time::Duration;

use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Connection, ErrorKind, RedisError, ServerErrorKind};

use crate::store::StoreError;

/// How long to wait for Redis to accept a connection, and for an answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Idle connections kept for reuse (one per busy blocking thread is plenty).
const MAX_IDLE: usize = 32;

pub struct Pool {
    client: Client,
    idle: Mutex<Vec<Connection>>,
    /// One connection shared by async readers: concurrent requests are pipelined on it.
    shared: Mutex<Option<MultiplexedConnection>>,
    /// Where Redis is, without any password, for messages.
    pub(super) address: String,
}

impl Pool {
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(|e| {
            StoreError::Config(format!("{} is not a Redis address: {e}", redact(url)))
        })?;
        Ok(Self {
            client,
            idle: Mutex::new(Vec::new()),
            shared: Mutex::new(None),
            address: redact(url),
        })
    }

    /// Runs `work` on a pooled connection; the connection goes back only if `work` succeeded
    /// or Redis itself answered with an error (the connection is still in step).
    pub fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut conn = match self.idle.lock().pop() {
            Some(conn) => conn,
            None => self.connect()?,
        };
        match work(&mut conn) {
            Ok(value) => {
                self.give_back(conn);
                Ok(value)
            }
            Err(e) => {
                if !is_connection_failure(&e) {
                    self.give_back(conn);
                }
                Err(self.error(e))
            }
        }
    }

    /// Runs `work` on the shared async connection (opened on first use, re-opened after a
    /// failure).
    pub async fn with_async<T, F>(
        &self,
        work: impl FnOnce(MultiplexedConnection) -> F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let existing = self.shared.lock().clone();
        let conn = match existing {
            Some(conn) => conn,
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(IO_TIMEOUT));
                let conn = self
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| self.error(e))?;
                *self.shared.lock() = Some(conn.clone());
                conn
            }
        };
        work(conn).await.map_err(|e| {
            if is_connection_failure(&e) {
                *self.shared.lock() = None;
            }
            self.error(e)
        })
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| self.error(e))?;
        conn.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| conn.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| self.error(e))?;
        Ok(conn)
    }

    pub fn error(&self, e: RedisError) -> StoreError {
        if is_connection_failure(&e) || is_passing(&e) {
            StoreError::Unavailable {
                store: format!("Redis at {}", self.address),
                cause: e.to_string(),
            }
        } else {
            StoreError::Backend(format!("Redis at {}: {e}", self.address))
        }
    }
}

fn is_connection_failure(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
}

/// Answers Redis gives while it starts, fails over or is read-only: they pass by themselves.
fn is_passing(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
        )
    )
}

/// The address without a password (`redis://:secret@host` → `redis://host`), for messages.
pub fn redact(url: &str) -> String {
    let without_user = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    };
    // `redis+unix:///run/redis.sock?pass=…`: the password as a query parameter.
    match without_user.split_once('?') {
        Some((base, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| {
                    let name = p.split('=').next().unwrap_or("").to_ascii_lowercase();
                    !matches!(name.as_str(), "pass" | "password" | "user" | "username")
                })
                .collect();
            if kept.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", kept.join("&"))
            }
        }
        None => without_user,
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("redis://:s3cret@db:6379/0"), "redis://db:6379/0");
        assert_eq!(redact("redis://user:pw@db/1"), "redis://db/1");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("redis+unix:///run/redis.sock"),
            "redis+unix:///run/redis.sock"
        );
        assert_eq!(
            redact("redis+unix:///run/redis.sock?db=2&pass=s3cret"),
            "redis+unix:///run/redis.sock?db=2"
        );
    }
}
