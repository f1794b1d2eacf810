//! A service that hangs: its processes stopped with SIGSTOP, so connections are accepted by
//! the kernel but nothing ever answers — the case timeouts exist for (a crash, by contrast,
//! refuses at once).

use std::process::Command;

use crate::signal;

/// Keeps a process and its children stopped until dropped (SIGCONT).
#[must_use = "the service thaws when this is dropped"]
pub struct Frozen {
    pid: u32,
}

impl Frozen {
    /// Stops `pid` first (so it starts no new children), then its children.
    pub(crate) fn stop(pid: u32) -> Self {
        assert!(signal_tree(pid, "STOP"), "kill -STOP {pid} failed");
        Self { pid }
    }
}

impl Drop for Frozen {
    /// Never panics: the service may be gone already (killed by the test), and a panic here
    /// while a failed test unwinds would abort the whole test binary.
    fn drop(&mut self) {
        signal_tree(self.pid, "CONT");
    }
}

/// Signals `pid`, then its children; whether `pid` itself was signalled.
fn signal_tree(pid: u32, name: &str) -> bool {
    let sent = signal(pid, name);
    // pkill exits 1 when the process has no children: that is fine.
    let _ = Command::new("pkill")
        .args([&format!("-{name}"), "-P", &pid.to_string()])
        .status();
    sent
}
