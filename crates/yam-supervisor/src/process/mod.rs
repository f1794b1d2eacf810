//! Spawning the server as a process tree that dies together: a process group (plus a
//! parent-death signal on Linux) or a Windows job object with kill-on-close and no console.

use std::io;
use std::net::TcpListener;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc as std_mpsc;

use process_wrap::tokio::{ChildWrapper, CommandWrap};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::oneshot;

use crate::lifecycle::ExitInfo;
use crate::log_lines::{CappedLines, MAX_LINE_BYTES};
use crate::logs::{ServerLog, Stream};
use crate::profile::LaunchPlan;

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

type SpawnRequest = (
    CommandWrap,
    oneshot::Sender<io::Result<Box<dyn ChildWrapper>>>,
);

/// Spawns children from one long-lived thread: Linux's parent-death signal fires when the
/// *thread* that forked exits, so a short-lived worker would kill the server early.
pub struct Spawner {
    requests: std_mpsc::Sender<SpawnRequest>,
}

impl Spawner {
    pub fn new(runtime: tokio::runtime::Handle) -> io::Result<Self> {
        let (requests, rx) = std_mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("yam-spawner".into())
            .spawn(move || {
                let _guard = runtime.enter();
                while let Ok((mut command, reply)) = rx.recv() {
                    let _ = reply.send(command.spawn());
                }
            })?;
        Ok(Self { requests })
    }

    /// Spawns `plan`; `sockets` (public, control) are handed to it (the built-in server).
    pub async fn spawn(
        &self,
        plan: &LaunchPlan,
        log: &ServerLog,
        sockets: Option<(&TcpListener, &TcpListener)>,
    ) -> io::Result<ServerChild> {
        let command = build_command(plan, sockets);
        let (tx, rx) = oneshot::channel();
        self.requests
            .send((command, tx))
            .map_err(|_| io::Error::other("the spawner thread is gone"))?;
        let mut child = rx
            .await
            .map_err(|_| io::Error::other("the spawner thread is gone"))??;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the server exited at once"))?;
        #[cfg(windows)]
        if let Some((public, control)) = sockets {
            windows::hand_over(&mut *child, pid, public, control).await?;
        }
        if let Some(out) = child.stdout().take() {
            tokio::spawn(pump(out, log.clone(), Stream::Stdout));
        }
        if let Some(err) = child.stderr().take() {
            tokio::spawn(pump(err, log.clone(), Stream::Stderr));
        }
        Ok(ServerChild { child, pid })
    }
}

fn build_command(plan: &LaunchPlan, sockets: Option<(&TcpListener, &TcpListener)>) -> CommandWrap {
    let mut command = CommandWrap::with_new(&plan.program, |c| {
        c.args(&plan.args)
            .envs(plan.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&plan.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    });
    #[cfg(unix)]
    {
        unix::isolate(&mut command);
        if let Some((public, control)) = sockets {
            unix::hand_over(&mut command, public, control);
        }
    }
    #[cfg(windows)]
    {
        windows::isolate(&mut command);
        if sockets.is_some() {
            windows::expect_hand_over(&mut command);
        }
    }
    command
}

async fn pump(stream: impl AsyncRead + Unpin, log: ServerLog, kind: Stream) {
    let mut reader = BufReader::new(stream);
    // Never more than one capped line in memory, however long the server's line is.
    let mut lines = CappedLines::new(MAX_LINE_BYTES);
    loop {
        let read = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => {
                for line in lines.feed(chunk) {
                    log.push(kind, &line);
                }
                chunk.len()
            }
        };
        reader.consume(read);
    }
    if let Some(line) = lines.finish() {
        log.push(kind, &line);
    }
}

/// The running server process (and its tree).
pub struct ServerChild {
    child: Box<dyn ChildWrapper>,
    pid: u32,
}

impl ServerChild {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Ctrl-C for the whole tree where the platform has it; otherwise terminate.
    pub fn interrupt(&mut self) -> io::Result<()> {
        #[cfg(unix)]
        {
            self.child.signal(libc::SIGINT)
        }
        #[cfg(not(unix))]
        {
            self.child.start_kill()
        }
    }

    pub fn terminate(&mut self) -> io::Result<()> {
        #[cfg(unix)]
        {
            self.child.signal(libc::SIGTERM)
        }
        #[cfg(not(unix))]
        {
            self.child.start_kill()
        }
    }

    /// Kills every process of the tree.
    pub fn kill_tree(&mut self) -> io::Result<()> {
        self.child.start_kill()
    }
}

pub fn exit_info(status: &ExitStatus) -> ExitInfo {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    let description = match (status.code(), signal) {
        (Some(0), _) => "exited normally (code 0)".to_owned(),
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended".to_owned(),
    };
    ExitInfo {
        code: status.code(),
        signal,
        description,
    }
}

/// Kills a process we did not spawn (our orphan from an earlier run) and its descendants.
pub fn kill_orphan_tree(pid: u32) -> bool {
    crate::procs::ProcessTable::snapshot().is_some_and(|t| t.kill_tree(pid))
}
