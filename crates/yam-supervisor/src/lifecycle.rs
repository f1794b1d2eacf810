//! The server's lifecycle as a pure state machine: events in, actions out, time passed in.
//! One task drives it and owns the child process; nothing here does I/O.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::RestartPolicy;

/// How a server process ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Human words: "exit code 1", "killed by signal 9", "did not become healthy in 30 s".
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Stopped,
    Starting,
    Running,
    Unhealthy,
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
            Phase::Stopping => "Stopping…".into(),
            Phase::Crashed { retry_in_ms } => {
                format!("Crashed — restarting in {} s", retry_in_ms.div_ceil(1000))
            }
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
            Phase::Starting | Phase::Running | Phase::Unhealthy | Phase::Stopping
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The admin asked to start; `clear` = log everyone out.
    Start {
        clear: bool,
    },
    Stop,
    Restart {
        clear: bool,
    },
    PortBusy {
        pid: Option<u32>,
        name: String,
    },
    Spawned {
        pid: u32,
    },
    SpawnFailed {
        reason: String,
    },
    HealthOk,
    HealthFailed,
    Exited(ExitInfo),
    /// Time passed: retries, start-up and stop deadlines.
    Tick,
}

/// Something the admin should hear about. Crashes and recoveries come in episodes (from a
/// crash until the server has run stable again): only the first crash and the first recovery
/// of an episode are news; the rest are `repeat`s, shown in place rather than announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Crashed {
        info: ExitInfo,
        /// Crashes in this episode so far (1 = the first).
        nth: u32,
    },
    CrashLoop(ExitInfo),
    PortBusy {
        pid: Option<u32>,
        name: String,
    },
    Unhealthy,
    /// Healthy again: after failed health checks (`after_crashes` 0) or after crashes.
    Recovered {
        after_crashes: u32,
        repeat: bool,
    },
    Failed(String),
}

