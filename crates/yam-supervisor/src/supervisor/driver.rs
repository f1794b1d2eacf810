//! The task that drives the lifecycle: feeds it events (requests, health answers, exits,
//! time) and carries out its actions on the server generations it holds and on the door.
//! Notices and the published status are in `driver/publish.rs`; one generation's process and
//! health in `driver/generation.rs`; a launch in `launch.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::history_file::HistoryFile;
use super::tickets::Goal;
use super::{ActionError, Options, Reply, Request};
use std::sync::Arc;

use crate::counting::{Counting, Source};
use crate::door::{Door, DoorSessions, ServerSideSessions};
use crate::lifecycle::{Action, Event, ExitInfo, Gen, Lifecycle, Notice, Role, Switch};
use crate::lock::{Orphan, SupervisorLock};
use crate::log_level::Level;
use crate::logs::ServerLog;
use crate::process::{Spawner, exit_info};
use crate::procs::{Usage, UsageSampler};
use crate::profile::{Binding, DoorCookies, LaunchPlan, Paths, PlanError, SessionIdCookies};
use crate::server_api::health_client;
use crate::settings::{Loaded, ProfileKind, Settings};
use crate::status::{NoticeView, Status};

mod care;
mod counting;
mod generation;
mod publish;
mod requests;
pub(super) use generation::{Generation, Signal};
use publish::placeholder_status;

const TICK: Duration = Duration::from_millis(250);
/// A starting server is asked often: the sooner it is seen healthy, the shorter a restart.
const HEALTH_WHILE_STARTING: Duration = Duration::from_millis(100);
const USAGE_EVERY: Duration = Duration::from_secs(5);
const LOG_TAIL: usize = 30;

pub(super) enum Internal {
    Health {
        server: Gen,
        ok: bool,
    },
    /// A retiring server said it takes no new connection.
    Released {
        server: Gen,
    },
    Exited {
        server: Gen,
        status: std::io::Result<ExitStatus>,
    },
    StopFallback {
        server: Gen,
        reason: String,
    },
}

/// What the public port is held for: the door is reopened when this changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DoorKey {
    pub mode: crate::door::DoorMode,
    pub host: String,
    pub port: u16,
}

impl DoorKey {
    pub fn wanted(settings: &Settings) -> Option<Self> {
        crate::profile::door_mode(settings).map(|mode| Self {
            mode,
            host: settings.host.clone(),
            port: settings.port,
        })
    }
}

pub(super) struct Driver {
    pub(super) opts: Options,
    pub(super) settings: Settings,
    pub(super) warnings: Vec<String>,
    pub(super) machine: Lifecycle,
    started: Instant,
    /// The server processes alive (or being stopped), by generation.
    pub(super) gens: BTreeMap<Gen, Generation>,
    /// The public port, held for the supervisor's life (unless restarts are "direct").
    pub(super) door: Option<(DoorKey, Door)>,
    /// When the public port was last released to be opened again (since the start).
    pub(super) port_released: Option<Duration>,
    /// The plan the current settings would give, for capabilities and folders while stopped.
    pub(super) preview: Result<LaunchPlan, PlanError>,
    pub(super) spawner: Spawner,
    pub(super) log: ServerLog,
    pub(super) lock: SupervisorLock,
    pub(super) orphan: Option<Orphan>,
    pub(super) watcher: Counting,
    counts_rx: watch::Receiver<crate::tally::Counts>,
    requests: mpsc::Receiver<Request>,
    pub(super) internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    status_tx: watch::Sender<Status>,
    health_http: reqwest::Client,
    sampler: Option<UsageSampler>,
    usage: Option<Usage>,
    next_usage: Instant,
    notice: Option<NoticeView>,
    notice_seq: u64,
    lan_ip: Option<std::net::IpAddr>,
    dirty: bool,
    shutdown_reply: Option<Reply<()>>,
    /// Starts, restarts and stops answered once done.
    tickets: Vec<(Goal, Reply<Result<(), ActionError>>)>,
    /// The server that exited last, and when: its port may take a moment to be released.
    pub(super) last_exit: Option<(u32, Instant)>,
    pub(super) history: HistoryFile,
    /// Sessions read at the door (a signed-cookie YAM), with the rules they are read by.
    pub(super) door_sessions: Option<(DoorCookies, Arc<DoorSessions>)>,
    /// A Flask-Session YAM's session ids followed at the door, with the rules they are read
    /// by, and whether the door follows them now.
    pub(super) door_sids: Option<(SessionIdCookies, Arc<ServerSideSessions>)>,
    pub(super) door_sids_active: bool,
    /// The settings as saved (secrets included), for `Supervisor::settings`.
    pub(super) settings_tx: watch::Sender<Settings>,
    /// The last switch of multiple sessions, followed at the door: who was signed in then.
    pub(super) mode_probe: Option<ModeProbe>,
}

