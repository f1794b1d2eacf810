//! A real `yam-server` process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::wait_until;

/// Path of a workspace binary: `$YAM_<NAME>_BIN` (`yam-server` → `YAM_SERVER_BIN`, exported by
/// `cargo xtask test`), else
/// `target/debug/<name>`, built on demand.
pub fn binary(name: &str) -> PathBuf {
    let short = name.strip_prefix("yam-").unwrap_or(name);
    let var = format!("YAM_{}_BIN", short.to_uppercase().replace('-', "_"));
    if let Ok(path) = std::env::var(&var) {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let path = target
        .join("debug")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--workspace", "--bin", name])
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build --bin {name} failed");
    path
}

/// What runs the binary: the binary itself, or a program given it as its first argument
/// (`prlimit … --` execs it; `wine64` runs a Windows exe), with that program's environment.
#[derive(Clone, Debug, Default)]
pub struct Launcher {
    pub program: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Launcher {
    /// A command that runs `bin` through this launcher.
    pub fn command(&self, bin: &Path) -> Command {
        match &self.program {
            Some(program) => {
                let mut cmd = Command::new(program);
                cmd.args(&self.args).arg(bin);
                cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
                cmd
            }
            None => Command::new(bin),
        }
    }
}

pub struct ServerBuilder {
    bin: PathBuf,
    data_dir: PathBuf,
    /// The data folder as the server is told it (a `C:\…` path under Wine).
    data_dir_arg: Option<String>,
    launcher: Launcher,
    port: u16,
    current_dir: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl ServerBuilder {
    pub fn new(bin: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            data_dir: data_dir.into(),
            data_dir_arg: None,
            launcher: Launcher::default(),
            port: 0,
            current_dir: None,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Runs the binary through `launcher`, telling it its data folder as `data_dir_arg`
    /// (tests read the folder's files at the path given to `new`).
    pub fn launched_by(mut self, launcher: Launcher, data_dir_arg: &str) -> Self {
        self.launcher = launcher;
        self.data_dir_arg = Some(data_dir_arg.to_owned());
        self
    }

    /// Listen on this port instead of a free one (0).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Starts the server under this open-files limit (soft, hard), as `prlimit` sets it (it
    /// execs the program: the child's pid is the server's).
    pub fn open_files_limit(mut self, soft: u64, hard: u64) -> Self {
        self.launcher = Launcher {
            program: Some(PathBuf::from("prlimit")),
            args: vec![format!("--nofile={soft}:{hard}"), "--".into()],
            env: Vec::new(),
        };
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Working folder of the process (to prove nothing is written there).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    fn data_dir_arg(&self) -> std::ffi::OsString {
        self.data_dir_arg
            .as_ref()
            .map_or_else(|| self.data_dir.clone().into_os_string(), Into::into)
    }

    fn command(&self) -> Command {
        let mut cmd = self.launcher.command(&self.bin);
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--data-dir")
            .arg(self.data_dir_arg());
        cmd.args(&self.args);
        for var in [
            "YAM_ALLOW_MULTIPLE_SESSIONS",
            "YAM_SESSION_CONFLICT_RESOLUTION",
            "YAM_SERVER_PORT",
            "YAM_SERVER_HOST",
            "YAM_DATA_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.current_dir {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Starts the server and waits until it prints its URL.
    pub fn spawn(&self) -> ServerProcess {
        self.try_spawn()
            .unwrap_or_else(|logs| panic!("server did not start:\n{logs}"))
    }

    /// Starts the server; `Err(output)` when it exits or never prints its URL.
    pub fn try_spawn(&self) -> Result<ServerProcess, String> {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn yam-server");
        let output = crate::capture_output(&mut child);
        let mut url = None;
        let started = wait_until(Duration::from_secs(30), || {
            url = find_url(&output.lock().expect("log lock"));
            url.is_some() || child.try_wait().ok().flatten().is_some()
        });
        match (started, url) {
            (true, Some(url)) => Ok(ServerProcess {
                child,
                url,
                data_dir: self.data_dir.clone(),
                output,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                Err(output.lock().expect("log lock").clone())
            }
        }
    }

    /// Runs the binary with these args plus `--data-dir` to completion (e.g. a subcommand);
    /// returns (success, stdout + stderr).
    pub fn run_to_end(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        let data_dir = self.data_dir_arg();
        let data_dir = data_dir.to_string_lossy();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--data-dir", &data_dir]);
        self.run_plain(&all, stdin)
    }

    /// Runs the binary with exactly these args to completion.
    pub fn run_plain(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        use std::io::Write;
        let mut child = self
            .launcher
            .command(&self.bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        if let Some(mut pipe) = child.stdin.take()
            && let Some(text) = stdin
        {
            pipe.write_all(text.as_bytes()).expect("stdin");
        }
        let out = child.wait_with_output().expect("wait");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

fn find_url(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let rest = l.strip_prefix(" * YAM server ")?;
        let url = rest.split(" running on ").nth(1)?;
        Some(url.trim().to_owned())
    })
}

pub struct ServerProcess {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    output: Arc<Mutex<String>>,
}

impl ServerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.output.lock().expect("log lock").clone()
    }

    pub fn wait_for_output(&self, needle: &str, deadline: Duration) -> bool {
        wait_until(deadline, || self.output().contains(needle))
    }

    pub fn control_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("control-token"))
            .expect("control-token file")
            .trim()
            .to_owned()
    }

    pub fn admin_password(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("initial-admin-password.txt"))
            .expect("first-run password file")
            .trim()
            .to_owned()
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.data_dir.join("sessions")
    }

    /// SIGTERM, then waits (up to 15 s) for a clean exit. Returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        crate::signal(self.pid(), "TERM");
        let exited = wait_until(Duration::from_secs(15), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !exited {
            self.kill();
            return false;
        }
        self.child
            .try_wait()
            .ok()
            .flatten()
            .is_some_and(|s| s.success())
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
