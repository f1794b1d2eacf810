//! Where the supervisor counts sessions: watched folders, or a Redis.

use std::path::PathBuf;

use tokio::sync::watch;

use crate::redis_watcher::{RedisSource, RedisWatcher};
use crate::tally::Counts;
use crate::watcher::SessionsWatcher;

pub enum Counting {
    Folders(SessionsWatcher),
    Redis(RedisWatcher),
}

impl Counting {
    pub fn start(dirs: Vec<PathBuf>, redis: Option<RedisSource>) -> Self {
        match redis {
            Some(source) => Counting::Redis(RedisWatcher::start(source)),
            None => Counting::Folders(SessionsWatcher::start(dirs)),
        }
    }

    /// Whether this already counts exactly there.
    pub fn watches(&self, dirs: &[PathBuf], redis: Option<&RedisSource>) -> bool {
        match (self, redis) {
            (Counting::Redis(w), Some(source)) => w.source() == source,
            (Counting::Folders(w), None) => w.dirs() == dirs,
            _ => false,
        }
    }

    pub fn counts(&self) -> watch::Receiver<Counts> {
        match self {
            Counting::Folders(w) => w.counts(),
            Counting::Redis(w) => w.counts(),
        }
    }

    /// Counts again now (after an action changed sessions).
    pub fn refresh(&self) {
        match self {
            Counting::Folders(w) => {
                w.rescan();
            }
            Counting::Redis(w) => w.refresh(),
        }
    }
}
