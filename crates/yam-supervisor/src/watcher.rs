//! Watches the sessions folders and keeps live counts: one file re-read per event, a full
//! rescan on overflow or errors and on a slow timer (expiry happens without events).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use parking_lot::Mutex;
use tokio::sync::watch;
use yam_sessions::{Clock, SystemClock};

use crate::readers::{self, FileInfo, FileKind};
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
            let mut scanner = self.scanner.lock();
            for path in paths.into_iter().filter(|p| self.watched_dir(p)) {
                // An in-place write keeps the inode: the next quick rescan must read it again.
                scanner.forget(path);
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
    let listed = entries.flatten().filter_map(|e| Listed::of(&e)).collect();
    read_listed(dir, listed)
        .into_iter()
        .map(|(listed, info)| (dir.join(listed.name), info))
        .collect()
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

/// A folder entry that may be a session file.
struct Listed {
    name: OsString,
    kind: FileKind,
    /// From the listing itself (no extra system call); 0 where the platform gives none.
    inode: u64,
}

impl Listed {
    fn of(entry: &std::fs::DirEntry) -> Option<Self> {
        // The entry's type comes with the listing on most file systems: no extra stat.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            return None;
        }
        let name = entry.file_name();
        let kind = readers::classify(name.to_str()?);
        if kind == FileKind::Ignore {
            return None;
        }
        #[cfg(unix)]
        let inode = std::os::unix::fs::DirEntryExt::ino(entry);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self { name, kind, inode })
    }
}

/// Below this many files one thread reads them all.
const PARALLEL_FROM: usize = 2000;

/// Reads the listed files, on several threads when there are many.
fn read_listed(dir: &Path, listed: Vec<Listed>) -> Vec<(Listed, FileInfo)> {
    let read_all = |chunk: Vec<Listed>| -> Vec<(Listed, FileInfo)> {
        let mut reader = readers::DirReader::new(dir);
        chunk
            .into_iter()
            .filter_map(|l| reader.read(&l.name, l.kind).map(|info| (l, info)))
            .collect()
    };
    if listed.len() < PARALLEL_FROM {
        return read_all(listed);
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let chunk = listed.len().div_ceil(threads);
    let mut chunks = Vec::with_capacity(threads);
    let mut rest = listed;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    chunks.push(rest);
    std::thread::scope(|scope| {
        let read_all = &read_all;
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| scope.spawn(move || read_all(c)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Rescans that read only what changed (see [`Depth::Quick`]).
#[derive(Debug, Default)]
pub struct Scanner {
    /// Per folder: file name → (inode, what the file said).
    known: HashMap<PathBuf, HashMap<OsString, (u64, FileInfo)>>,
}

impl Scanner {
    /// Makes the next rescan read `path` again.
    pub fn forget(&mut self, path: &Path) {
        if let (Some(dir), Some(name)) = (path.parent(), path.file_name())
            && let Some(known) = self.known.get_mut(dir)
        {
            known.remove(name);
        }
    }

    /// Returns the folder's sessions and how many files had to be read.
    pub fn scan(&mut self, dir: &Path, depth: Depth) -> (Vec<(PathBuf, FileInfo)>, usize) {
        let mut known = self.known.remove(dir).unwrap_or_default();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return (Vec::new(), 0);
        };
        let mut next = HashMap::with_capacity(known.len());
        let mut to_read = Vec::new();
        for listed in entries.flatten().filter_map(|e| Listed::of(&e)) {
            match known.remove(&listed.name) {
                Some((inode, info))
                    if depth == Depth::Quick && inode == listed.inode && inode != 0 =>
                {
                    next.insert(listed.name, (inode, info));
                }
                _ => to_read.push(listed),
            }
        }
        let read = to_read.len();
        next.reserve(read);
        for (listed, info) in read_listed(dir, to_read) {
            next.insert(listed.name, (listed.inode, info));
        }
        let found = next
            .iter()
            .map(|(name, (_, info))| (dir.join(name), info.clone()))
            .collect();
        self.known.insert(dir.to_path_buf(), next);
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
        // In place (same inode): a full rescan, or a quick one after the watcher's event.
        std::fs::write(dir.path().join(&b), b"garbage").expect("w");
        let (found, read) = s.scan(dir.path(), Depth::Quick);
        assert_eq!(
            (read, found[0].1.damaged),
            (0, false),
            "same inode: not read"
        );
        s.forget(&dir.path().join(&b));
        let (found, read) = s.scan(dir.path(), Depth::Quick);
        assert_eq!(
            (read, found[0].1.damaged),
            (1, true),
            "forgotten: read again"
        );
        let (_, read) = s.scan(dir.path(), Depth::Full);
        assert_eq!(read, 1);
    }

    #[test]
    fn large_folders_are_read_on_several_threads_and_nothing_is_lost() {
        let dir = tempfile::tempdir().expect("tmp");
        let n = PARALLEL_FROM + 501;
        for i in 0..n {
            write(dir.path(), &format!("{i:064x}.json"), (i % 7) as i64);
        }
        std::fs::write(dir.path().join(".gitkeep"), b"").expect("w");
        std::fs::write(dir.path().join(format!("{:064x}.json", n)), b"{").expect("w");
        let found = scan_dir(dir.path());
        assert_eq!(found.len(), n + 1);
        assert_eq!(found.iter().filter(|(_, i)| i.damaged).count(), 1);
        let mut paths: Vec<_> = found.iter().map(|(p, _)| p.clone()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), n + 1, "every file once");
        let sevens = found
            .iter()
            .filter(|(_, i)| i.user_id.as_deref() == Some("6"))
            .count();
        assert_eq!(sevens, (0..n).filter(|i| i % 7 == 6).count());
    }
}
