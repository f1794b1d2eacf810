//! What the driver tells the world: notices for the banner and the tray, and the status it
//! publishes on its watch channel.

use std::path::PathBuf;

use yam_sessions::Clock as _;

use super::{Driver, LOG_TAIL};
use crate::counting::Counting;
use crate::lifecycle::{Notice, Phase};
use crate::log_level::Level;
use crate::settings::{ProfileKind, Settings};
use crate::status::{ModeSwitchEffect, ModeView, NoticeView, Status, tone};

impl Driver {
    pub(super) fn notify(&mut self, notice: &Notice) {
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
            Notice::SwitchFailed(reason) => (
                "switch_failed",
                format!(
                    "The restart did not happen: {reason}. The running server goes on serving."
                ),
            ),
            Notice::OutgoingExited(info) => (
                "crashed",
                format!(
                    "The old server stopped unexpectedly ({}) while the new one was starting; requests wait for the new one.",
                    info.description
                ),
            ),
        };
        let level = match notice {
            Notice::Recovered { .. } => Level::Info,
            Notice::Unhealthy | Notice::PortBusy { .. } | Notice::SwitchFailed(_) => Level::Warn,
            Notice::Crashed { .. }
            | Notice::CrashLoop(_)
            | Notice::Failed(_)
            | Notice::OutgoingExited(_) => Level::Error,
        };
        self.log.supervisor_at(level, &message);
        self.set_notice(kind, message, !notice.is_repeat());
    }

    /// `news`: worth a desktop notification; otherwise it updates the banner in place.
    pub(in crate::supervisor) fn set_notice(&mut self, kind: &str, message: String, news: bool) {
        self.notice_seq += 1;
        self.notice = Some(NoticeView {
            seq: self.notice_seq,
            kind: kind.to_owned(),
            message,
            news,
            at: yam_sessions::SystemClock.now().to_rfc3339(),
        });
    }

    pub(in crate::supervisor) fn publish(&mut self) {
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
        let now = self.now();
        let phase = self.machine.phase(now);
        let plan = self.current_plan();
        let serving = self.machine.serving().and_then(|g| self.gens.get(&g));
        let mut warnings = self.warnings.clone();
        if let Counting::Door(d) = &self.watcher
            && d.secret_check() == crate::door::SecretCheck::Mismatch
        {
            // Where the door's key came from, as the plan says (Settings or YAM's sources).
            let from = plan
                .and_then(|p| p.sessions_at_door.as_ref())
                .and_then(|c| c.secret_from)
                .unwrap_or("Settings or YAM's sources");
            warnings.push(format!(
                "YAM's secret key (from {from}) does not match the one YAM signs its cookies \
                 with: sessions are counted unverified (as the cookies claim) and every browser \
                 goes through to YAM, which checks its cookies itself. Set the right key in \
                 Settings → YAM's secret key."
            ));
        }
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
            pid: self.machine.pid(),
            uptime_seconds: self.machine.uptime(now).map(|d| d.as_secs()),
            starts: self.machine.starts(),
            restarts: self.machine.restarts(),
            generations: self.machine.generations(),
            last_switch: self.machine.last_switch().copied(),
            port_reopened_in_last_switch: self.machine.last_switch().is_some_and(|r| {
                let began_ms = r.at_ms.saturating_sub(r.took_ms);
                self.port_released
                    .is_some_and(|at| u64::try_from(at.as_millis()).unwrap_or(u64::MAX) >= began_ms)
            }),
            door: self.door.as_ref().map(|(_, d)| d.stats()),
            last_exit: self.machine.last_exit().cloned(),
            url: crate::profile::public_url(&self.settings),
            lan_url,
            healthy: serving.and_then(|g| g.healthy),
            health_failures: self.machine.health_failures(),
            usage: self.usage,
            sessions: self.counts_rx.borrow().clone(),
            sessions_source: match &self.watcher {
                Counting::Folders(_) => "folder",
                Counting::Redis(_) => "redis",
                Counting::Door(d) if d.verified() => "door",
                Counting::Door(_) => "door_unverified",
            }
            .to_owned(),
            sessions_dirs: plan.map(|p| p.sessions_dirs.clone()).unwrap_or_default(),
            profile: self.settings.profile,
            capabilities: plan.map(|p| p.capabilities.clone()),
            mode_switch: self.mode_probe.as_ref().and_then(|p| match &self.watcher {
                Counting::Door(d) => Some(ModeSwitchEffect {
                    to_multiple: p.to_multiple,
                    open: p.open.len(),
                    ended: d.ended_by_yam_since(p.at_ms, &p.open),
                    at_ms: p.at_ms,
                }),
                Counting::Folders(_) | Counting::Redis(_) => None,
            }),
            mode: ModeView {
                multiple_sessions: multiple,
                conflict_resolution: self.settings.conflict_resolution_effective(),
                lifetime_hours: if multiple { 4 } else { 2 },
            },
            settings: self.settings.redacted(),
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

pub(super) fn placeholder_status() -> Status {
    Status {
        phase: Phase::Stopped,
        phase_label: Phase::Stopped.label(),
        tone: tone(&Phase::Stopped),
        pid: None,
        uptime_seconds: None,
        starts: 0,
        restarts: 0,
        generations: Vec::new(),
        last_switch: None,
        port_reopened_in_last_switch: false,
        door: None,
        last_exit: None,
        url: String::new(),
        lan_url: None,
        healthy: None,
        health_failures: 0,
        usage: None,
        sessions: Default::default(),
        sessions_source: "folder".into(),
        sessions_dirs: Vec::new(),
        profile: ProfileKind::Embedded,
        capabilities: None,
        mode_switch: None,
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