/// The sign-ins open when the mode last switched, to tell what YAM did to them.
pub(super) struct ModeProbe {
    pub to_multiple: bool,
    pub at_ms: u64,
    pub open: Vec<String>,
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// This machine's address on the LAN (found without sending anything).
fn lan_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:80").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A program on PATH (with Windows' extensions).
pub fn which(name: &str) -> Option<PathBuf> {
    which::which(name).ok()
}

impl Driver {
    pub(super) fn new(
        opts: Options,
        loaded: Loaded,
        lock: SupervisorLock,
        orphan: Option<Orphan>,
        log: ServerLog,
        requests: mpsc::Receiver<Request>,
    ) -> std::io::Result<(Self, watch::Receiver<Status>, watch::Receiver<Settings>)> {
        let settings = loaded.settings;
        let (settings_tx, settings_rx) = watch::channel(settings.clone());
        let preview = Self::plan_for(
            &opts,
            &settings,
            "preview",
            false,
            Binding::preview(&settings),
        );
        if let (ProfileKind::Embedded, Ok(p)) = (settings.profile, &preview) {
            for d in &p.sessions_dirs {
                let _ = std::fs::create_dir_all(d);
            }
        }
        // Replaced by `watch_plan` below, once the driver exists.
        let watcher = Counting::start(Source::Folders(&[]));
        let (history, history_warning) = HistoryFile::load(&opts.data_dir);
        let counts_rx = watcher.counts();
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(placeholder_status());
        let now = Instant::now();
        let mut driver = Self {
            spawner: Spawner::new(tokio::runtime::Handle::current())?,
            warnings: loaded.warning.into_iter().chain(history_warning).collect(),
            machine: Lifecycle::new(opts.policy.clone(), Switch::Overlap),
            opts,
            settings,
            started: now,
            gens: BTreeMap::new(),
            door: None,
            port_released: None,
            preview,
            log,
            lock,
            orphan,
            watcher,
            counts_rx,
            requests,
            internal_tx,
            internal_rx,
            status_tx,
            health_http: health_client(),
            sampler: UsageSampler::new(),
            usage: None,
            next_usage: now,
            notice: None,
            notice_seq: 0,
            lan_ip: lan_ip(),
            dirty: true,
            shutdown_reply: None,
            tickets: Vec::new(),
            last_exit: None,
            history,
            door_sessions: None,
            door_sids: None,
            door_sids_active: false,
            settings_tx,
            mode_probe: None,
        };
        if let Ok(p) = driver.preview.as_ref().map(Clone::clone) {
            driver.watch_plan(&p);
        }
        driver.publish();
        Ok((driver, status_rx, settings_rx))
    }

    /// Where things are; for a Python YAM, what its folder's sources say (read now: a YAM
    /// folder is small, and the reader stops at 400 files of 1 MB).
    pub(super) fn paths(opts: &Options, settings: &Settings) -> Paths {
        let yam = match (settings.profile, &settings.yam_dir) {
            (ProfileKind::Python, Some(dir)) => Some(crate::yam_folder::read_sources(dir)),
            (ProfileKind::Python | ProfileKind::Embedded | ProfileKind::Custom, _) => None,
        };
        Paths {
            data_dir: opts.data_dir.clone(),
            server_bin: opts.server_bin.clone(),
            yam,
        }
    }

    pub(super) fn plan_for(
        opts: &Options,
        settings: &Settings,
        token: &str,
        clear: bool,
        binding: Binding,
    ) -> Result<LaunchPlan, PlanError> {
        crate::profile::plan(
            settings,
            &Self::paths(opts, settings),
            token,
            clear,
            binding,
            which,
        )
    }

    pub(super) fn now(&self) -> Duration {
        self.started.elapsed()
    }

    pub(super) async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut log_rx = self.log.subscribe();
        loop {
            let retry_at = self
                .machine
                .retry_at()
                .map(|at| tokio::time::Instant::from_std(self.started + at));
            tokio::select! {
                request = self.requests.recv() => match request {
                    Some(r) => self.handle(r).await,
                    None => self.begin_shutdown(None).await,
                },
                Some(internal) = self.internal_rx.recv() => self.internal(internal).await,
                // A crashed server restarts when its delay is up, not at the next tick.
                () = sleep_until(retry_at) => {
                    self.feed(Event::Tick).await;
                    self.poll_health();
                }
                _ = tick.tick() => {
                    self.watcher.tick();
                    if let Some(sids) = self.sids_at_door() {
                        sids.tick();
                    }
                    self.feed(Event::Tick).await;
                    self.poll_health();
                    self.sample_usage();
                    if self.history.tick(&self.counts_rx.borrow()) {
                        self.dirty = true;
                    }
                    let uptime = self.machine.uptime(self.now()).map(|d| d.as_secs());
                    let door = self.door.as_ref().map(|(_, d)| d.stats());
                    let shown = self.status_tx.borrow();
                    let stale = uptime != shown.uptime_seconds || door != shown.door;
                    drop(shown);
                    if self.dirty || stale {
                        self.publish();
                    }
                }
                Ok(()) = log_rx.changed() => {
                    self.dirty = true;
                    // A starting server that prints something (its address) may be ready: ask
                    // now rather than at the next poll.
                    for g in self.gens.values_mut() {
                        if g.healthy != Some(true) {
                            g.next_health = Instant::now();
                        }
                    }
                    self.poll_health();
                }
                Ok(()) = self.counts_rx.changed() => {
                    // `changed` marked the reading seen: record it before publishing.
                    self.history.observe(&self.counts_rx.borrow());
                    self.publish();
                }
            }
            if self.gens.is_empty()
                && !self.machine.phase(self.now()).has_process()
                && self.shutdown_reply.is_some()
            {
                self.finish_shutdown().await;
                return;
            }
        }
    }

