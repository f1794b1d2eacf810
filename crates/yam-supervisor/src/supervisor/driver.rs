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
use super::tickets::{self, Goal};
use super::{ActionError, Options, Reply, Request};
use std::sync::Arc;

use crate::counting::{Counting, Source};
use crate::door::{CookieRules, Door, DoorSessions};
use crate::lifecycle::{Action, Event, ExitInfo, Gen, Lifecycle, Notice, Role, Switch};
use crate::lock::{Orphan, SupervisorLock};
use crate::log_level::Level;
use crate::logs::ServerLog;
use crate::process::{Spawner, exit_info};
use crate::procs::{Usage, UsageSampler};
use crate::profile::{Binding, DoorCookies, LaunchPlan, Paths, PlanError, StopMethod};
use crate::readers::flask_cookie::Secrets;
use crate::server_api::{health_client, healthy, port_open};
use crate::settings::{Loaded, ProfileKind, RestartMode, Settings};
use crate::status::{NoticeView, Status};
use yam_sessions::markers::FORCE_SESSION_RESET;

mod generation;
mod publish;
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

    fn now(&self) -> Duration {
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

    async fn finish_shutdown(&mut self) {
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

    async fn handle(&mut self, request: Request) {
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
    fn ticket(&mut self, goal: Goal, reply: Reply<Result<(), ActionError>>) {
        self.tickets.push((goal, reply));
        self.settle_tickets();
    }

    fn settle_tickets(&mut self) {
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
    pub(super) fn choose_switch(&mut self) {
        let door_changes = self.door.as_ref().map(|(k, _)| k.clone())
            != DoorKey::wanted(&self.settings)
            && !self.gens.is_empty();
        let switch = match self.settings.restart_mode {
            RestartMode::Overlap if !door_changes => Switch::Overlap,
            RestartMode::Overlap | RestartMode::Hold | RestartMode::Direct => Switch::StopFirst,
        };
        self.machine.set_switch(switch);
    }

    async fn begin_shutdown(&mut self, reply: Option<Reply<()>>) {
        self.log
            .supervisor("Supervisor stopping: stopping the server first");
        self.feed(Event::Stop).await;
        let (tx, _) = tokio::sync::oneshot::channel();
        self.shutdown_reply = Some(reply.unwrap_or(tx));
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

    /// Stops sending `server` requests (the route already moved on), lets those in flight
    /// finish, then asks it to stop. `Released` comes when it takes no new connection.
    fn retire(&mut self, server: Gen, replaced: bool) -> Vec<Event> {
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

    fn poll_health(&mut self) {
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

    fn sample_usage(&mut self) {
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

    /// Counts where `plan` keeps sessions (a new watcher when that changed); a signed-cookie
    /// YAM's are read at the door.
    pub(super) fn watch_plan(&mut self, plan: &LaunchPlan) {
        let at_door = plan
            .sessions_at_door
            .as_ref()
            .map(|rules| self.door_sessions_for(rules));
        if let Some((_, door)) = &self.door {
            door.set_sessions(at_door.clone());
        }
        let source = match (&at_door, &plan.sessions_redis) {
            (Some(d), _) => Source::Door(d),
            (None, Some(r)) => Source::Redis(r),
            (None, None) => Source::Folders(&plan.sessions_dirs),
        };
        if self.watcher.watches(&source) {
            return;
        }
        self.watcher = Counting::start(source);
        self.counts_rx = self.watcher.counts();
    }

    /// The door's sessions for `rules`: the same ones while the rules stay (a new lifetime is
    /// applied in place), new ones when they change.
    fn door_sessions_for(&mut self, rules: &DoorCookies) -> Arc<DoorSessions> {
        let lifetime_ms = rules.lifetime_hours * 3_600_000;
        let same_rules = |kept: &DoorCookies| {
            let kept = DoorCookies {
                lifetime_hours: rules.lifetime_hours,
                ..kept.clone()
            };
            kept == *rules
        };
        if let Some((kept, ds)) = &self.door_sessions
            && same_rules(kept)
        {
            ds.set_lifetime(lifetime_ms);
            return Arc::clone(ds);
        }
        let secrets = (!rules.secrets.is_empty())
            .then(|| Secrets::new(rules.secrets.iter().map(String::as_str)));
        let (ds, warning) = DoorSessions::open(CookieRules {
            session: rules.session_cookie.clone(),
            remember: rules.remember_cookie.clone(),
            id_fields: rules.id_fields.clone(),
            name_field: rules.name_field.clone(),
            secrets,
            lifetime_ms,
            state_file: self.opts.data_dir.join(crate::door::SESSIONS_FILE),
        });
        self.warnings.extend(warning);
        self.door_sessions = Some((rules.clone(), Arc::clone(&ds)));
        ds
    }
}
