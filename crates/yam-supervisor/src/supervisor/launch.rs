//! One launch: the public port (held by the door, or checked for a server that binds it
//! itself), markers, cleanup when asked, then spawn a new generation.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::driver::{DoorKey, Driver, Generation};
use crate::counting::Counting;
use crate::door::{Door, DoorMode};
use crate::lifecycle::{Event, Gen};
use crate::port::{self, PortCheck};
use crate::prepare;
use crate::profile::Binding;
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

/// Why a launch stopped before a process ran.
type Refusal = Event;

/// A port on the loopback interface that nobody uses now.
fn free_loopback_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn public_addr(host: &str, port: u16) -> Option<SocketAddr> {
    let ip: IpAddr = match host {
        "localhost" => Ipv4Addr::LOCALHOST.into(),
        h => h.trim_matches(['[', ']']).parse().ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// The sockets and addresses one generation gets.
struct Seat {
    binding: Binding,
    /// Handed over: its control socket (the public one is the door's).
    control: Option<TcpListener>,
}

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

    /// Whoever listens on the public port: our own orphan is stopped, anyone else is left
    /// alone and named.
    async fn clear_public_port(&mut self, server: Gen) -> Result<(), Refusal> {
        match port::check(&self.settings.host, self.settings.port, self.orphan) {
            PortCheck::Free => Ok(()),
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
                Ok(())
            }
            PortCheck::Busy { pid, name } => {
                if self.port_released_by_last_server(pid).await {
                    return Ok(());
                }
                self.log.supervisor(&format!(
                    "Port {} is busy ({name}); not starting",
                    self.settings.port
                ));
                Err(Event::PortBusy { server, pid, name })
            }
        }
    }

    /// Holds the public port for `key` (once; reopened only when the address or the mode
    /// changed and no server uses the old one).
    async fn open_door(&mut self, server: Gen, key: DoorKey) -> Result<(), Refusal> {
        if self.door.as_ref().is_some_and(|(k, _)| *k == key) {
            return Ok(());
        }
        if let Some((old, door)) = self.door.take() {
            self.log.supervisor(
                &if (old.host.as_str(), old.port) == (key.host.as_str(), key.port) {
                    format!(
                        "Closing port {} to open it again for another kind of server: connections \
                     are refused until it is open again",
                        old.port
                    )
                } else {
                    format!(
                        "Releasing port {} (the new settings hold {}:{} instead)",
                        old.port, key.host, key.port
                    )
                },
            );
            door.close().await;
            self.port_released = Some(self.now());
        }
        self.clear_public_port(server).await?;
        let failed = |reason: String| Event::SpawnFailed { server, reason };
        let addr = public_addr(&key.host, key.port)
            .ok_or_else(|| failed(format!("{} is not an IP address", key.host)))?;
        let listener = match yam_net::handover::bind_public(addr) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(Event::PortBusy {
                    server,
                    pid: None,
                    name: "another program".into(),
                });
            }
            Err(e) => return Err(failed(format!("cannot listen on {addr}: {e}"))),
        };
        let door = Door::open(listener, key.mode, self.opts.hold_limit)
            .map_err(|e| failed(format!("cannot serve {addr}: {e}")))?;
        self.log.supervisor(&format!(
            "Holding port {addr} for as long as the supervisor runs ({}): restarts and crashes refuse no connection",
            match key.mode {
                DoorMode::Handover => "each server takes the socket over",
                DoorMode::Proxy => "requests pass through the supervisor's door",
            }
        ));
        self.door = Some((key, door));
        Ok(())
    }

    /// Where generation `server` will listen, with the port held or checked as that needs.
    async fn seat(&mut self, server: Gen) -> Result<Seat, Refusal> {
        let failed = |reason: String| Event::SpawnFailed { server, reason };
        let Some(key) = DoorKey::wanted(&self.settings) else {
            if let Some((_, door)) = self.door.take() {
                door.close().await;
            }
            self.clear_public_port(server).await?;
            return Ok(Seat {
                binding: Binding::Public,
                control: None,
            });
        };
        let mode = key.mode;
        self.open_door(server, key).await?;
        match mode {
            DoorMode::Handover => {
                let control = yam_net::handover::bind_control()
                    .map_err(|e| failed(format!("cannot open a control socket: {e}")))?;
                let control_port = control
                    .local_addr()
                    .map_err(|e| failed(e.to_string()))?
                    .port();
                Ok(Seat {
                    binding: Binding::Handed { control_port },
                    control: Some(control),
                })
            }
            DoorMode::Proxy => {
                let port = free_loopback_port()
                    .map_err(|e| failed(format!("no free loopback port: {e}")))?;
                Ok(Seat {
                    binding: Binding::Private { port },
                    control: None,
                })
            }
        }
    }

    pub(super) async fn launch(&mut self, server: Gen, clear: bool) -> Vec<Event> {
        match self.launch_inner(server, clear).await {
            Ok(events) | Err(events) => events,
        }
    }

    async fn launch_inner(&mut self, server: Gen, clear: bool) -> Result<Vec<Event>, Vec<Event>> {
        let token = new_token();
        let seat = self.seat(server).await.map_err(|e| vec![e])?;
        let failed = |reason: String| vec![Event::SpawnFailed { server, reason }];
        let plan = Self::plan_for(&self.opts, &self.settings, &token, clear, seat.binding)
            .map_err(|e| failed(e.to_string()))?;
        prepare::markers_before_start(&plan.markers_dir, &self.settings).map_err(|e| {
            failed(format!(
                "cannot write marker files in {}: {e}",
                plan.markers_dir.display()
            ))
        })?;
        self.watch_plan(&plan);
        if clear && self.settings.profile == ProfileKind::Python {
            self.clear_python_sessions(&plan).await;
        }
        if self.settings.profile == ProfileKind::Embedded {
            for dir in &plan.sessions_dirs {
                let _ = std::fs::create_dir_all(dir);
            }
        }
        self.log.supervisor(&format!(
            "Starting server {server}: {} {}{}",
            plan.program.display(),
            plan.args.join(" "),
            if clear {
                " (everyone will be logged out)"
            } else {
                ""
            }
        ));
        let sockets = match (&self.door, &seat.control) {
            (Some((_, door)), Some(control)) => Some((door.listener(), control)),
            (Some(_) | None, _) => None,
        };
        let child = self
            .spawner
            .spawn(&plan, &self.log, sockets)
            .await
            .map_err(|e| failed(format!("cannot run {}: {e}", plan.program.display())))?;
        // The server holds its own copy of the control socket now.
        drop(seat.control);
        let pid = child.pid();
        self.lock.set_server(Some(pid));
        let backend = match (&self.door, seat.binding) {
            (Some((_, door)), Binding::Private { port }) => {
                Some(door.add_backend(server, SocketAddr::from((Ipv4Addr::LOCALHOST, port))))
            }
            (Some(_) | None, _) => None,
        };
        let no_health = plan.health_url.is_none();
        let generation = Generation::own(
            server,
            child,
            plan,
            token,
            backend,
            self.internal_tx.clone(),
        );
        self.gens.insert(server, generation);
        let mut events = vec![Event::Spawned { server, pid }];
        if no_health {
            events.push(Event::HealthOk { server });
        }
        Ok(events)
    }

    /// "Restart and log everyone out" for a Python YAM: the supervisor clears its sessions.
    async fn clear_python_sessions(&mut self, plan: &crate::profile::LaunchPlan) {
        if let Counting::Door(sessions) = &self.watcher {
            let n = sessions.force_logout();
            self.log.supervisor(&format!(
                "Logged everyone out at the door: {n} signed-in browser(s) will see the login page"
            ));
            return;
        }
        let at_door = self.sids_at_door();
        if let Some(sids) = &at_door {
            sids.force_logout();
        }
        self.clear_python_stores(plan).await;
        if let Some(sids) = &at_door {
            sids.cleared();
        }
    }

    /// Deletes a Flask-Session YAM's sessions (its Redis keys, or its files).
    async fn clear_python_stores(&mut self, plan: &crate::profile::LaunchPlan) {
        if let Some(source) = plan.sessions_redis.clone() {
            match super::actions::in_redis(source, redis_watcher::clear).await {
                Ok(n) => self.log.supervisor(&format!(
                    "Logged everyone out: deleted {n_sessions} in Redis",
                    n_sessions = yam_sessions::words::count(n, "session")
                )),
                Err(e) => self
                    .log
                    .supervisor(&format!("Could not clear the sessions in Redis: {e}")),
            }
            return;
        }
        match prepare::clear_session_files(&plan.sessions_dirs) {
            Ok(n) => self.log.supervisor(&format!(
                "Logged everyone out: deleted {n_files}",
                n_files = yam_sessions::words::count(n, "session file")
            )),
            Err(e) => self
                .log
                .supervisor(&format!("Could not clear the session folders: {e}")),
        }
    }
}
