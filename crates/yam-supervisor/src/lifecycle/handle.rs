//! The transitions: one function per event, each matching every state it can meet.

use std::time::Duration;

use super::{
    Action, Current, Event, ExitInfo, Gen, Generation, Idle, Lifecycle, Notice, Origin, Slot,
    Switch, SwitchReport, Verdict, millis,
};

impl Lifecycle {
    pub fn handle(&mut self, event: Event, now: Duration) -> Vec<Action> {
        match event {
            Event::Start { clear } => self.on_start(clear, now),
            Event::Stop => self.on_stop(now),
            Event::Restart { clear } => self.on_restart(clear, now),
            Event::Spawned { server, pid } => self.on_spawned(server, pid, now),
            Event::SpawnFailed { server, reason } => {
                self.on_launch_failed(server, Idle::Failed { reason })
            }
            Event::PortBusy { server, pid, name } => {
                self.on_launch_failed(server, Idle::PortBusy { pid, name })
            }
            Event::HealthOk { server } => self.on_health_ok(server, now),
            Event::HealthFailed { server } => self.on_health_failed(server),
            Event::Released { server } => {
                for g in &mut self.retiring {
                    if let (true, Slot::Retiring { released, .. }) = (g.id == server, &mut g.slot) {
                        *released = true;
                    }
                }
                vec![]
            }
            Event::Exited { server, info } => self.on_exited(server, info, now),
            Event::Tick => self.on_tick(now),
        }
    }

    fn launch(&mut self, origin: Origin, clear: bool) -> Vec<Action> {
        let server = Gen(self.next_gen);
        self.next_gen += 1;
        self.starts += 1;
        if !matches!(origin, Origin::Start) {
            self.restarts += 1;
        }
        self.current = Current::Live(Generation {
            id: server,
            origin,
            slot: Slot::Launching,
        });
        vec![Action::Launch { server, clear }]
    }

    /// The admin starts afresh: earlier crashes are forgotten.
    fn admin_start(&mut self, clear: bool) -> Vec<Action> {
        self.crashes.forgive();
        self.launch(Origin::Start, clear)
    }

    /// Moves `g` to the retiring list and asks it to stop (once it has a process).
    fn retire(&mut self, mut g: Generation, now: Duration, replaced: bool) -> Vec<Action> {
        let actions = match g.slot {
            Slot::Starting { pid, .. } | Slot::Serving { pid, .. } => {
                g.slot = Slot::Retiring {
                    pid,
                    since: now,
                    released: false,
                    killed: false,
                };
                vec![Action::Retire {
                    server: g.id,
                    replaced,
                }]
            }
            // Asked to stop when its process appears (`on_spawned`).
            Slot::Launching | Slot::Retiring { .. } => vec![],
        };
        self.retiring.push(g);
        actions
    }

