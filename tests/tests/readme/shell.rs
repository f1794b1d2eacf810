//! Running a README line as a user types it: `sh -c LINE` with our binaries on PATH.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use yam_testkit::{capture_output, wait_until};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// The folder holding the debug binaries the tests use (`yam-server`, `yamctl`).
fn bin_dir() -> PathBuf {
    let server = yam_testkit::binary("yam-server");
    let yamctl = yam_testkit::binary("yamctl");
    let dir = server.parent().expect("bin dir").to_path_buf();
    assert_eq!(
        yamctl.parent(),
        Some(dir.as_path()),
        "yam-server and yamctl must be built into one folder"
    );
    dir
}

/// PATH with our binaries and cargo's folder first, as after `cargo build` + `export PATH`.
fn path_with_binaries() -> String {
    let mut dirs = vec![bin_dir()];
    if let Some(cargo_dir) = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|c| c.parent().map(Path::to_path_buf))
    {
        dirs.push(cargo_dir);
    }
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs)
        .expect("PATH")
        .to_string_lossy()
        .into_owned()
}

pub struct Sh {
    command: Command,
    line: String,
}

pub struct Finished {
    pub success: bool,
    pub text: String,
}

impl Sh {
    pub fn new(line: &str) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(line)
            .env("PATH", path_with_binaries())
            // The variables the test harness may have set must not change what a user gets.
            .env_remove("YAM_DATA_DIR")
            .env_remove("YAM_CONFIG_DIR")
            .env_remove("YAMCTL_LISTEN")
            .env_remove("YAM_SERVER_PORT")
            .env_remove("YAM_SERVER_HOST")
            // A process group of its own, so Ctrl-C can be played as a terminal does.
            .process_group(0);
        Self {
            command,
            line: line.to_owned(),
        }
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    pub fn envs<'a>(mut self, vars: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        self.command.envs(vars);
        self
    }

    /// Runs to the end with `stdin` (or none), up to `deadline`.
    pub fn run_to_end(mut self, stdin: Option<&str>, deadline: Duration) -> Finished {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("sh -c {}: {e}", self.line));
        if let Some(mut pipe) = child.stdin.take()
            && let Some(text) = stdin
        {
            pipe.write_all(text.as_bytes()).expect("stdin");
        }
        let output = capture_output(&mut child);
        let done = yam_testkit::exits_within(&mut child, deadline);
        if !done {
            interrupt_group(&child);
            let _ = child.kill();
        }
        let status = child.wait().expect("wait");
        // The readers finish with the pipes.
        std::thread::sleep(Duration::from_millis(50));
        let text = output.lock().expect("output").clone();
        assert!(
            done,
            "`{}` still ran after {deadline:?}:\n{text}",
            self.line
        );
        Finished {
            success: status.success(),
            text,
        }
    }

    /// Starts a long-running line (`yamctl up`, `cargo xtask run`).
    pub fn spawn(mut self) -> Running {
        let mut child = self
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("sh -c {}: {e}", self.line));
        let output = capture_output(&mut child);
        Running {
            child,
            output,
            line: self.line,
        }
    }
}

/// Ctrl-C in a terminal: SIGINT to the job's processes. An interactive shell runs a job in a
/// process group of its own, so the shell itself never sees it; here `sh` shares the group
/// and is skipped.
fn interrupt_group(child: &Child) {
    let shell = child.id();
    for pid in members_of_group(shell).into_iter().filter(|p| *p != shell) {
        yam_testkit::signal(pid, "INT");
    }
}

/// Live processes whose process group is `pgid` (Linux `/proc`).
fn members_of_group(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let fields: Vec<&str> = stat
                    .rsplit_once(')')
                    .map(|(_, rest)| rest.split_whitespace().collect())
                    .unwrap_or_default();
                // After the name: state, ppid, pgrp.
                fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
            })
        })
        .collect()
}

pub struct Running {
    child: Child,
    output: Arc<Mutex<String>>,
    line: String,
}

impl Running {
    pub fn output(&self) -> String {
        self.output.lock().expect("output").clone()
    }

    /// Waits for `text` in the output; panics with the output when it does not come or the
    /// command ends first.
    pub fn expect_output(&mut self, text: &str, deadline: Duration) -> String {
        let mut ended = false;
        let found = wait_until(deadline, || {
            ended = self.child.try_wait().ok().flatten().is_some();
            ended || self.output().contains(text)
        });
        let out = self.output();
        assert!(
            found && out.contains(text),
            "`{}` {} without printing {text:?}:\n{out}",
            self.line,
            if ended { "ended" } else { "kept running" }
        );
        out
    }

    /// Every process started under this line, now (children of children included).
    pub fn processes(&self) -> Vec<(u32, String)> {
        let mut all = vec![(self.child.id(), "sh".to_owned())];
        let mut i = 0;
        while i < all.len() {
            all.extend(yam_testkit::child_processes(all[i].0));
            i += 1;
        }
        all
    }

    /// Ctrl-C, as in the terminal the README's user typed the line in; waits for the end.
    /// Returns whether the command exited successfully.
    pub fn interrupt(&mut self, deadline: Duration) -> bool {
        interrupt_group(&self.child);
        let exited = yam_testkit::exits_within(&mut self.child, deadline);
        if !exited {
            let _ = self.child.kill();
        }
        let status = self.child.wait().expect("wait");
        assert!(
            exited,
            "`{}` still ran {deadline:?} after Ctrl-C:\n{}",
            self.line,
            self.output()
        );
        status.success()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            interrupt_group(&self.child);
            std::thread::sleep(Duration::from_millis(500));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Asserts none of `processes` is still alive.
pub fn assert_all_gone(what: &str, processes: &[(u32, String)]) {
    let ok = wait_until(Duration::from_secs(10), || {
        processes
            .iter()
            .all(|(pid, _)| !yam_testkit::process_alive(*pid))
    });
    let left: Vec<_> = processes
        .iter()
        .filter(|(pid, _)| yam_testkit::process_alive(*pid))
        .collect();
    assert!(ok, "{what} left processes running: {left:?}");
}

/// Whether anything listens on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}
