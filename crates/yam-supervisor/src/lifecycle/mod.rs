//! The servers' lifecycle as a pure state machine: events in, actions out, time passed in.
//! One slot per server process (a generation), each state's data inside its variant; a
//! restart is "the old one serves while the new one starts" (overlap) or "the old one stops,
//! then the new one starts" (stop first). Nothing here does I/O; the driver carries out the
//! actions and owns the processes.

mod crashes;
mod view;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::RestartPolicy;
use crashes::{CrashRecord, Verdict};
pub use view::{Gen, GenView, Phase, RestartStep, Role, Route, SwitchReport};

/// How a server process ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Human words: "exit code 1", "killed by signal 9", "did not become healthy in 30 s".
    pub description: String,
}

/// How a restart replaces the running server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// The new server starts beside the old one, which serves until the new one is healthy.
    Overlap,
    /// The old server stops first; the new one starts once it has gone.
    StopFirst,
}

/// Why a generation was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The admin started it (or the supervisor did at launch).
    Start,
    /// A restart asked at `since`.
    Restart { since: Duration },
    /// An automatic restart after a crash at `crashed_at`.
    Recovery { crashed_at: Duration },
}

/// One server process's state.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    /// The driver prepares and spawns it; no process yet.
    Launching,
    Starting {
        pid: u32,
        spawned_at: Duration,
        /// Killed for not becoming healthy in time.
        timed_out: bool,
    },
    Serving {
        pid: u32,
        healthy_since: Duration,
        failures: u32,
    },
    /// Told to stop; finishing its requests.
    Retiring {
        pid: u32,
        since: Duration,
        /// It takes no new connection any more (it said so, or the door stopped sending).
        released: bool,
        killed: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Generation {
    id: Gen,
    origin: Origin,
    slot: Slot,
}

impl Generation {
    fn pid(&self) -> Option<u32> {
        match self.slot {
            Slot::Launching => None,
            Slot::Starting { pid, .. } | Slot::Serving { pid, .. } | Slot::Retiring { pid, .. } => {
                Some(pid)
            }
        }
    }
}

/// What the supervisor does when no generation is current.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Idle {
    Stopped,
    /// A stop-first restart: start when every retiring server has gone.
    AfterStop {
        clear: bool,
        since: Duration,
    },
    Crashed {
        retry_at: Duration,
        crashed_at: Duration,
    },
    CrashLoop,
    PortBusy {
        pid: Option<u32>,
        name: String,
    },
    Failed {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Current {
    Idle(Idle),
    /// The generation that serves, or is on its way to.
    Live(Generation),
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
        server: Gen,
        pid: Option<u32>,
        name: String,
    },
    Spawned {
        server: Gen,
        pid: u32,
    },
    SpawnFailed {
        server: Gen,
        reason: String,
    },
    HealthOk {
        server: Gen,
    },
    HealthFailed {
        server: Gen,
    },
    /// A retiring server takes no new connection any more.
    Released {
        server: Gen,
    },
    Exited {
        server: Gen,
        info: ExitInfo,
    },
    /// Time passed: retries, start-up and stop deadlines.
    Tick,
}

/// Something the admin should hear about. Crashes and recoveries come in episodes: only the
/// first crash and the first recovery of an episode are news; the rest are `repeat`s.
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
    /// A restart's new server never became healthy; the old one goes on serving.
    SwitchFailed(String),
    /// The old server exited while its successor was starting; requests wait for the new one.
    OutgoingExited(ExitInfo),
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
    /// Prepare (markers, cleanup) and spawn generation `server`. `clear` only for admin-asked
    /// starts.
    Launch {
        server: Gen,
        clear: bool,
    },
    /// Stop sending it requests, let those in flight finish, and ask it to stop.
    /// `replaced`: another server takes over (so no shutdown marker, no "stopped" log).
    Retire {
        server: Gen,
        replaced: bool,
    },
    /// Kill its whole process tree.
    KillTree {
        server: Gen,
    },
    /// It has gone. `last`: it was stopped and no server is left (write the shutdown marker).
    Forget {
        server: Gen,
        last: bool,
    },
    Notify(Notice),
}

#[derive(Debug)]
pub struct Lifecycle {
    policy: RestartPolicy,
    switch: Switch,
    next_gen: u64,
    current: Current,
    /// Serves while its successor (`current`) starts, in an overlap restart.
    outgoing: Option<Generation>,
    /// Told to stop; each leaves when its `Exited` arrives.
    retiring: Vec<Generation>,
    crashes: CrashRecord,
    starts: u32,
    restarts: u32,
    last_exit: Option<ExitInfo>,
    last_switch: Option<SwitchReport>,
}

mod handle;

impl Lifecycle {
    pub fn new(policy: RestartPolicy, switch: Switch) -> Self {
        Self {
            policy,
            switch,
            next_gen: 1,
            current: Current::Idle(Idle::Stopped),
            outgoing: None,
            retiring: Vec::new(),
            crashes: CrashRecord::default(),
            starts: 0,
            restarts: 0,
            last_exit: None,
            last_switch: None,
        }
    }

    /// How the next restart replaces the server (a setting; applies from the next restart).
    pub fn set_switch(&mut self, switch: Switch) {
        self.switch = switch;
    }

