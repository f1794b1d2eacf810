//! Where sessions live: the sessions folder (the default) or a Redis shared by several
//! servers. One flag set, `--store`, `--store-prefix`, `--sessions-dir`, for `serve` and for
//! the commands that end sessions without a running server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use yam_sessions::{FileStore, RecordSeal, RedisStore, SessionStore, store::DEFAULT_PREFIX};

use crate::paths::{DataDir, absolute};
use crate::users::cli::sessions_dir_for;

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Where sessions live: `folder` (the default: the sessions folder) or a Redis shared by
    /// several servers, e.g. redis://127.0.0.1:6379/0 (redis://:PASSWORD@host:port/db,
    /// redis+unix:///path/redis.sock). TLS (rediss://) is not built in.
    #[arg(long, env = "YAM_STORE", value_name = "folder|URL")]
    pub store: Option<String>,
    /// Prefix of every Redis key, so several YAM deployments can share one Redis.
    #[arg(long, env = "YAM_STORE_PREFIX", default_value = DEFAULT_PREFIX)]
    pub store_prefix: String,
    /// Sessions folder. Default: `<data-dir>/sessions`.
    #[arg(long, value_name = "DIR")]
    pub sessions_dir: Option<PathBuf>,
}

/// The store a server or command uses, decided from [`StoreArgs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    Folder(Option<PathBuf>),
    Redis { url: String, prefix: String },
}

impl StoreArgs {
    pub fn choice(&self) -> anyhow::Result<StoreChoice> {
        let store = self.store.as_deref().map(str::trim).unwrap_or("");
        if store.is_empty() || store.eq_ignore_ascii_case("folder") {
            return Ok(StoreChoice::Folder(self.sessions_dir.clone()));
        }
        let scheme = store.split("://").next().unwrap_or("");
        anyhow::ensure!(
            scheme != "rediss",
            "--store {store}: TLS to Redis (rediss://) is not built into yam-server; use \
             redis:// on a trusted network, or a TLS tunnel (stunnel, spiped) to the Redis"
        );
        anyhow::ensure!(
            store.contains("://") && matches!(scheme, "redis" | "redis+unix"),
            "--store (YAM_STORE) must be `folder` or a Redis address such as \
             redis://127.0.0.1:6379/0, not {store:?}"
        );
        anyhow::ensure!(
            self.sessions_dir.is_none(),
            "--sessions-dir and a Redis --store exclude each other: sessions are either in a \
             folder or in Redis"
        );
        Ok(StoreChoice::Redis {
            url: store.to_owned(),
            prefix: self.store_prefix.clone(),
        })
    }
}

impl StoreChoice {
    /// `folder <path>` or `redis <address> (prefix …)`, without any password.
    pub fn describe(&self) -> String {
        match self {
            StoreChoice::Folder(Some(dir)) => format!("folder {}", dir.display()),
            StoreChoice::Folder(None) => "folder".to_owned(),
            StoreChoice::Redis { prefix, .. } => format!("redis (key prefix {prefix})"),
        }
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, StoreChoice::Redis { .. })
    }

    /// The sessions folder a folder store uses (given, recorded by the server, or default).
    pub fn folder(&self, data: &DataDir) -> Option<PathBuf> {
        match self {
            StoreChoice::Folder(explicit) => Some(sessions_dir_for(data, explicit.as_deref())),
            StoreChoice::Redis { .. } => None,
        }
    }
}

/// Opens a Redis store; Redis need not be up yet (requests then answer 503 until it is).
pub fn open_redis(url: &str, prefix: &str, seal: RecordSeal) -> anyhow::Result<RedisStore> {
    let store = RedisStore::open(url, prefix, seal)?;
    if let Err(e) = store.check() {
        tracing::warn!("{e}; sessions cannot be used until it answers");
    }
    Ok(store)
}

/// Opens the sessions folder, indexing what is in it.
pub fn open_folder(dir: &Path) -> anyhow::Result<FileStore> {
    let dir = absolute(dir)?;
    let (store, report) = FileStore::open(&dir)
        .with_context(|| format!("cannot use the sessions folder {}", dir.display()))?;
    tracing::info!(
        folder = %dir.display(), sessions = report.sessions, damaged = report.damaged,
        ignored = report.foreign, leftovers_removed = report.stale_temp_removed,
        "Indexed sessions in {:?}", report.elapsed
    );
    Ok(store)
}

/// The store of a command run without a server (`force-logout`, `user passwd|remove`):
/// `None` when it is a folder that does not exist (no sessions to end).
pub fn open_offline(
    choice: &StoreChoice,
    data: &DataDir,
) -> anyhow::Result<Option<Arc<dyn SessionStore>>> {
    Ok(match choice {
        StoreChoice::Redis { url, prefix } => {
            // Offline commands only delete sessions; they never read one as valid.
            let store = RedisStore::open(url, prefix, RecordSeal::Unchecked)?;
            store.check()?;
            Some(Arc::new(store))
        }
        StoreChoice::Folder(_) => {
            let dir = choice
                .folder(data)
                .unwrap_or_else(|| data.default_sessions_dir());
            if !dir.is_dir() {
                return Ok(None);
            }
            Some(Arc::new(FileStore::open(&dir)?.0))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(store: Option<&str>, dir: Option<&str>) -> StoreArgs {
        StoreArgs {
            store: store.map(str::to_owned),
            store_prefix: DEFAULT_PREFIX.to_owned(),
            sessions_dir: dir.map(PathBuf::from),
        }
    }

    #[test]
    fn the_folder_is_the_default_and_redis_is_chosen_by_address() {
        assert_eq!(
            args(None, None).choice().ok(),
            Some(StoreChoice::Folder(None))
        );
        assert_eq!(
            args(Some("folder"), Some("/s")).choice().ok(),
            Some(StoreChoice::Folder(Some(PathBuf::from("/s"))))
        );
        assert_eq!(
            args(Some(" redis://db:6379/0 "), None).choice().ok(),
            Some(StoreChoice::Redis {
                url: "redis://db:6379/0".into(),
                prefix: "yam:".into()
            })
        );
        let e = args(Some("rediss://db"), None).choice().expect_err("tls");
        assert!(e.to_string().contains("TLS to Redis"), "{e}");
        for bad in ["postgres://db", "db:6379", "redis:/x"] {
            let e = args(Some(bad), None).choice().expect_err(bad).to_string();
            assert!(e.contains("must be `folder` or a Redis address"), "{e}");
        }
        let e = args(Some("redis://db"), Some("/s"))
            .choice()
            .expect_err("both");
        assert!(e.to_string().contains("exclude each other"), "{e}");
    }
}
