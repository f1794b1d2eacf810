//! One start: plan, port check (our orphan killed, anyone else left alone), markers,
//! cleanup when asked, then spawn.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::driver::Driver;
use crate::lifecycle::Event;
use crate::port::{self, PortCheck};
use crate::prepare;
use crate::redis_watcher;
use crate::settings::ProfileKind;

/// A fresh control token for each start.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // Without the OS RNG there is no safe token; the server will refuse an empty one.
        return String::new();
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How long the port of a server that just exited may take to be released (a killed
/// process's socket is closed by the system, under Wine by wineserver, a moment later).
const PORT_RELEASE: Duration = Duration::from_secs(5);
/// A server that exited this recently may still hold its port.
const RECENT_EXIT: Duration = Duration::from_secs(10);

impl Driver {
    /// The port is busy: if the holder is (or may be) the server that exited a moment ago,
    /// waits for the port to be released. Whether it was.
    async fn port_released_by_last_server(&mut self, holder: Option<u32>) -> bool {
        let Some((pid, at)) = self.last_exit else {
            return false;
        };
        if at.elapsed() > RECENT_EXIT || holder.is_some_and(|h| h != pid) {
            return false;
        }
        let deadline = Instant::now() + PORT_RELEASE;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if port::check(&self.settings.host, self.settings.port, None) == PortCheck::Free {
                self.log.supervisor(&format!(
                    "Port {} released by the server that exited; starting",
                    self.settings.port
                ));
                return true;
            }
        }
        false
    }

    pub(super) async fn launch(&mut self, clear: bool) -> Vec<Event> {
        self.token = new_token();
        let plan = match Self::plan_for(&self.opts, &self.settings, &self.token, clear) {
            Ok(p) => p,
            Err(e) => {
                return vec![Event::SpawnFailed {
                    reason: e.to_string(),
                }];
            }
        };
        match port::check(&self.settings.host, self.settings.port, self.orphan) {
            PortCheck::Free => {}
            PortCheck::OurOrphan { pid } => {
                self.log.supervisor(&format!(
                    "Stopping our own server (pid {pid}) left running by a supervisor that is gone"
                ));
                crate::process::kill_orphan_tree(pid);
                self.orphan = None;
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline
                    && port::check(&self.settings.host, self.settings.port, None) != PortCheck::Free
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            PortCheck::Busy { pid, name } => {
                if !self.port_released_by_last_server(pid).await {
                    self.log.supervisor(&format!(
                        "Port {} is busy ({name}); not starting",
                        self.settings.port
                    ));
                    return vec![Event::PortBusy { pid, name }];
                }
            }
        }
        if let Err(e) = prepare::markers_before_start(&plan.markers_dir, &self.settings) {
            return vec![Event::SpawnFailed {
                reason: format!(
                    "cannot write marker files in {}: {e}",
                    plan.markers_dir.display()
                ),
            }];
        }
        if clear
            && self.settings.profile == ProfileKind::Python
            && let Some(source) = plan.sessions_redis.clone()
        {
            match super::actions::in_redis(source, redis_watcher::clear).await {
                Ok(n) => self.log.supervisor(&format!(
                    "Logged everyone out: deleted {n} session(s) in Redis"
                )),
                Err(e) => self
                    .log
                    .supervisor(&format!("Could not clear the sessions in Redis: {e}")),
            }
        } else if clear && self.settings.profile == ProfileKind::Python {
            match prepare::clear_session_files(&plan.sessions_dirs) {
                Ok(n) => self
                    .log
                    .supervisor(&format!("Logged everyone out: deleted {n} session file(s)")),
                Err(e) => self
                    .log
                    .supervisor(&format!("Could not clear the session folders: {e}")),
            }
        }
        if self.settings.profile == ProfileKind::Embedded {
            for dir in &plan.sessions_dirs {
                let _ = std::fs::create_dir_all(dir);
            }
        }
        self.watch_sessions(&plan.sessions_dirs, plan.sessions_redis.as_ref());
        self.log.supervisor(&format!(
            "Starting {} {}{}",
            plan.program.display(),
            plan.args.join(" "),
            if clear {
                " (everyone will be logged out)"
            } else {
                ""
            }
        ));
        match self.spawner.spawn(&plan, &self.log).await {
            Ok(child) => {
                let pid = child.pid();
                self.lock.set_server(Some(pid));
                self.child = Some(child);
                self.healthy = None;
                let no_health = plan.health_url.is_none();
                self.plan = Some(plan);
                let mut events = vec![Event::Spawned { pid }];
                if no_health {
                    events.push(Event::HealthOk);
                }
                events
            }
            Err(e) => vec![Event::SpawnFailed {
                reason: format!("cannot run {}: {e}", plan.program.display()),
            }],
        }
    }
}