impl Notice {
    /// Whether this notice is news (a desktop notification) or an update of the last one.
    pub fn is_repeat(&self) -> bool {
        match self {
            Notice::Crashed { nth, .. } => *nth > 1,
            Notice::Recovered { repeat, .. } => *repeat,
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Prepare (port, markers, cleanup) and spawn. `clear` only for admin-asked starts.
    Launch {
        clear: bool,
    },
    /// Ask the server to stop (admin API, SIGINT or SIGTERM).
    RequestStop,
    /// Kill the whole process tree.
    KillTree,
    /// The server is gone after a stop: write the shutdown marker.
    Stopped,
    Notify(Notice),
}

#[derive(Debug)]
pub struct Lifecycle {
    policy: RestartPolicy,
    phase: Phase,
    pid: Option<u32>,
    spawned_at: Option<Duration>,
    healthy_since: Option<Duration>,
    stop_requested_at: Option<Duration>,
    killed: bool,
    startup_timed_out: bool,
    retry_at: Option<Duration>,
    consecutive_crashes: u32,
    recent_exits: VecDeque<Duration>,
    health_failures: u32,
    restarts: u32,
    last_exit: Option<ExitInfo>,
    then_start: Option<bool>,
    /// Crashes since the server last ran stable (the current episode); 0 = none.
    episode_crashes: u32,
    /// The episode's recovery was announced.
    episode_recovered: bool,
}

impl Lifecycle {
    pub fn new(policy: RestartPolicy) -> Self {
        Self {
            policy,
            phase: Phase::Stopped,
            pid: None,
            spawned_at: None,
            healthy_since: None,
            stop_requested_at: None,
            killed: false,
            startup_timed_out: false,
            retry_at: None,
            consecutive_crashes: 0,
            recent_exits: VecDeque::new(),
            health_failures: 0,
            restarts: 0,
            last_exit: None,
            then_start: None,
            episode_crashes: 0,
            episode_recovered: false,
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Automatic restarts after crashes since the supervisor started.
    /// When a crashed server is due to be started again (time since the driver started).
    pub fn retry_at(&self) -> Option<Duration> {
        matches!(self.phase, Phase::Crashed { .. })
            .then_some(self.retry_at)
            .flatten()
    }

    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    pub fn last_exit(&self) -> Option<&ExitInfo> {
        self.last_exit.as_ref()
    }

    pub fn health_failures(&self) -> u32 {
        self.health_failures
    }

    pub fn healthy_since(&self) -> Option<Duration> {
        self.healthy_since
    }

    /// Time since the current process became healthy.
    pub fn uptime(&self, now: Duration) -> Option<Duration> {
        self.healthy_since.map(|t| now.saturating_sub(t))
    }

    fn launch(&mut self, clear: bool, now: Duration) -> Vec<Action> {
        self.phase = Phase::Starting;
        self.spawned_at = Some(now);
        self.healthy_since = None;
        self.health_failures = 0;
        self.killed = false;
        self.startup_timed_out = false;
        self.retry_at = None;
        vec![Action::Launch { clear }]
    }

    fn request_stop(&mut self, now: Duration) -> Vec<Action> {
        self.phase = Phase::Stopping;
        self.stop_requested_at = Some(now);
        self.killed = false;
        vec![Action::RequestStop]
    }

    /// An admin start forgets earlier crashes: they decided to try again.
    fn admin_start(&mut self, clear: bool, now: Duration) -> Vec<Action> {
        self.consecutive_crashes = 0;
        self.recent_exits.clear();
        self.end_episode();
        self.launch(clear, now)
    }

    fn end_episode(&mut self) {
        self.episode_crashes = 0;
        self.episode_recovered = false;
    }

    /// Running stable ends a crash episode: the next crash is news again.
    fn stable(&self, now: Duration) -> bool {
        self.healthy_since
            .is_some_and(|t| now.saturating_sub(t) >= self.policy.stable_after)
    }

    pub fn handle(&mut self, event: Event, now: Duration) -> Vec<Action> {
        use Phase as P;
        match (event, self.phase.clone()) {
            (
                Event::Start { clear },
                P::Stopped
                | P::CrashLoop
                | P::PortBusy { .. }
                | P::Failed { .. }
                | P::Crashed { .. },
            ) => self.admin_start(clear, now),
            (Event::Start { clear }, P::Stopping) => {
                self.then_start = Some(clear);
                vec![]
            }
            (Event::Start { .. }, _) => vec![],

            (Event::Stop, P::Starting | P::Running | P::Unhealthy) => {
                self.then_start = None;
                self.end_episode();
                self.request_stop(now)
            }
            (Event::Stop, P::Stopping) => {
                self.then_start = None;
                vec![]
            }
            (
                Event::Stop,
                P::Crashed { .. } | P::CrashLoop | P::PortBusy { .. } | P::Failed { .. },
            ) => {
                self.phase = P::Stopped;
                self.retry_at = None;
                vec![]
            }
            (Event::Stop, P::Stopped) => vec![],

            (Event::Restart { clear }, P::Starting | P::Running | P::Unhealthy) => {
                self.then_start = Some(clear);
                self.request_stop(now)
            }
            (Event::Restart { clear }, P::Stopping) => {
                self.then_start = Some(clear);
                vec![]
            }
            (Event::Restart { clear }, _) => self.admin_start(clear, now),

            (Event::PortBusy { pid, name }, P::Starting) => {
                self.phase = P::PortBusy {
                    pid,
                    name: name.clone(),
                };
                vec![Action::Notify(Notice::PortBusy { pid, name })]
            }
            (Event::SpawnFailed { reason }, P::Starting) => {
                self.phase = P::Failed {
                    reason: reason.clone(),
                };
                vec![Action::Notify(Notice::Failed(reason))]
            }
            (Event::Spawned { pid }, P::Starting) => {
                self.pid = Some(pid);
                self.spawned_at = Some(now);
                vec![]
            }

            (Event::HealthOk, P::Starting) => {
                self.phase = P::Running;
                self.healthy_since = Some(now);
                self.health_failures = 0;
                if self.episode_crashes == 0 {
                    return vec![];
                }
                let repeat = std::mem::replace(&mut self.episode_recovered, true);
                vec![Action::Notify(Notice::Recovered {
                    after_crashes: self.episode_crashes,
                    repeat,
                })]
            }
            (Event::HealthOk, P::Unhealthy) => {
                self.phase = P::Running;
                self.health_failures = 0;
                vec![Action::Notify(Notice::Recovered {
                    after_crashes: 0,
                    repeat: false,
                })]
            }
            (Event::HealthOk, P::Running) => {
                self.health_failures = 0;
                vec![]
            }
            (Event::HealthFailed, P::Running) => {
                self.health_failures += 1;
                if self.health_failures >= self.policy.unhealthy_after {
                    self.phase = P::Unhealthy;
                    return vec![Action::Notify(Notice::Unhealthy)];
                }
                vec![]
            }
            (Event::HealthFailed, P::Unhealthy) => {
                self.health_failures += 1;
                vec![]
            }

            (Event::Exited(info), P::Stopping) => {
                self.pid = None;
                self.last_exit = Some(info);
                self.healthy_since = None;
                self.phase = P::Stopped;
                let mut actions = vec![Action::Stopped];
                if let Some(clear) = self.then_start.take() {
                    actions.extend(self.admin_start(clear, now));
                }
                actions
            }
            (Event::Exited(info), P::Starting | P::Running | P::Unhealthy) => {
                self.crashed(info, now)
            }

            (Event::Tick, P::Crashed { .. }) => match self.retry_at {
                Some(at) if at <= now => {
                    self.restarts += 1;
                    self.launch(false, now)
                }
                Some(at) => {
                    self.phase = P::Crashed {
                        retry_in_ms: millis(at.saturating_sub(now)),
                    };
                    vec![]
                }
                None => vec![],
            },
            (Event::Tick, P::Starting) => {
                let deadline = self.spawned_at.map(|t| t + self.policy.startup_timeout);
                if self.pid.is_some() && !self.killed && deadline.is_some_and(|d| d <= now) {
                    self.killed = true;
                    self.startup_timed_out = true;
                    return vec![Action::KillTree];
                }
                vec![]
            }
            (Event::Tick, P::Running) => {
                if self.episode_crashes > 0 && self.stable(now) {
                    self.end_episode();
                }
                vec![]
            }
            (Event::Tick, P::Stopping) => {
                let deadline = self.stop_requested_at.map(|t| t + self.policy.stop_grace);
                if !self.killed && deadline.is_some_and(|d| d <= now) {
                    self.killed = true;
                    return vec![Action::KillTree];
                }
                vec![]
            }
            (_, _) => vec![],
        }
    }

    fn crashed(&mut self, mut info: ExitInfo, now: Duration) -> Vec<Action> {
        if self.startup_timed_out {
            info.description = format!(
                "did not become healthy within {} s ({})",
                self.policy.startup_timeout.as_secs(),
                info.description
            );
        }
        if self.stable(now) {
            self.consecutive_crashes = 0;
            self.end_episode();
        }
        self.consecutive_crashes += 1;
        self.episode_crashes += 1;
        self.pid = None;
        self.healthy_since = None;
        self.last_exit = Some(info.clone());
        self.recent_exits.push_back(now);
        while self
            .recent_exits
            .front()
            .is_some_and(|t| now.saturating_sub(*t) > self.policy.crash_window)
        {
            self.recent_exits.pop_front();
        }
        if self.recent_exits.len() >= self.policy.max_crashes_in_window {
            self.phase = Phase::CrashLoop;
            self.retry_at = None;
            return vec![Action::Notify(Notice::CrashLoop(info))];
        }
        let delay = self.policy.next_delay(self.consecutive_crashes);
        self.retry_at = Some(now + delay);
        self.phase = Phase::Crashed {
            retry_in_ms: millis(delay),
        };
        vec![Action::Notify(Notice::Crashed {
            info,
            nth: self.episode_crashes,
        })]
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
