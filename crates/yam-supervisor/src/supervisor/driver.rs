//! The task that owns the server process: feeds events to the lifecycle machine and carries
//! out its actions; health checks, resource samples and status publishing.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use yam_sessions::Clock as _;

use super::history_file::HistoryFile;
use super::{Options, Reply, Request};
use crate::lifecycle::{Action, Event, ExitInfo, Lifecycle, Notice, Phase};
use crate::lock::{Orphan, SupervisorLock};
use crate::log_level::Level;
use crate::logs::ServerLog;
use crate::process::{ServerChild, Spawner, exit_info};
use crate::procs::{Usage, UsageSampler};
use crate::profile::{LaunchPlan, Paths, PlanError, StopMethod};
use crate::server_api::{ServerApi, health_client, healthy};
use crate::settings::{Loaded, ProfileKind, Settings};
use crate::status::{ModeView, NoticeView, Status, tone};
use crate::watcher::SessionsWatcher;

const TICK: Duration = Duration::from_millis(250);
const HEALTH_WHILE_STARTING: Duration = Duration::from_millis(200);
const USAGE_EVERY: Duration = Duration::from_secs(5);
const LOG_TAIL: usize = 30;

pub(super) enum Internal {
    Health { pid: u32, ok: bool },
    StopFallback { pid: u32, reason: String },
}

