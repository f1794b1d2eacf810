//! One supervisor per data folder: a lock file names the supervising process (pid + start
//! time) and the server it launched, so a later supervisor can tell "our orphan" (its
//! supervisor is gone) from a server another live supervisor runs.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::procs::ProcessTable;

pub const LOCK_FILE: &str = "supervisor.lock";

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
    #[error("cannot write the lock file {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        /// Part of the message rather than `source()`, so an error chain prints it once.
        cause: std::io::Error,
    },
}

#[derive(Debug)]
pub struct SupervisorLock {
    path: PathBuf,
    record: LockRecord,
}

/// Reads a lock file; `None` when missing or unreadable (a torn write is not a lock).
pub fn read(data_dir: &Path) -> Option<LockRecord> {
    serde_json::from_slice(&fs::read(data_dir.join(LOCK_FILE)).ok()?).ok()
}

impl SupervisorLock {
    /// Takes the lock for this process. Returns the previous supervisor's server when that
    /// supervisor is gone but its server still runs.
    pub fn acquire(data_dir: &Path, name: &str) -> Result<(Self, Option<Orphan>), LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            cause: source,
        };
        fs::create_dir_all(data_dir).map_err(io)?;
        let me = std::process::id();
        let table = ProcessTable::snapshot();
        let alive = |pid: u32, started: u64| {
            table
                .as_ref()
                .is_some_and(|t| t.is_same_process(pid, started))
        };
        let mut orphan = None;
        if let Some(old) = read(data_dir) {
            if old.supervisor_pid != me && alive(old.supervisor_pid, old.supervisor_started) {
                return Err(LockError::HeldBy {
                    pid: old.supervisor_pid,
                    name: old.supervisor_name,
                });
            }
            if let (Some(pid), Some(started)) = (old.server_pid, old.server_started) {
                if alive(pid, started) {
                    orphan = Some(Orphan { pid, started });
                }
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
            path: path.clone(),
            record,
        };
        lock.write().map_err(io)?;
        Ok((lock, orphan))
    }

    fn write(&self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("lock.tmp");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(&self.record).unwrap_or_default())?;
        f.sync_all()?;
        fs::rename(&tmp, &self.path)
    }

    /// Records the server just launched (its start time tells it from a recycled pid).
    pub fn set_server(&mut self, pid: Option<u32>) {
        self.record.server_pid = pid;
        self.record.server_started = pid.and_then(|p| ProcessTable::snapshot()?.start_time(p));
        if let Err(e) = self.write() {
            tracing::warn!("cannot update the supervisor lock: {e}");
        }
    }
}

impl Drop for SupervisorLock {
    fn drop(&mut self) {
        if read(self.path.parent().unwrap_or(Path::new(".")))
            .is_some_and(|r| r.supervisor_pid == std::process::id())
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_supervisor_holds_the_lock_and_a_dead_one_leaves_an_orphan() {
        let dir = tempfile::tempdir().expect("tmp");
        // A live "other supervisor": a child process of ours.
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
            dir.path().join(LOCK_FILE),
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
            dir.path().join(LOCK_FILE),
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
        assert!(!dir.path().join(LOCK_FILE).exists());
    }
}
