//! The requests of the supervisor's handle (start, stop, restart, actions, settings, shutdown),
//! and their tickets: a start, restart or stop is answered once it has happened.

use super::{DoorKey, Driver};
use crate::lifecycle::{Event, Switch};
use crate::settings::RestartMode;
use crate::supervisor::tickets::{self, Goal};
use crate::supervisor::{ActionError, Reply, Request};

impl Driver {
    pub(super) async fn finish_shutdown(&mut self) {
        if let Err(e) = self.history.save() {
            tracing::warn!("could not save the load history: {e}");
        }
        if let Some((_, door)) = self.door.take() {
            door.close().await;
        }
        self.publish();
        if let Some(reply) = self.shutdown_reply.take() {
            let _ = reply.send(());
        }
    }

    pub(super) async fn handle(&mut self, request: Request) {
        match request {
            Request::Start { clear, reply } => {
                self.choose_switch();
                self.feed(Event::Start { clear }).await;
                self.ticket(Goal::Started, reply);
            }
            Request::Stop { reply } => {
                self.feed(Event::Stop).await;
                self.ticket(Goal::Stopped, reply);
            }
            Request::Restart { clear, reply } => {
                let from = self.machine.next_generation();
                self.choose_switch();
                self.feed(Event::Restart { clear }).await;
                self.ticket(Goal::Restarted { from }, reply);
            }
            Request::ForceLogout { reply } => {
                let r = self.force_logout().await;
                let _ = reply.send(r);
            }
            Request::Revoke { key, reply } => {
                let r = self.revoke(&key).await;
                let _ = reply.send(r);
            }
            Request::ServerApi { reply } => {
                let _ = reply.send(self.users_api());
            }
            Request::Sessions { reply } => {
                let r = self.sessions().await;
                let _ = reply.send(r);
            }
            Request::SaveSettings { settings, reply } => {
                let r = self.save_settings(*settings).await;
                let _ = reply.send(r);
            }
            Request::Shutdown { reply } => self.begin_shutdown(Some(reply)).await,
            Request::History { span, reply } => {
                let _ = reply.send(self.history.series(span));
            }
            Request::Refresh { reply } => {
                self.publish();
                let _ = reply.send(());
            }
        }
        self.publish();
    }

    /// Answers `reply` once `goal` is reached (or cannot be).
    pub(super) fn ticket(&mut self, goal: Goal, reply: Reply<Result<(), ActionError>>) {
        self.tickets.push((goal, reply));
        self.settle_tickets();
    }

    pub(super) fn settle_tickets(&mut self) {
        if self.tickets.is_empty() {
            return;
        }
        let (phase, route, live) = (
            self.machine.phase(self.now()),
            self.machine.route(),
            self.machine.generations(),
        );
        let mut waiting = Vec::new();
        for (goal, reply) in std::mem::take(&mut self.tickets) {
            match tickets::verdict(goal, &phase, route, &live) {
                Some(answer) => {
                    let _ = reply.send(answer);
                }
                None => waiting.push((goal, reply)),
            }
        }
        self.tickets = waiting;
    }

    /// How the next start or restart replaces the server: stop first when the restart mode
    /// says so, or when the port is held differently from now (a new port, or the door
    /// turned on or off), which cannot overlap.
    pub(in crate::supervisor) fn choose_switch(&mut self) {
        let door_changes = self.door.as_ref().map(|(k, _)| k.clone())
            != DoorKey::wanted(&self.settings)
            && !self.gens.is_empty();
        let switch = match self.settings.restart_mode {
            RestartMode::Overlap if !door_changes => Switch::Overlap,
            RestartMode::Overlap | RestartMode::Hold | RestartMode::Direct => Switch::StopFirst,
        };
        self.machine.set_switch(switch);
    }

    pub(super) async fn begin_shutdown(&mut self, reply: Option<Reply<()>>) {
        self.log
            .supervisor("Supervisor stopping: stopping the server first");
        self.feed(Event::Stop).await;
        let (tx, _) = tokio::sync::oneshot::channel();
        self.shutdown_reply = Some(reply.unwrap_or(tx));
    }
}
