//! One supervisor per data folder: an OS file lock on `supervisor.lock`, held for the
//! supervisor's whole life, decides who supervises (no check-then-write race: two supervisors
//! starting at once cannot both get it, and a killed one releases it). Beside it,
//! `supervisor.json` names the supervising process (pid + start time) and the server it
//! launched, so a later supervisor can tell "our orphan" (its supervisor is gone) from a
//! server another live supervisor runs, and can name the holder in its refusal.
//!
//! Two files, because on Windows a locked file cannot be read by another process.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::procs::ProcessTable;

pub const LOCK_FILE: &str = "supervisor.lock";
pub const RECORD_FILE: &str = "supervisor.json";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub supervisor_pid: u32,
    pub supervisor_started: u64,
    pub supervisor_name: String,
    pub server_pid: Option<u32>,
    pub server_started: Option<u64>,
}

/// A server process recorded by a supervisor that is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Orphan {
    pub pid: u32,
    pub started: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "this server is already supervised by {name} (pid {pid}); use that one, or stop it first"
    )]
    HeldBy { pid: u32, name: String },
    #[error("this server is already supervised by another process; use that one, or stop it first")]
    HeldByUnknown,
    #[error("cannot use the lock file {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        /// Part of the message rather than `source()`, so an error chain prints it once.
        cause: std::io::Error,
    },
}

/// The supervisor lock of this process; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct SupervisorLock {
    record_path: PathBuf,
    record: LockRecord,
    /// Holds the OS lock.
    _file: File,
}

/// Reads the record; `None` when missing or unreadable (a torn write is not a lock).
pub fn read(data_dir: &Path) -> Option<LockRecord> {
    let text = yam_sessions::private::read_owned(&data_dir.join(RECORD_FILE), 64 * 1024, false);
    serde_json::from_str(&text.ok()?).ok()
}

impl SupervisorLock {
    /// Takes the lock for this process. Returns the previous supervisor's server when that
    /// supervisor is gone but its server still runs.
    pub fn acquire(data_dir: &Path, name: &str) -> Result<(Self, Option<Orphan>), LockError> {
        let lock_path = data_dir.join(LOCK_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |cause| LockError::Io { path, cause }
        };
        yam_sessions::private::private_dir(data_dir).map_err(io(data_dir))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(match read(data_dir) {
                    Some(r) => LockError::HeldBy {
                        pid: r.supervisor_pid,
                        name: r.supervisor_name,
                    },
                    None => LockError::HeldByUnknown,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        let me = std::process::id();
        let table = ProcessTable::snapshot();
        let alive = |pid: u32, started: u64| {
            table
                .as_ref()
                .is_some_and(|t| t.is_same_process(pid, started))
        };
        let mut orphan = None;
        if let Some(old) = read(data_dir) {
            // A live supervisor that holds no lock (an older version): still its server.
            if old.supervisor_pid != me && alive(old.supervisor_pid, old.supervisor_started) {
                return Err(LockError::HeldBy {
                    pid: old.supervisor_pid,
                    name: old.supervisor_name,
                });
            }
            if let (Some(pid), Some(started)) = (old.server_pid, old.server_started)
                && alive(pid, started)
            {
                orphan = Some(Orphan { pid, started });
            }
        }
        let record = LockRecord {
            supervisor_pid: me,
            supervisor_started: table.as_ref().and_then(|t| t.start_time(me)).unwrap_or(0),
            supervisor_name: name.to_owned(),
            server_pid: orphan.map(|o| o.pid),
            server_started: orphan.map(|o| o.started),
        };
        let lock = Self {
            record_path: data_dir.join(RECORD_FILE),
            record,
            _file: file,
        };
        lock.write().map_err(io(&lock.record_path))?;
        Ok((lock, orphan))
    }

    fn write(&self) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(&self.record).unwrap_or_default();
        yam_sessions::private::write_private(&self.record_path, &json)
    }

    /// Records the server just launched (its start time tells it from a recycled pid).
    pub fn set_server(&mut self, pid: Option<u32>) {
        self.record.server_pid = pid;
        self.record.server_started = pid.and_then(|p| ProcessTable::snapshot()?.start_time(p));
        if let Err(e) = self.write() {
            tracing::warn!("cannot update the supervisor record: {e}");
        }
    }
}

impl Drop for SupervisorLock {
    /// The record goes; the lock file stays (deleting a lock file others may have open
    /// would let two processes lock two different files).
    fn drop(&mut self) {
        let dir = self.record_path.parent().unwrap_or(Path::new("."));
        if read(dir).is_some_and(|r| r.supervisor_pid == std::process::id()) {
            let _ = fs::remove_file(&self.record_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_supervisor_holds_the_lock_and_a_dead_one_leaves_an_orphan() {
        let dir = tempfile::tempdir().expect("tmp");
        // A live "other supervisor" of an older version (no OS lock): a child of ours.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let table = ProcessTable::snapshot().expect("table");
        let record = LockRecord {
            supervisor_pid: other.id(),
            supervisor_started: table.start_time(other.id()).expect("start"),
            supervisor_name: "yam-tray".into(),
            server_pid: None,
            server_started: None,
        };
        fs::write(
            dir.path().join(RECORD_FILE),
            serde_json::to_vec(&record).expect("json"),
        )
        .expect("w");
        let err = SupervisorLock::acquire(dir.path(), "yamctl").expect_err("held");
        assert!(err.to_string().contains("yam-tray (pid"), "{err}");
        other.kill().expect("kill");
        other.wait().expect("wait");

        // The supervisor is gone; its server (this test process, for the test) still runs.
        let me = std::process::id();
        let record = LockRecord {
            server_pid: Some(me),
            server_started: table.start_time(me),
            ..record
        };
        fs::write(
            dir.path().join(RECORD_FILE),
            serde_json::to_vec(&record).expect("json"),
        )
        .expect("w");
        let (lock, orphan) = SupervisorLock::acquire(dir.path(), "yamctl").expect("acquire");
        assert_eq!(orphan.map(|o| o.pid), Some(me));
        assert_eq!(
            read(dir.path()).map(|r| r.supervisor_name),
            Some("yamctl".into())
        );
        drop(lock);
        assert!(!dir.path().join(RECORD_FILE).exists());
        assert!(dir.path().join(LOCK_FILE).exists(), "the lock file stays");
    }

    #[test]
    fn the_os_lock_decides_between_two_at_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let (first, _) = SupervisorLock::acquire(dir.path(), "yam-tray").expect("first");
        let err = SupervisorLock::acquire(dir.path(), "yamctl").expect_err("second");
        assert!(err.to_string().contains("yam-tray (pid"), "{err}");
        // Even with the record gone, the lock still says no.
        fs::remove_file(dir.path().join(RECORD_FILE)).expect("rm");
        assert!(matches!(
            SupervisorLock::acquire(dir.path(), "yamctl"),
            Err(LockError::HeldByUnknown)
        ));
        drop(first);
        assert!(SupervisorLock::acquire(dir.path(), "yamctl").is_ok());
    }
}
