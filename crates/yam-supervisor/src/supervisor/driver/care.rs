//! Looking after the server generations: retiring one (drain, then the stop its profile
//! takes), asking each for its health (without consuming YAM's reset marker), sampling the
//! serving one's CPU and memory.

use std::time::Instant;

use yam_sessions::markers::FORCE_SESSION_RESET;

use super::{Driver, HEALTH_WHILE_STARTING, Internal, Signal, USAGE_EVERY};
use crate::lifecycle::{Event, Gen, Role};
use crate::profile::{Binding, StopMethod};
use crate::server_api::{healthy, port_open};

impl Driver {
    /// Stops sending `server` requests (the route already moved on), lets those in flight
    /// finish, then asks it to stop. `Released` comes when it takes no new connection.
    pub(super) fn retire(&mut self, server: Gen, replaced: bool) -> Vec<Event> {
        let Some(g) = self.gens.get(&server) else {
            return vec![];
        };
        let pid = g.pid;
        let successor = match self.machine.pid() {
            Some(p) if replaced && p != pid => format!("; the new one (pid {p}) serves"),
            Some(_) | None => String::new(),
        };
        match g.plan.stop {
            StopMethod::AdminApi => {
                let handover = replaced && matches!(g.plan.binding, Binding::Handed { .. });
                self.log.supervisor(&format!(
                    "Asking server {server} (pid {pid}) to finish its requests and stop{successor}"
                ));
                let api = g.api();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let _ = match api.shutdown(handover).await {
                        Ok(()) => tx.send(Internal::Released { server }),
                        Err(e) => tx.send(Internal::StopFallback {
                            server,
                            reason: e.to_string(),
                        }),
                    };
                });
                vec![]
            }
            StopMethod::Interrupt | StopMethod::Terminate => {
                let (signal, what) = match g.plan.stop {
                    StopMethod::Interrupt => (Signal::Interrupt, "Ctrl-C (SIGINT)"),
                    StopMethod::Terminate | StopMethod::AdminApi => {
                        (Signal::Terminate, "a stop signal")
                    }
                };
                self.log.supervisor(&format!(
                    "Server {server} (pid {pid}) gets no new requests{successor}; {what} once its requests in flight are done"
                ));
                let (backend, signals) = (g.backend.clone(), g.signal_sender());
                let drain = self.opts.policy.drain;
                tokio::spawn(async move {
                    if let Some(b) = &backend {
                        let _ = tokio::time::timeout(drain, b.retire()).await;
                        // Long responses (event streams) end now, cleanly.
                        b.close();
                    }
                    let _ = signals.send(signal);
                });
                // The door sends it nothing new from now on; a server that binds the port
                // itself is stopped first anyway.
                vec![Event::Released { server }]
            }
        }
    }

    pub(super) fn poll_health(&mut self) {
        let now = Instant::now();
        let roles = self.machine.generations();
        for view in roles {
            let checked = matches!(view.role, Role::Starting | Role::Serving | Role::Outgoing);
            let Some(g) = self.gens.get_mut(&view.generation) else {
                continue;
            };
            let Some(url) = g.plan.health_url.clone() else {
                continue;
            };
            if !checked || g.health_in_flight || now < g.next_health {
                continue;
            }
            g.next_health = now
                + if view.role == Role::Starting {
                    HEALTH_WHILE_STARTING
                } else {
                    self.opts.health_every
                };
            g.health_in_flight = true;
            // YAM consumes force_session_reset.txt at the first request that sees it: while
            // one waits for a browser, the check only looks whether YAM's port accepts.
            let port_only = g.plan.stop == StopMethod::Interrupt
                && g.plan.markers_dir.join(FORCE_SESSION_RESET).exists();
            let (server, http, tx) = (g.server, self.health_http.clone(), self.internal_tx.clone());
            tokio::spawn(async move {
                let ok = if port_only {
                    port_open(&url).await
                } else {
                    healthy(&http, &url).await
                };
                let _ = tx.send(Internal::Health { server, ok });
            });
        }
    }

    pub(super) fn sample_usage(&mut self) {
        let now = Instant::now();
        if now < self.next_usage {
            return;
        }
        self.next_usage = now + USAGE_EVERY;
        if let (Some(pid), Some(sampler)) = (self.machine.pid(), self.sampler.as_mut()) {
            self.usage = Some(sampler.sample(pid));
            self.dirty = true;
        }
    }
}
