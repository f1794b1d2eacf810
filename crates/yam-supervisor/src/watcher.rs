//! Watches the sessions folders and keeps live counts: one file re-read per event, a full
//! rescan on overflow or errors and on a slow timer (expiry happens without events).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use parking_lot::Mutex;
use tokio::sync::watch;
use yam_sessions::{Clock, SystemClock};

use crate::readers::{self, FileInfo};
use crate::tally::{Counts, Tally};

/// Events within this window are handled as one batch.
pub const DEBOUNCE: Duration = Duration::from_millis(40);
pub const RESCAN_EVERY: Duration = Duration::from_secs(30);
/// How often missing folders are looked for (and counts re-published for expiry).
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// "Expiring soon" means within ten minutes.
pub const SOON: Duration = Duration::from_secs(600);

type FsDebouncer = Debouncer<notify::RecommendedWatcher, RecommendedCache>;

struct Shared {
    dirs: Vec<PathBuf>,
    tally: Mutex<Tally>,
    counts: watch::Sender<Counts>,
}

impl Shared {
    fn publish(&self) {
        let counts = self.tally.lock().counts(SystemClock.now(), SOON);
        self.counts.send_if_modified(|old| {
            let changed = *old != counts;
            *old = counts;
            changed
        });
    }

    fn watched_dir(&self, path: &Path) -> bool {
        path.parent()
            .is_some_and(|p| self.dirs.iter().any(|d| d == p))
    }

    fn on_events(&self, result: DebounceEventResult) {
        let events = match result {
            Ok(events) => events,
            Err(errors) => {
                tracing::warn!(?errors, "sessions watcher reported errors; rescanning");
                self.rescan();
                return;
            }
        };
        if events.iter().any(|e| e.need_rescan()) {
            self.rescan();
            return;
        }
        let mut paths: Vec<&PathBuf> = events.iter().flat_map(|e| e.paths.iter()).collect();
        paths.sort();
        paths.dedup();
        {
            let mut tally = self.tally.lock();
            for path in paths.into_iter().filter(|p| self.watched_dir(p)) {
                match readers::read(path) {
                    Some(info) => tally.upsert(path.clone(), info),
                    None => tally.remove(path),
                }
            }
        }
        self.publish();
    }

    fn rescan(&self) -> ScanStats {
        let started = Instant::now();
        let mut files = 0;
        for dir in &self.dirs {
            let found = scan_dir(dir);
            files += found.len();
            self.tally.lock().replace_dir(dir, found);
        }
        self.publish();
        ScanStats {
            files,
            elapsed: started.elapsed(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct ScanStats {
    pub files: usize,
    pub elapsed: Duration,
}

/// Reads every session file of one folder, on two threads when there are many.
pub fn scan_dir(dir: &Path) -> Vec<(PathBuf, FileInfo)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let paths: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| readers::classify(n) != readers::FileKind::Ignore)
        })
        .map(|e| e.path())
        .collect();
    let read_all = |chunk: &[PathBuf]| -> Vec<(PathBuf, FileInfo)> {
        chunk
            .iter()
            .filter_map(|p| readers::read(p).map(|info| (p.clone(), info)))
            .collect()
    };
    if paths.len() < 2000 {
        return read_all(&paths);
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|c| scope.spawn(move || read_all(c)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// A running watcher. Dropping it stops watching.
pub struct SessionsWatcher {
    shared: Arc<Shared>,
    debouncer: Arc<Mutex<Option<FsDebouncer>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SessionsWatcher {
    /// Starts watching `dirs`. Must be called inside a Tokio runtime.
    pub fn start(dirs: Vec<PathBuf>) -> Self {
        let (counts, _) = watch::channel(Counts::default());
        let shared = Arc::new(Shared {
            dirs,
            tally: Mutex::new(Tally::default()),
            counts,
        });
        shared.rescan();
        let debouncer = Arc::new(Mutex::new(arm(&shared)));
        let task = tokio::spawn(upkeep(Arc::clone(&shared), Arc::clone(&debouncer)));
        Self {
            shared,
            debouncer,
            task,
        }
    }

    pub fn counts(&self) -> watch::Receiver<Counts> {
        self.shared.counts.subscribe()
    }

    pub fn current(&self) -> Counts {
        self.shared.counts.borrow().clone()
    }

    /// Every file the watcher knows, for listing sessions while the server is down.
    pub fn snapshot(&self) -> Vec<(PathBuf, FileInfo)> {
        self.shared
            .tally
            .lock()
            .files()
            .map(|(p, i)| (p.clone(), i.clone()))
            .collect()
    }

    pub fn rescan(&self) -> ScanStats {
        self.shared.rescan()
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.shared.dirs
    }
}

impl Drop for SessionsWatcher {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(d) = self.debouncer.lock().take() {
            d.stop_nonblocking();
        }
    }
}

/// Watches the folders that exist now; `None` when none can be watched.
fn arm(shared: &Arc<Shared>) -> Option<FsDebouncer> {
    let handler_state = Arc::clone(shared);
    let mut debouncer = match new_debouncer(DEBOUNCE, None, move |r: DebounceEventResult| {
        handler_state.on_events(r)
    }) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("cannot watch the sessions folders ({e}); counting by periodic rescans");
            return None;
        }
    };
    for dir in shared.dirs.iter().filter(|d| d.is_dir()) {
        if let Err(e) = debouncer.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(folder = %dir.display(), "cannot watch: {e}");
        }
    }
    Some(debouncer)
}

async fn upkeep(shared: Arc<Shared>, debouncer: Arc<Mutex<Option<FsDebouncer>>>) {
    let mut present: Vec<bool> = shared.dirs.iter().map(|d| d.is_dir()).collect();
    let mut last_rescan = Instant::now();
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now_present: Vec<bool> = shared.dirs.iter().map(|d| d.is_dir()).collect();
        let folders_changed = now_present != present;
        present = now_present;
        if folders_changed || last_rescan.elapsed() >= RESCAN_EVERY {
            let s = Arc::clone(&shared);
            let d = Arc::clone(&debouncer);
            let _ = tokio::task::spawn_blocking(move || {
                if folders_changed {
                    // A deleted and re-created folder is a new inode: watch it again.
                    if let Some(old) = d.lock().take() {
                        old.stop_nonblocking();
                    }
                    *d.lock() = arm(&s);
                }
                s.rescan();
            })
            .await;
            last_rescan = Instant::now();
        } else {
            shared.publish();
        }
    }
}
