//! What the lifecycle shows: the phase an admin sees, where requests go, the generations alive.

use serde::{Deserialize, Serialize};

/// A server process the supervisor started: 1, 2, 3… over the supervisor's life. Every event
/// about a process names its generation, so "the old server exited" is never mistaken for
/// "the new one crashed".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Gen(pub u64);

impl std::fmt::Display for Gen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where requests on the public port go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// This generation serves them.
    To(Gen),
    /// A server is on its way (starting, restarting after a crash, or the old one stopping
    /// first): requests wait for it, bounded.
    Hold,
    /// No server is coming (stopped, crash loop, failed): answer "unavailable" at once.
    Closed,
}

/// Which step of a restart is under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartStep {
    /// The new server starts while the old one goes on serving.
    NewStartingOldServes,
    /// The old server stops first (stop-first restarts); requests wait.
    OldStopping,
    /// The new server starts and nothing serves meanwhile; requests wait.
    NewStartingHeld,
    /// The new server serves; the old one is being told to take no more connections.
    HandingOver,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Stopped,
    Starting,
    Running,
    Unhealthy,
    Restarting {
        step: RestartStep,
    },
    Stopping,
    /// Waiting for the next automatic restart.
    Crashed {
        retry_in_ms: u64,
    },
    /// Too many exits in a short time: no more automatic restarts.
    CrashLoop,
    /// Someone else listens on the port; nothing was killed.
    PortBusy {
        pid: Option<u32>,
        name: String,
    },
    Failed {
        reason: String,
    },
}

impl Phase {
    pub fn label(&self) -> String {
        match self {
            Phase::Stopped => "Stopped".into(),
            Phase::Starting => "Starting…".into(),
            Phase::Running => "Running".into(),
            Phase::Unhealthy => "Unhealthy".into(),
            Phase::Restarting {
                step: RestartStep::NewStartingOldServes,
            } => "Restarting — the old server answers until the new one is ready".into(),
            Phase::Restarting {
                step: RestartStep::OldStopping,
            } => "Restarting — the old server is stopping; requests are held".into(),
            Phase::Restarting {
                step: RestartStep::NewStartingHeld,
            } => "Restarting — requests are held until the new server is ready".into(),
            Phase::Restarting {
                step: RestartStep::HandingOver,
            } => "Restarting — handing over to the new server".into(),
            Phase::Stopping => "Stopping…".into(),
            Phase::Crashed { retry_in_ms } => format!(
                "Crashed — restarting in {} s; requests are held",
                retry_in_ms.div_ceil(1000)
            ),
            Phase::CrashLoop => "Crash loop — stopped retrying".into(),
            Phase::PortBusy {
                pid: Some(pid),
                name,
            } => format!("Port busy by {name} (pid {pid})"),
            Phase::PortBusy { pid: None, name } => format!("Port busy: {name}"),
            Phase::Failed { reason } => format!("Failed: {reason}"),
        }
    }

    /// Whether a server process may be alive in this phase.
    pub fn has_process(&self) -> bool {
        matches!(
            self,
            Phase::Starting
                | Phase::Running
                | Phase::Unhealthy
                | Phase::Restarting { .. }
                | Phase::Stopping
        )
    }
}

/// What a live generation is doing, for the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Launching,
    Starting,
    Serving,
    /// Serves until its successor is healthy.
    Outgoing,
    /// Told to stop: finishing its requests.
    Draining,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenView {
    pub generation: Gen,
    pub pid: Option<u32>,
    pub role: Role,
}

/// How the last restart or crash recovery went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchReport {
    pub generation: Gen,
    /// From the restart (or the crash) until the new server answered its health check.
    pub took_ms: u64,
    /// Requests were held meanwhile (nothing served); otherwise the old server answered them.
    pub held: bool,
    /// A recovery after a crash rather than a restart.
    pub after_crash: bool,
    /// Since the supervisor started.
    pub at_ms: u64,
}