    async fn internal(&mut self, internal: Internal) {
        match internal {
            Internal::Health { server, ok } => {
                let Some(g) = self.gens.get_mut(&server) else {
                    return;
                };
                g.health_in_flight = false;
                g.healthy = Some(ok);
                let event = if ok {
                    Event::HealthOk { server }
                } else {
                    Event::HealthFailed { server }
                };
                self.feed(event).await;
            }
            Internal::Exited { server, status } => {
                let info = match status {
                    Ok(s) => exit_info(&s),
                    Err(e) => ExitInfo {
                        code: None,
                        signal: None,
                        description: format!("lost track of the process: {e}"),
                    },
                };
                let asked = self
                    .machine
                    .generations()
                    .iter()
                    .any(|v| v.generation == server && v.role == Role::Draining);
                let level = if asked { Level::Info } else { Level::Error };
                let pid = self.gens.get(&server).map_or(0, |g| g.pid);
                self.log.supervisor_at(
                    level,
                    &format!(
                        "Server exited: {} (server {server}, pid {pid})",
                        info.description
                    ),
                );
                self.last_exit = Some((pid, Instant::now()));
                self.feed(Event::Exited { server, info }).await;
            }
            Internal::Released { server } => self.feed(Event::Released { server }).await,
            Internal::StopFallback { server, reason } => {
                if let Some(g) = self.gens.get(&server) {
                    self.log.supervisor(&format!(
                        "Graceful stop of server {server} failed ({reason}); terminating it"
                    ));
                    g.signal(Signal::Terminate);
                }
            }
        }
    }

    /// Runs an event and every event its actions lead to, then points the door where the
    /// lifecycle says requests go.
    pub(super) async fn feed(&mut self, first: Event) {
        let tick = first == Event::Tick;
        let before = self.machine.phase(self.now());
        let mut acted = false;
        let mut queue = VecDeque::from([first]);
        while let Some(event) = queue.pop_front() {
            if matches!(event, Event::Spawned { .. }) {
                self.history.server_started();
            }
            let actions = self.machine.handle(event, self.now());
            acted |= !actions.is_empty();
            for action in actions {
                queue.extend(self.act(action).await);
            }
        }
        if let Some((_, door)) = &self.door {
            door.set_route(self.machine.route());
        }
        self.settle_tickets();
        // A quiet tick changes nothing worth publishing (uptime is published once a second).
        if !tick || acted || self.machine.phase(self.now()) != before {
            self.publish();
        }
    }

    async fn act(&mut self, action: Action) -> Vec<Event> {
        match action {
            Action::Launch { server, clear } => self.launch(server, clear).await,
            Action::Retire { server, replaced } => self.retire(server, replaced),
            Action::KillTree { server } => {
                if let Some(g) = self.gens.get(&server) {
                    self.log.supervisor(&format!(
                        "Killing the process tree of server {server} (pid {})",
                        g.pid
                    ));
                    g.signal(Signal::Kill);
                }
                vec![]
            }
            Action::Forget { server, last } => {
                self.forget(server, last);
                vec![]
            }
            Action::Notify(notice) => {
                if matches!(notice, Notice::Crashed { .. } | Notice::CrashLoop(_)) {
                    self.history.server_crashed();
                }
                self.notify(&notice);
                vec![]
            }
        }
    }

    fn forget(&mut self, server: Gen, last: bool) {
        let gone = self.gens.remove(&server);
        if let Some((_, door)) = &self.door {
            door.remove_backend(server);
        }
        self.lock
            .set_server(self.gens.values().next_back().map(|g| g.pid));
        if !last {
            return;
        }
        if let Some(g) = gone
            && let Err(e) = crate::prepare::write_shutdown_marker(&g.plan.markers_dir)
        {
            self.log
                .supervisor(&format!("Could not write the shutdown marker: {e}"));
        }
        self.usage = None;
        self.log.supervisor("Server stopped");
    }
}