    pub fn phase(&self, now: Duration) -> Phase {
        match &self.current {
            Current::Live(g) => match (&g.slot, &self.outgoing, g.origin) {
                (Slot::Serving { .. }, _, _) if self.handing_over() => Phase::Restarting {
                    step: RestartStep::HandingOver,
                },
                (Slot::Serving { failures, .. }, _, _) => {
                    if *failures >= self.policy.unhealthy_after {
                        Phase::Unhealthy
                    } else {
                        Phase::Running
                    }
                }
                (_, Some(_), _) => Phase::Restarting {
                    step: RestartStep::NewStartingOldServes,
                },
                (_, None, Origin::Restart { .. }) => Phase::Restarting {
                    step: RestartStep::NewStartingHeld,
                },
                (_, None, Origin::Start | Origin::Recovery { .. }) => Phase::Starting,
            },
            Current::Idle(Idle::Stopped) if self.retiring.is_empty() => Phase::Stopped,
            Current::Idle(Idle::Stopped) => Phase::Stopping,
            Current::Idle(Idle::AfterStop { .. }) => Phase::Restarting {
                step: RestartStep::OldStopping,
            },
            Current::Idle(Idle::Crashed { retry_at, .. }) => Phase::Crashed {
                retry_in_ms: millis(retry_at.saturating_sub(now)),
            },
            Current::Idle(Idle::CrashLoop) => Phase::CrashLoop,
            Current::Idle(Idle::PortBusy { pid, name }) => Phase::PortBusy {
                pid: *pid,
                name: name.clone(),
            },
            Current::Idle(Idle::Failed { reason }) => Phase::Failed {
                reason: reason.clone(),
            },
        }
    }

    /// A retiring server may still take new connections (on the shared socket).
    fn handing_over(&self) -> bool {
        self.retiring.iter().any(|g| {
            matches!(
                g.slot,
                Slot::Retiring {
                    released: false,
                    ..
                }
            )
        })
    }

    /// Where requests go: the serving generation, held while one is on its way, or closed.
    pub fn route(&self) -> Route {
        match (&self.current, &self.outgoing) {
            (Current::Live(g), _) if matches!(g.slot, Slot::Serving { .. }) => Route::To(g.id),
            (Current::Live(_), Some(o)) => Route::To(o.id),
            (Current::Live(_), None) => Route::Hold,
            (Current::Idle(Idle::AfterStop { .. } | Idle::Crashed { .. }), _) => Route::Hold,
            (
                Current::Idle(
                    Idle::Stopped | Idle::CrashLoop | Idle::PortBusy { .. } | Idle::Failed { .. },
                ),
                _,
            ) => Route::Closed,
        }
    }

    /// Every generation with a process (or about to have one), newest first.
    pub fn generations(&self) -> Vec<GenView> {
        let mut views = Vec::new();
        if let Current::Live(g) = &self.current {
            let role = match g.slot {
                Slot::Launching => Role::Launching,
                Slot::Starting { .. } => Role::Starting,
                Slot::Serving { .. } => Role::Serving,
                Slot::Retiring { .. } => Role::Draining,
            };
            views.push(GenView {
                generation: g.id,
                pid: g.pid(),
                role,
            });
        }
        views.extend(self.outgoing.iter().map(|g| GenView {
            generation: g.id,
            pid: g.pid(),
            role: Role::Outgoing,
        }));
        views.extend(self.retiring.iter().rev().map(|g| GenView {
            generation: g.id,
            pid: g.pid(),
            role: Role::Draining,
        }));
        views
    }

    /// The pid of the server that answers (or will): the current one, else the outgoing one.
    pub fn pid(&self) -> Option<u32> {
        match (&self.current, &self.outgoing) {
            (Current::Live(g), _) if matches!(g.slot, Slot::Serving { .. }) => g.pid(),
            (_, Some(o)) => o.pid(),
            (Current::Live(g), None) => g.pid(),
            (Current::Idle(_), None) => None,
        }
    }

    /// The generation that serves (or will): what the admin's actions talk to.
    pub fn serving(&self) -> Option<Gen> {
        match self.route() {
            Route::To(g) => Some(g),
            Route::Hold | Route::Closed => None,
        }
    }

    /// When a crashed server is due to be started again (time since the driver started).
    pub fn retry_at(&self) -> Option<Duration> {
        match &self.current {
            Current::Idle(Idle::Crashed { retry_at, .. }) => Some(*retry_at),
            Current::Idle(_) | Current::Live(_) => None,
        }
    }

    /// The generation the next launch will start.
    pub fn next_generation(&self) -> Gen {
        Gen(self.next_gen)
    }

    /// Server processes started since the supervisor started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Starts that replaced a server: restarts the admin asked for and crash recoveries.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    pub fn last_exit(&self) -> Option<&ExitInfo> {
        self.last_exit.as_ref()
    }

    pub fn last_switch(&self) -> Option<&SwitchReport> {
        self.last_switch.as_ref()
    }

    pub fn health_failures(&self) -> u32 {
        match &self.current {
            Current::Live(Generation {
                slot: Slot::Serving { failures, .. },
                ..
            }) => *failures,
            Current::Live(_) | Current::Idle(_) => 0,
        }
    }

    /// Time since the serving process became healthy.
    pub fn uptime(&self, now: Duration) -> Option<Duration> {
        let serving = match (&self.current, &self.outgoing) {
            (Current::Live(g), _) if matches!(g.slot, Slot::Serving { .. }) => g,
            (_, Some(o)) => o,
            (Current::Live(_) | Current::Idle(_), None) => return None,
        };
        match serving.slot {
            Slot::Serving { healthy_since, .. } => Some(now.saturating_sub(healthy_since)),
            Slot::Launching | Slot::Starting { .. } | Slot::Retiring { .. } => None,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
