//! A service that hangs: its processes stopped with SIGSTOP, so connections are accepted by
//! the kernel but nothing ever answers — the case timeouts exist for (a crash, by contrast,
//! refuses at once).

use std::process::Command;

/// Keeps a process and its children stopped until dropped (SIGCONT).
#[must_use = "the service thaws when this is dropped"]
pub struct Frozen {
    pid: u32,
}

impl Frozen {
    /// Stops `pid` first (so it starts no new children), then its children.
    pub(crate) fn stop(pid: u32) -> Self {
        signal_tree(pid, "STOP");
        Self { pid }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal_tree(self.pid, "CONT");
    }
}

fn signal_tree(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "kill -{signal} {pid} failed"
    );
    // pkill exits 1 when the process has no children: that is fine.
    let _ = Command::new("pkill")
        .args([&format!("-{signal}"), "-P", &pid.to_string()])
        .status();
}
