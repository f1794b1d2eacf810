//! Where the supervisor counts sessions: watched folders, a Redis, or the door (a YAM whose
//! sessions are signed cookies).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use crate::door::DoorSessions;
use crate::redis_watcher::{RedisSource, RedisWatcher};
use crate::tally::Counts;
use crate::watcher::SessionsWatcher;

pub enum Counting {
    Folders(SessionsWatcher),
    Redis(RedisWatcher),
    Door(Arc<DoorSessions>),
}

/// Where sessions are, as a plan says.
pub enum Source<'a> {
    Folders(&'a [PathBuf]),
    Redis(&'a RedisSource),
    Door(&'a Arc<DoorSessions>),
}

impl Counting {
    pub fn start(source: Source<'_>) -> Self {
        match source {
            Source::Redis(r) => Counting::Redis(RedisWatcher::start(r.clone())),
            Source::Folders(dirs) => Counting::Folders(SessionsWatcher::start(dirs.to_vec())),
            Source::Door(d) => Counting::Door(Arc::clone(d)),
        }
    }

    /// Whether this already counts exactly there.
    pub fn watches(&self, source: &Source<'_>) -> bool {
        match (self, source) {
            (Counting::Redis(w), Source::Redis(r)) => w.source() == *r,
            (Counting::Folders(w), Source::Folders(dirs)) => w.dirs() == *dirs,
            (Counting::Door(a), Source::Door(b)) => Arc::ptr_eq(a, b),
            (Counting::Redis(_) | Counting::Folders(_) | Counting::Door(_), _) => false,
        }
    }

    pub fn counts(&self) -> watch::Receiver<Counts> {
        match self {
            Counting::Folders(w) => w.counts(),
            Counting::Redis(w) => w.counts(),
            Counting::Door(d) => d.counts(),
        }
    }

    /// Counts again now (after an action changed sessions).
    pub fn refresh(&self) {
        match self {
            Counting::Folders(w) => {
                w.rescan();
            }
            Counting::Redis(w) => w.refresh(),
            Counting::Door(d) => d.tick(),
        }
    }

    /// Time passed: the door forgets expired sign-ins (folders and Redis watch by themselves).
    pub fn tick(&self) {
        if let Counting::Door(d) = self {
            d.tick();
        }
    }
}
