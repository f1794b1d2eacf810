//! One server process the driver started: its plan, its token, its health checks, and the
//! task that owns the child (waits for its exit, delivers stop signals), as watchexec's job
//! does. The driver keeps one per live generation.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::Internal;
use crate::door::Backend;
use crate::lifecycle::Gen;
use crate::process::ServerChild;
use crate::profile::LaunchPlan;
use crate::server_api::ServerApi;

/// What the owning task does to the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::supervisor) enum Signal {
    /// Ctrl-C (SIGINT) where the platform has it; otherwise terminate.
    Interrupt,
    Terminate,
    /// The whole tree.
    Kill,
}

pub(in crate::supervisor) struct Generation {
    pub server: Gen,
    pub pid: u32,
    pub plan: LaunchPlan,
    pub token: String,
    signals: mpsc::UnboundedSender<Signal>,
    /// Behind the door: the door's view of this server.
    pub backend: Option<Arc<Backend>>,
    pub health_in_flight: bool,
    pub next_health: Instant,
    pub healthy: Option<bool>,
}

impl Generation {
    /// Takes ownership of `child`: a task waits for its exit (reported as
    /// `Internal::Exited`) and carries out signals.
    pub fn own(
        server: Gen,
        child: ServerChild,
        plan: LaunchPlan,
        token: String,
        backend: Option<Arc<Backend>>,
        exits: mpsc::UnboundedSender<Internal>,
    ) -> Self {
        let pid = child.pid();
        let (signals, rx) = mpsc::unbounded_channel();
        tokio::spawn(own_process(server, child, rx, exits));
        let now = Instant::now();
        Self {
            server,
            pid,
            plan,
            token,
            signals,
            backend,
            health_in_flight: false,
            next_health: now,
            healthy: None,
        }
    }

    pub fn signal(&self, signal: Signal) {
        let _ = self.signals.send(signal);
    }

    /// For a task that signals later.
    pub fn signal_sender(&self) -> mpsc::UnboundedSender<Signal> {
        self.signals.clone()
    }

    /// Its admin API (the built-in server's; the control token of this start).
    pub fn api(&self) -> ServerApi {
        ServerApi::new(&self.plan.api_url, &self.token)
    }
}

async fn own_process(
    server: Gen,
    mut child: ServerChild,
    mut signals: mpsc::UnboundedReceiver<Signal>,
    exits: mpsc::UnboundedSender<Internal>,
) {
    let status: std::io::Result<ExitStatus> = loop {
        tokio::select! {
            status = child.wait() => break status,
            Some(signal) = signals.recv() => {
                let _ = match signal {
                    Signal::Interrupt => child.interrupt(),
                    Signal::Terminate => child.terminate(),
                    Signal::Kill => child.kill_tree(),
                };
            }
        }
    };
    let _ = exits.send(Internal::Exited { server, status });
}