pub(super) struct Driver {
    pub(super) opts: Options,
    pub(super) settings: Settings,
    pub(super) warnings: Vec<String>,
    pub(super) machine: Lifecycle,
    started: Instant,
    pub(super) child: Option<ServerChild>,
    /// The plan of the running (or last) server.
    pub(super) plan: Option<LaunchPlan>,
    /// The plan the current settings would give, for capabilities and folders while stopped.
    pub(super) preview: Result<LaunchPlan, PlanError>,
    pub(super) token: String,
    pub(super) spawner: Spawner,
    pub(super) log: ServerLog,
    pub(super) lock: SupervisorLock,
    pub(super) orphan: Option<Orphan>,
    pub(super) watcher: SessionsWatcher,
    counts_rx: watch::Receiver<crate::tally::Counts>,
    requests: mpsc::Receiver<Request>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    status_tx: watch::Sender<Status>,
    health_http: reqwest::Client,
    health_in_flight: bool,
    next_health: Instant,
    pub(super) healthy: Option<bool>,
    sampler: Option<UsageSampler>,
    usage: Option<Usage>,
    next_usage: Instant,
    notice: Option<NoticeView>,
    notice_seq: u64,
    lan_ip: Option<std::net::IpAddr>,
    dirty: bool,
    shutdown_reply: Option<Reply<()>>,
    /// The server that exited last, and when: its port may take a moment to be released.
    pub(super) last_exit: Option<(u32, Instant)>,
    pub(super) history: HistoryFile,
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn wait_child(child: &mut Option<ServerChild>) -> std::io::Result<ExitStatus> {
    match child {
        Some(c) => c.wait().await,
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
    ) -> std::io::Result<(Self, watch::Receiver<Status>)> {
        let settings = loaded.settings;
        let preview = Self::plan_for(&opts, &settings, "preview", false);
        let dirs = preview
            .as_ref()
            .map(|p| p.sessions_dirs.clone())
            .unwrap_or_default();
        if settings.profile == ProfileKind::Embedded {
            for d in &dirs {
                let _ = std::fs::create_dir_all(d);
            }
        }
        let watcher = SessionsWatcher::start(dirs);
        let (history, history_warning) = HistoryFile::load(&opts.data_dir);
        let counts_rx = watcher.counts();
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(placeholder_status());
        let now = Instant::now();
        let mut driver = Self {
            spawner: Spawner::new(tokio::runtime::Handle::current())?,
            warnings: loaded.warning.into_iter().chain(history_warning).collect(),
            machine: Lifecycle::new(opts.policy.clone()),
            opts,
            settings,
            started: now,
            child: None,
            plan: None,
            preview,
            token: String::new(),
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
            health_in_flight: false,
            next_health: now,
            healthy: None,
            sampler: UsageSampler::new(),
            usage: None,
            next_usage: now,
            notice: None,
            notice_seq: 0,
            lan_ip: lan_ip(),
            dirty: true,
            shutdown_reply: None,
            last_exit: None,
            history,
        };
        driver.publish();
        Ok((driver, status_rx))
    }

    pub(super) fn paths(opts: &Options) -> Paths {
        Paths {
            data_dir: opts.data_dir.clone(),
            server_bin: opts.server_bin.clone(),
        }
    }

    pub(super) fn plan_for(
        opts: &Options,
        settings: &Settings,
        token: &str,
        clear: bool,
    ) -> Result<LaunchPlan, PlanError> {
        crate::profile::plan(settings, &Self::paths(opts), token, clear, which)
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
                status = wait_child(&mut self.child) => {
                    if let Some(child) = self.child.take() {
                        self.last_exit = Some((child.pid(), Instant::now()));
                    }
                    let info = match status {
                        Ok(s) => exit_info(&s),
                        Err(e) => ExitInfo { code: None, signal: None, description: format!("lost track of the process: {e}") },
                    };
                    let level = if self.machine.phase() == &Phase::Stopping { Level::Info } else { Level::Error };
                    self.log.supervisor_at(level, &format!("Server exited: {}", info.description));
                    self.feed(Event::Exited(info)).await;
                }
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
                    self.feed(Event::Tick).await;
                    self.poll_health();
                    self.sample_usage();
                    if self.history.tick(&self.counts_rx.borrow()) {
                        self.dirty = true;
                    }
                    let uptime = self.machine.uptime(self.now()).map(|d| d.as_secs());
                    if self.dirty || uptime != self.status_tx.borrow().uptime_seconds {
                        self.publish();
                    }
                }
                Ok(()) = log_rx.changed() => {
                    self.dirty = true;
                    // A starting server that prints something (its address) may be ready: ask
                    // now rather than at the next poll.
                    if *self.machine.phase() == Phase::Starting {
                        self.next_health = Instant::now();
                        self.poll_health();
                    }
                }
                Ok(()) = self.counts_rx.changed() => {
                    // `changed` marked the reading seen: record it before publishing.
                    self.history.observe(&self.counts_rx.borrow());
                    self.publish();
                }
            }
            if self.child.is_none()
                && !self.machine.phase().has_process()
                && let Some(reply) = self.shutdown_reply.take()
            {
                if let Err(e) = self.history.save() {
                    tracing::warn!("could not save the load history: {e}");
                }
                self.publish();
                let _ = reply.send(());
                return;
            }
        }
    }

    async fn handle(&mut self, request: Request) {
        match request {
            Request::Start { clear, reply } => {
                self.feed(Event::Start { clear }).await;
                let _ = reply.send(Ok(()));
            }
            Request::Stop { reply } => {
                self.feed(Event::Stop).await;
                let _ = reply.send(Ok(()));
            }
            Request::Restart { clear, reply } => {
                self.feed(Event::Restart { clear }).await;
                let _ = reply.send(Ok(()));
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

    async fn begin_shutdown(&mut self, reply: Option<Reply<()>>) {
        self.log
            .supervisor("Supervisor stopping: stopping the server first");
        self.feed(Event::Stop).await;
        let (tx, _) = tokio::sync::oneshot::channel();
        self.shutdown_reply = Some(reply.unwrap_or(tx));
    }

    async fn internal(&mut self, internal: Internal) {
        let current = self.child.as_ref().map(ServerChild::pid);
        match internal {
            Internal::Health { pid, ok } => {
                self.health_in_flight = false;
                if current == Some(pid) {
                    self.healthy = Some(ok);
                    self.feed(if ok {
                        Event::HealthOk
                    } else {
                        Event::HealthFailed
                    })
                    .await;
                }
            }
            Internal::StopFallback { pid, reason } => {
                if let (Some(child), true) = (self.child.as_mut(), current == Some(pid)) {
                    self.log.supervisor(&format!(
                        "Graceful stop failed ({reason}); terminating the server"
                    ));
                    let _ = child.terminate();
                }
            }
        }
    }

    /// Runs an event and every event its actions lead to.
    pub(super) async fn feed(&mut self, first: Event) {
        let tick = first == Event::Tick;
        let before = self.machine.phase().clone();
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
        // A quiet tick changes nothing worth publishing (uptime is published once a second).
        if !tick || acted || *self.machine.phase() != before {
            self.publish();
        }
    }

    async fn act(&mut self, action: Action) -> Vec<Event> {
        match action {
            Action::Launch { clear } => self.launch(clear).await,
            Action::RequestStop => {
                self.request_stop();
                vec![]
            }
            Action::KillTree => {
                if let Some(child) = self.child.as_mut() {
                    self.log.supervisor(&format!(
                        "Killing the server's process tree (pid {})",
                        child.pid()
                    ));
                    let _ = child.kill_tree();
                }
                vec![]
            }
            Action::Stopped => {
                if let Some(plan) = &self.plan
                    && let Err(e) = crate::prepare::write_shutdown_marker(&plan.markers_dir)
                {
                    self.log
                        .supervisor(&format!("Could not write the shutdown marker: {e}"));
                }
                self.lock.set_server(None);
                self.healthy = None;
                self.usage = None;
                self.log.supervisor("Server stopped");
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

    fn notify(&mut self, notice: &Notice) {
        let (kind, message) = match notice {
            Notice::Crashed { info, nth: 1 } => (
                "crashed",
                format!(
                    "The server stopped unexpectedly ({}); restarting it.",
                    info.description
                ),
            ),
            Notice::Crashed { info, nth } => (
                "crashed",
                format!(
                    "The server stopped unexpectedly again ({}; {nth} times since it last ran steadily); restarting it.",
                    info.description
                ),
            ),
            Notice::CrashLoop(info) => (
                "crash_loop",
                format!(
                    "The server keeps crashing ({}); automatic restarts stopped.",
                    info.description
                ),
            ),
            Notice::PortBusy { pid, name } => (
                "port_busy",
                match pid {
                    Some(pid) => format!(
                        "Port {} is used by {name} (pid {pid}); nothing was stopped.",
                        self.settings.port
                    ),
                    None => format!(
                        "Port {} is used by {name}; nothing was stopped.",
                        self.settings.port
                    ),
                },
            ),
            Notice::Unhealthy => (
                "unhealthy",
                "The server stopped answering its health check.".to_owned(),
            ),
            Notice::Recovered {
                after_crashes: 0, ..
            } => (
                "recovered",
                "The server answers its health check again.".to_owned(),
            ),
            Notice::Recovered {
                after_crashes: 1, ..
            } => (
                "recovered",
                "The server is back and healthy after the crash.".to_owned(),
            ),
            Notice::Recovered { after_crashes, .. } => (
                "recovered",
                format!("The server is back and healthy after {after_crashes} crashes."),
            ),
            Notice::Failed(reason) => (
                "failed",
                format!("The server could not be started: {reason}"),
            ),
        };
        let level = match notice {
            Notice::Recovered { .. } => Level::Info,
            Notice::Unhealthy | Notice::PortBusy { .. } => Level::Warn,
            Notice::Crashed { .. } | Notice::CrashLoop(_) | Notice::Failed(_) => Level::Error,
        };
        self.log.supervisor_at(level, &message);
        self.set_notice(kind, message, !notice.is_repeat());
    }

    /// `news`: worth a desktop notification; otherwise it updates the banner in place.
    pub(super) fn set_notice(&mut self, kind: &str, message: String, news: bool) {
        self.notice_seq += 1;
        self.notice = Some(NoticeView {
            seq: self.notice_seq,
            kind: kind.to_owned(),
            message,
            news,
            at: yam_sessions::SystemClock.now().to_rfc3339(),
        });
    }

    fn request_stop(&mut self) {
        let (Some(child), Some(plan)) = (self.child.as_mut(), self.plan.as_ref()) else {
            return;
        };
        let pid = child.pid();
        match plan.stop {
            StopMethod::AdminApi => {
                self.log
                    .supervisor("Asking the server to shut down gracefully");
                let api = ServerApi::new(&plan.local_url, &self.token);
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    if let Err(e) = api.shutdown().await {
                        let _ = tx.send(Internal::StopFallback {
                            pid,
                            reason: e.to_string(),
                        });
                    }
                });
            }
            StopMethod::Interrupt => {
                self.log.supervisor("Sending Ctrl-C (SIGINT) to the server");
                let _ = child.interrupt();
            }
            StopMethod::Terminate => {
                self.log.supervisor("Terminating the server");
                let _ = child.terminate();
            }
        }
    }

    fn poll_health(&mut self) {
        let (Some(child), Some(plan)) = (self.child.as_ref(), self.plan.as_ref()) else {
            return;
        };
        let Some(url) = plan.health_url.clone() else {
            return;
        };
        let now = Instant::now();
        if self.health_in_flight
            || now < self.next_health
            || *self.machine.phase() == Phase::Stopping
        {
            return;
        }
        let every = if *self.machine.phase() == Phase::Starting {
            HEALTH_WHILE_STARTING
        } else {
            self.opts.health_every
        };
        self.next_health = now + every;
        self.health_in_flight = true;
        let (pid, http, tx) = (
            child.pid(),
            self.health_http.clone(),
            self.internal_tx.clone(),
        );
        tokio::spawn(async move {
            let ok = healthy(&http, &url).await;
            let _ = tx.send(Internal::Health { pid, ok });
        });
    }

    fn sample_usage(&mut self) {
        let now = Instant::now();
        if now < self.next_usage {
            return;
        }
        self.next_usage = now + USAGE_EVERY;
        if let (Some(child), Some(sampler)) = (self.child.as_ref(), self.sampler.as_mut()) {
            self.usage = Some(sampler.sample(child.pid()));
            self.dirty = true;
        }
    }

    /// Watches the folders of `plan` (a new watcher when they changed).
    pub(super) fn watch_dirs(&mut self, dirs: &[PathBuf]) {
        if self.watcher.dirs() == dirs {
            return;
        }
        self.watcher = SessionsWatcher::start(dirs.to_vec());
        self.counts_rx = self.watcher.counts();
    }

    pub(super) fn publish(&mut self) {
        self.dirty = false;
        // The counts shown and the history's today always come from the same reading.
        if self.counts_rx.has_changed().unwrap_or(false) {
            self.history.observe(&self.counts_rx.borrow_and_update());
        }
        let status = self.build_status();
        self.status_tx.send_if_modified(|old| {
            let changed = *old != status;
            *old = status;
            changed
        });
    }

    fn build_status(&self) -> Status {
        let phase = self.machine.phase().clone();
        let plan = self
            .plan
            .as_ref()
            .filter(|_| phase.has_process())
            .or(self.preview.as_ref().ok());
        let mut warnings = self.warnings.clone();
        if let Err(e) = &self.preview {
            warnings.push(format!("The settings cannot start a server: {e}"));
        }
        let port = self.settings.port;
        let lan_url = match (self.settings.host.as_str(), self.lan_ip) {
            ("0.0.0.0" | "::", Some(ip)) => Some(format!("http://{ip}:{port}")),
            _ => None,
        };
        let multiple = self.settings.multiple_sessions;
        Status {
            phase_label: phase.label(),
            tone: tone(&phase),
            pid: self.child.as_ref().map(ServerChild::pid),
            uptime_seconds: self.machine.uptime(self.now()).map(|d| d.as_secs()),
            restarts: self.machine.restarts(),
            last_exit: self.machine.last_exit().cloned(),
            url: plan.map_or_else(
                || format!("http://127.0.0.1:{port}"),
                |p| p.local_url.clone(),
            ),
            lan_url,
            healthy: self.healthy,
            health_failures: self.machine.health_failures(),
            usage: self.usage,
            sessions: self.counts_rx.borrow().clone(),
            sessions_dirs: plan.map(|p| p.sessions_dirs.clone()).unwrap_or_default(),
            profile: self.settings.profile,
            capabilities: plan.map(|p| p.capabilities.clone()),
            mode: ModeView {
                multiple_sessions: multiple,
                conflict_resolution: self.settings.conflict_resolution_effective(),
                lifetime_hours: if multiple { 4 } else { 2 },
            },
            settings: self.settings.clone(),
            warnings,
            data_dir: self.opts.data_dir.clone(),
            config_dir: self.opts.config_dir.clone(),
            log_file: self.log.path().map(PathBuf::from),
            first_run_password_file: crate::first_run::pending_file(&self.opts.data_dir)
                .filter(|_| self.settings.profile == ProfileKind::Embedded),
            notice: self.notice.clone(),
            busy: None,
            log_tail: self.log.tail(LOG_TAIL),
            today: self.history.today_peak(),
            supervisor_pid: std::process::id(),
            supervisor_name: self.opts.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            phase,
        }
    }
}

fn placeholder_status() -> Status {
    Status {
        phase: Phase::Stopped,
        phase_label: Phase::Stopped.label(),
        tone: tone(&Phase::Stopped),
        pid: None,
        uptime_seconds: None,
        restarts: 0,
        last_exit: None,
        url: String::new(),
        lan_url: None,
        healthy: None,
        health_failures: 0,
        usage: None,
        sessions: Default::default(),
        sessions_dirs: Vec::new(),
        profile: ProfileKind::Embedded,
        capabilities: None,
        mode: ModeView {
            multiple_sessions: true,
            conflict_resolution: true,
            lifetime_hours: 4,
        },
        settings: Settings::default(),
        warnings: Vec::new(),
        data_dir: PathBuf::new(),
        config_dir: PathBuf::new(),
        log_file: None,
        first_run_password_file: None,
        notice: None,
        busy: None,
        log_tail: Vec::new(),
        today: None,
        supervisor_pid: std::process::id(),
        supervisor_name: String::new(),
        version: String::new(),
    }
}
