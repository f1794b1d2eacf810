//! The task that owns the server process: feeds events to the lifecycle machine and carries
//! out its actions; health checks and resource samples. Notices and the status it publishes
//! are in `driver/publish.rs`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::history_file::HistoryFile;
use super::{Options, Reply, Request};
use crate::counting::Counting;
use crate::lifecycle::{Action, Event, ExitInfo, Lifecycle, Notice, Phase};
use crate::lock::{Orphan, SupervisorLock};
use crate::log_level::Level;
use crate::logs::ServerLog;
use crate::process::{ServerChild, Spawner, exit_info};
use crate::procs::{Usage, UsageSampler};
use crate::profile::{LaunchPlan, Paths, PlanError, StopMethod};
use crate::redis_watcher::RedisSource;
use crate::server_api::{ServerApi, health_client, healthy};
use crate::settings::{Loaded, ProfileKind, Settings};
use crate::status::{NoticeView, Status};

mod publish;
use publish::placeholder_status;

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
    pub(super) watcher: Counting,
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
        let redis = preview.as_ref().ok().and_then(|p| p.sessions_redis.clone());
        if settings.profile == ProfileKind::Embedded {
            for d in &dirs {
                let _ = std::fs::create_dir_all(d);
            }
        }
        let watcher = Counting::start(dirs, redis);
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

    /// Counts where `plan` keeps sessions (a new watcher when that changed).
    pub(super) fn watch_sessions(&mut self, dirs: &[PathBuf], redis: Option<&RedisSource>) {
        if self.watcher.watches(dirs, redis) {
            return;
        }
        self.watcher = Counting::start(dirs.to_vec(), redis.cloned());
        self.counts_rx = self.watcher.counts();
    }
}
