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

/// Events within this window are handled as one batch; the debouncer looks at its queue this
/// often (each look wakes a thread, so not more often: idle CPU matters for a tray app).
pub const DEBOUNCE: Duration = Duration::from_millis(50);
pub const RESCAN_EVERY: Duration = Duration::from_secs(30);
/// How often missing folders are looked for (and counts re-published for expiry).
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// "Expiring soon" means within ten minutes.
pub const SOON: Duration = Duration::from_secs(600);

type FsDebouncer = Debouncer<notify::RecommendedWatcher, RecommendedCache>;

struct Shared {
    dirs: Vec<PathBuf>,
    tally: Mutex<Tally>,
    scanner: Mutex<Scanner>,
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
                self.rescan(Depth::Full);
                return;
            }
        };
        if events.iter().any(|e| e.need_rescan()) {
            self.rescan(Depth::Full);
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

    fn rescan(&self, depth: Depth) -> ScanStats {
        let started = Instant::now();
        let mut files = 0;
        for dir in &self.dirs {
            let (found, _read) = self.scanner.lock().scan(dir, depth);
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

/// Reads every session file of one folder, on several threads when there are many.
pub fn scan_dir(dir: &Path) -> Vec<(PathBuf, FileInfo)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let names: Vec<std::ffi::OsString> = entries
        .flatten()
        .filter(|e| {
            // The entry's type comes with the listing on most file systems: no extra stat.
            !e.file_type().is_ok_and(|t| t.is_dir())
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| readers::classify(n) != readers::FileKind::Ignore)
        })
        .map(|e| e.file_name())
        .collect();
    let read_all = |chunk: &[std::ffi::OsString]| -> Vec<(PathBuf, FileInfo)> {
        let mut reader = readers::DirReader::new(dir);
        chunk
            .iter()
            .filter_map(|name| reader.read(name).map(|info| (dir.join(name), info)))
            .collect()
    };
    if names.len() < 2000 {
        return read_all(&names);
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let chunk = names.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|c| scope.spawn(move || read_all(c)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// How thorough a rescan is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Every file is read again (after a watcher overflow or error).
    Full,
    /// Files whose inode is unchanged are not read again: writers replace session files by
    /// renaming a new file over them (new inode), and in-place writes arrive as watcher events.
    /// For the periodic rescan, which mainly refreshes expiry.
    Quick,
}

/// Rescans that read only what changed (see [`Depth::Quick`]).
#[derive(Debug, Default)]
pub struct Scanner {
    known: std::collections::HashMap<PathBuf, (u64, FileInfo)>,
}

/// The inode from the directory listing itself (no extra system call); 0 where there is none.
fn listed_inode(entry: &std::fs::DirEntry) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::DirEntryExt::ino(entry)
    }
    #[cfg(not(unix))]
    {
        let _ = entry;
        0
    }
}

impl Scanner {
    /// Returns the folder's sessions and how many files had to be read.
    pub fn scan(&mut self, dir: &Path, depth: Depth) -> (Vec<(PathBuf, FileInfo)>, usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            self.known.retain(|p, _| !p.starts_with(dir));
            return (Vec::new(), 0);
        };
        let mut reader = readers::DirReader::new(dir);
        let mut found = Vec::new();
        let mut read = 0;
        let mut next = std::collections::HashMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if entry.file_type().is_ok_and(|t| t.is_dir())
                || name
                    .to_str()
                    .is_none_or(|n| readers::classify(n) == readers::FileKind::Ignore)
            {
                continue;
            }
            let path = entry.path();
            let ino = listed_inode(&entry);
            let info = match self.known.remove(&path) {
                Some((known, info)) if depth == Depth::Quick && known == ino && ino != 0 => {
                    Some(info)
                }
                _ => {
                    read += 1;
                    reader.read(&name)
                }
            };
            if let Some(info) = info {
                found.push((path.clone(), info.clone()));
                next.insert(path, (ino, info));
            }
        }
        self.known.retain(|p, _| !p.starts_with(dir));
        self.known.extend(next);
        (found, read)
    }
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
            scanner: Mutex::new(Scanner::default()),
            counts,
        });
        shared.rescan(Depth::Full);
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

    /// Reads every file again.
    pub fn rescan(&self) -> ScanStats {
        self.shared.rescan(Depth::Full)
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
    let mut debouncer =
        match new_debouncer(DEBOUNCE, Some(DEBOUNCE), move |r: DebounceEventResult| {
            handler_state.on_events(r)
        }) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(
                    "cannot watch the sessions folders ({e}); counting by periodic rescans"
                );
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
                s.rescan(if folders_changed {
                    Depth::Full
                } else {
                    Depth::Quick
                });
            })
            .await;
            last_rescan = Instant::now();
        } else {
            shared.publish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yam_sessions::{ClientInfo, SessionMode, SessionPolicy, Timestamp};

    fn write(dir: &Path, name: &str, user: i64) {
        let r = SessionPolicy::new(SessionMode::Multiple).new_record(
            user,
            "u",
            ClientInfo::default(),
            Timestamp(0),
            "e",
        );
        let tmp = dir.join(".tmp");
        std::fs::write(&tmp, r.to_json()).expect("w");
        std::fs::rename(&tmp, dir.join(name)).expect("mv");
    }

    #[test]
    fn rescans_read_only_what_changed() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = format!("{}.json", "a".repeat(64));
        let b = format!("{}.json", "b".repeat(64));
        write(dir.path(), &a, 1);
        write(dir.path(), &b, 2);
        let mut s = Scanner::default();
        let (found, read) = s.scan(dir.path(), Depth::Quick);
        assert_eq!((found.len(), read), (2, 2));
        let (found, read) = s.scan(dir.path(), Depth::Quick);
        assert_eq!((found.len(), read), (2, 0), "nothing changed, nothing read");
        write(dir.path(), &b, 3);
        std::fs::remove_file(dir.path().join(&a)).expect("rm");
        let (found, read) = s.scan(dir.path(), Depth::Quick);
        assert_eq!(
            (found.len(), read),
            (1, 1),
            "a replaced file (new inode) is read"
        );
        assert_eq!(found[0].1.user_id.as_deref(), Some("3"));
        // In place (same inode): only a full rescan (or the watcher's event) sees it.
        std::fs::write(dir.path().join(&b), b"garbage").expect("w");
        let (found, read) = s.scan(dir.path(), Depth::Full);
        assert_eq!(read, 1);
        assert!(found[0].1.damaged);
    }
}