    /// Retires the current and the outgoing generation; the supervisor goes `idle`.
    fn retire_all(&mut self, idle: Idle, now: Duration, replaced: bool) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Current::Live(g) = std::mem::replace(&mut self.current, Current::Idle(idle)) {
            actions.extend(self.retire(g, now, replaced));
        }
        if let Some(o) = self.outgoing.take() {
            actions.extend(self.retire(o, now, replaced));
        }
        actions
    }

    fn on_start(&mut self, clear: bool, now: Duration) -> Vec<Action> {
        match &self.current {
            Current::Live(_) | Current::Idle(Idle::AfterStop { .. }) => vec![],
            Current::Idle(Idle::Stopped) if !self.retiring.is_empty() => match self.switch {
                // Started again while stopping: the old one may finish beside the new one.
                Switch::Overlap => self.admin_start(clear),
                Switch::StopFirst => {
                    self.current = Current::Idle(Idle::AfterStop { clear, since: now });
                    vec![]
                }
            },
            Current::Idle(
                Idle::Stopped
                | Idle::Crashed { .. }
                | Idle::CrashLoop
                | Idle::PortBusy { .. }
                | Idle::Failed { .. },
            ) => self.admin_start(clear),
        }
    }

    fn on_stop(&mut self, now: Duration) -> Vec<Action> {
        self.crashes.settle();
        self.retire_all(Idle::Stopped, now, false)
    }

    fn on_restart(&mut self, clear: bool, now: Duration) -> Vec<Action> {
        match (&self.current, self.switch) {
            (
                Current::Idle(Idle::AfterStop {
                    clear: before,
                    since,
                }),
                _,
            ) => {
                self.current = Current::Idle(Idle::AfterStop {
                    clear: clear || *before,
                    since: *since,
                });
                vec![]
            }
            (Current::Idle(_), _) => self.admin_start(clear),
            (Current::Live(_), Switch::StopFirst) => {
                let mut actions = self.retire_all(Idle::Stopped, now, true);
                let idle = Idle::AfterStop { clear, since: now };
                if self.retiring.is_empty() {
                    actions.extend(self.launch(Origin::Restart { since: now }, clear));
                } else {
                    self.current = Current::Idle(idle);
                }
                actions
            }
            (Current::Live(g), Switch::Overlap) => {
                let serving = matches!(g.slot, Slot::Serving { .. });
                let Current::Live(g) =
                    std::mem::replace(&mut self.current, Current::Idle(Idle::Stopped))
                else {
                    return vec![];
                };
                let mut actions = Vec::new();
                if serving {
                    // It serves until its successor is healthy.
                    if let Some(o) = self.outgoing.take() {
                        actions.extend(self.retire(o, now, true));
                    }
                    self.outgoing = Some(g);
                } else {
                    // Restarted again while starting: the newest settings win.
                    actions.extend(self.retire(g, now, true));
                }
                actions.extend(self.launch(Origin::Restart { since: now }, clear));
                actions
            }
        }
    }

    fn on_spawned(&mut self, server: Gen, pid: u32, now: Duration) -> Vec<Action> {
        if let Current::Live(g) = &mut self.current
            && g.id == server
        {
            g.slot = Slot::Starting {
                pid,
                spawned_at: now,
                timed_out: false,
            };
            return vec![];
        }
        if let Some(g) = self.retiring.iter_mut().find(|g| g.id == server) {
            // Stopped before its process appeared.
            g.slot = Slot::Retiring {
                pid,
                since: now,
                released: false,
                killed: false,
            };
            return vec![Action::Retire {
                server,
                replaced: true,
            }];
        }
        // A process nobody waits for: never leave it running.
        vec![Action::KillTree { server }]
    }

    /// The launch of `server` failed before a process ran.
    fn on_launch_failed(&mut self, server: Gen, idle: Idle) -> Vec<Action> {
        let is_current = matches!(&self.current, Current::Live(g) if g.id == server);
        if !is_current {
            self.retiring.retain(|g| g.id != server);
            return self.after_retiring_changed();
        }
        let (notice, why) = match &idle {
            Idle::PortBusy { pid, name } => (
                Notice::PortBusy {
                    pid: *pid,
                    name: name.clone(),
                },
                format!("the port is used by {name}"),
            ),
            Idle::Failed { reason } => (Notice::Failed(reason.clone()), reason.clone()),
            Idle::Stopped | Idle::AfterStop { .. } | Idle::Crashed { .. } | Idle::CrashLoop => {
                let why = "the server could not be launched".to_owned();
                (Notice::Failed(why.clone()), why)
            }
        };
        match self.outgoing.take() {
            Some(o) => {
                self.current = Current::Live(o);
                vec![Action::Notify(Notice::SwitchFailed(why))]
            }
            None => {
                self.current = Current::Idle(idle);
                vec![Action::Notify(notice)]
            }
        }
    }

    fn on_health_ok(&mut self, server: Gen, now: Duration) -> Vec<Action> {
        if let Some(Generation {
            slot: Slot::Serving { failures, .. },
            ..
        }) = self.outgoing.as_mut().filter(|o| o.id == server)
        {
            *failures = 0;
            return vec![];
        }
        let Current::Live(g) = &mut self.current else {
            return vec![];
        };
        if g.id != server {
            return vec![];
        }
        match &mut g.slot {
            Slot::Serving { failures, .. } => {
                let was_unhealthy = *failures >= self.policy.unhealthy_after;
                *failures = 0;
                if was_unhealthy {
                    vec![Action::Notify(Notice::Recovered {
                        after_crashes: 0,
                        repeat: false,
                    })]
                } else {
                    vec![]
                }
            }
            Slot::Starting {
                pid,
                timed_out: false,
                ..
            } => {
                let pid = *pid;
                g.slot = Slot::Serving {
                    pid,
                    healthy_since: now,
                    failures: 0,
                };
                self.became_healthy(server, now)
            }
            // Being killed for starting too slowly, or not spawned: not now.
            Slot::Starting {
                timed_out: true, ..
            }
            | Slot::Launching
            | Slot::Retiring { .. } => vec![],
        }
    }

    /// `server` (current) answered for the first time: it takes over.
    fn became_healthy(&mut self, server: Gen, now: Duration) -> Vec<Action> {
        let Current::Live(g) = &self.current else {
            return vec![];
        };
        let held = self.outgoing.is_none();
        let since = match g.origin {
            Origin::Start => None,
            Origin::Restart { since } => Some((since, false)),
            Origin::Recovery { crashed_at } => Some((crashed_at, true)),
        };
        if let Some((since, after_crash)) = since {
            self.last_switch = Some(SwitchReport {
                generation: server,
                took_ms: millis(now.saturating_sub(since)),
                held,
                after_crash,
                at_ms: millis(now),
            });
        }
        let mut actions = Vec::new();
        if let Some(o) = self.outgoing.take() {
            actions.extend(self.retire(o, now, true));
        }
        if let Some((after_crashes, repeat)) = self.crashes.recovered() {
            actions.push(Action::Notify(Notice::Recovered {
                after_crashes,
                repeat,
            }));
        }
        actions
    }

    fn on_health_failed(&mut self, server: Gen) -> Vec<Action> {
        if let Some(Generation {
            slot: Slot::Serving { failures, .. },
            ..
        }) = self.outgoing.as_mut().filter(|o| o.id == server)
        {
            *failures += 1;
            return vec![];
        }
        match &mut self.current {
            Current::Live(Generation {
                id,
                slot: Slot::Serving { failures, .. },
                ..
            }) if *id == server => {
                *failures += 1;
                if *failures == self.policy.unhealthy_after {
                    vec![Action::Notify(Notice::Unhealthy)]
                } else {
                    vec![]
                }
            }
            // Failures while starting are expected; others are about gone servers.
            Current::Live(_) | Current::Idle(_) => vec![],
        }
    }

    fn on_exited(&mut self, server: Gen, info: ExitInfo, now: Duration) -> Vec<Action> {
        if let Some(i) = self.retiring.iter().position(|g| g.id == server) {
            self.retiring.remove(i);
            self.last_exit = Some(info);
            let last = self.retiring.is_empty()
                && self.outgoing.is_none()
                && matches!(self.current, Current::Idle(Idle::Stopped));
            let mut actions = vec![Action::Forget { server, last }];
            actions.extend(self.after_retiring_changed());
            return actions;
        }
        if self.outgoing.as_ref().is_some_and(|o| o.id == server) {
            self.outgoing = None;
            self.last_exit = Some(info.clone());
            return vec![
                Action::Forget {
                    server,
                    last: false,
                },
                Action::Notify(Notice::OutgoingExited(info)),
            ];
        }
        match &self.current {
            Current::Live(g) if g.id == server => {
                let g = g.clone();
                self.current_exited(g, info, now)
            }
            // Not a process we know (already forgotten).
            Current::Live(_) | Current::Idle(_) => vec![],
        }
    }

    /// The current generation exited without being asked: a crash, or a failed switch.
    fn current_exited(&mut self, g: Generation, mut info: ExitInfo, now: Duration) -> Vec<Action> {
        if let Slot::Starting {
            timed_out: true, ..
        } = g.slot
        {
            info.description = format!(
                "did not become healthy within {} s ({})",
                self.policy.startup_timeout.as_secs(),
                info.description
            );
        }
        self.last_exit = Some(info.clone());
        let mut actions = vec![Action::Forget {
            server: g.id,
            last: false,
        }];
        if let Some(o) = self.outgoing.take() {
            self.current = Current::Live(o);
            actions.push(Action::Notify(Notice::SwitchFailed(format!(
                "the new server exited before it was ready ({})",
                info.description
            ))));
            return actions;
        }
        let ran_stable = match g.slot {
            Slot::Serving { healthy_since, .. } => {
                now.saturating_sub(healthy_since) >= self.policy.stable_after
            }
            Slot::Launching | Slot::Starting { .. } | Slot::Retiring { .. } => false,
        };
        match self.crashes.crashed(&self.policy, now, ran_stable) {
            Verdict::Loop => {
                self.current = Current::Idle(Idle::CrashLoop);
                actions.push(Action::Notify(Notice::CrashLoop(info)));
            }
            Verdict::Retry { delay, nth } => {
                self.current = Current::Idle(Idle::Crashed {
                    retry_at: now + delay,
                    crashed_at: now,
                });
                actions.push(Action::Notify(Notice::Crashed { info, nth }));
            }
        }
        actions
    }

    /// A retiring generation left: a stop-first restart may go on now.
    fn after_retiring_changed(&mut self) -> Vec<Action> {
        match &self.current {
            Current::Idle(Idle::AfterStop { clear, since }) if self.retiring.is_empty() => {
                let (clear, since) = (*clear, *since);
                self.launch(Origin::Restart { since }, clear)
            }
            Current::Idle(_) | Current::Live(_) => vec![],
        }
    }

    fn on_tick(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        let kill_after = self.policy.drain + self.policy.stop_grace;
        for g in &mut self.retiring {
            if let Slot::Retiring {
                since,
                killed: killed @ false,
                ..
            } = &mut g.slot
                && now.saturating_sub(*since) >= kill_after
            {
                *killed = true;
                actions.push(Action::KillTree { server: g.id });
            }
        }
        match &mut self.current {
            Current::Idle(Idle::Crashed {
                retry_at,
                crashed_at,
            }) if *retry_at <= now => {
                let crashed_at = *crashed_at;
                actions.extend(self.launch(Origin::Recovery { crashed_at }, false));
            }
            Current::Live(Generation {
                id,
                slot:
                    Slot::Starting {
                        spawned_at,
                        timed_out: timed_out @ false,
                        ..
                    },
                ..
            }) if now.saturating_sub(*spawned_at) >= self.policy.startup_timeout => {
                *timed_out = true;
                actions.push(Action::KillTree { server: *id });
            }
            Current::Live(Generation {
                slot: Slot::Serving { healthy_since, .. },
                ..
            }) => {
                if now.saturating_sub(*healthy_since) >= self.policy.stable_after {
                    self.crashes.settle();
                }
            }
            Current::Live(_) | Current::Idle(_) => {}
        }
        actions
    }
}
