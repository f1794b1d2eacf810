//! The supervisor's status, published on a watch channel and sent to UIs as JSON.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::door::DoorStats;
use crate::history::Peak;
use crate::lifecycle::{ExitInfo, GenView, Phase, SwitchReport};
use crate::logs::LogLine;
use crate::procs::Usage;
use crate::profile::Capabilities;
use crate::settings::{ProfileKind, Settings};
use crate::tally::Counts;

/// Colour family of a phase, for the tray icon and the status card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Running.
    Ok,
    /// Starting, stopping, waiting to restart.
    Busy,
    /// Unhealthy, port busy.
    Warn,
    /// Crash loop, failed.
    Bad,
    /// Stopped.
    Off,
}

pub fn tone(phase: &Phase) -> Tone {
    match phase {
        Phase::Running => Tone::Ok,
        Phase::Starting | Phase::Stopping | Phase::Crashed { .. } | Phase::Restarting { .. } => {
            Tone::Busy
        }
        Phase::Unhealthy | Phase::PortBusy { .. } => Tone::Warn,
        Phase::CrashLoop | Phase::Failed { .. } => Tone::Bad,
        Phase::Stopped => Tone::Off,
    }
}

/// Something the admin should hear about (the tray shows it as a notification).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeView {
    pub seq: u64,
    pub kind: String,
    pub message: String,
    /// A desktop notification is due (the first crash of an episode, a crash loop, a busy
    /// port…); a repeat only updates what the window shows.
    pub news: bool,
    /// When it happened (RFC 3339).
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModeView {
    pub multiple_sessions: bool,
    pub conflict_resolution: bool,
    pub lifetime_hours: u32,
}

/// What the server did to open sessions when the mode last changed, as seen at the door
/// (measured, for a YAM that decides that itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeSwitchEffect {
    /// Switched to multiple sessions (`false`: to single).
    pub to_multiple: bool,
    /// Sessions open at the switch.
    pub open: usize,
    /// Of those, how many the server ended itself since.
    pub ended: usize,
    /// Unix milliseconds.
    pub at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub phase: Phase,
    pub phase_label: String,
    pub tone: Tone,
    /// The server that answers (or will).
    pub pid: Option<u32>,
    pub uptime_seconds: Option<u64>,
    /// Server processes started since the supervisor started.
    pub starts: u32,
    /// Of those, the ones that replaced a server (restarts and crash recoveries).
    pub restarts: u32,
    /// Every server process alive now: during a restart the old and the new one.
    pub generations: Vec<GenView>,
    /// How long the last restart (or crash recovery) took, and whether requests waited.
    pub last_switch: Option<SwitchReport>,
    /// The public port was closed and opened again during that switch (a change between the
    /// built-in server, which takes the socket over, and a proxied YAM): connections may have
    /// been refused meanwhile.
    #[serde(default)]
    pub port_reopened_in_last_switch: bool,
    /// The public port held by the supervisor, and what passed through it.
    pub door: Option<DoorStats>,
    pub last_exit: Option<ExitInfo>,
    pub url: String,
    pub lan_url: Option<String>,
    pub healthy: Option<bool>,
    pub health_failures: u32,
    pub usage: Option<Usage>,
    pub sessions: Counts,
    /// Where the counts come from: `folder`, `redis`, `door` (signed cookies checked with
    /// YAM's secret) or `door_unverified` (the secret is not known).
    pub sessions_source: String,
    pub sessions_dirs: Vec<PathBuf>,
    pub profile: ProfileKind,
    pub capabilities: Option<Capabilities>,
    pub mode: ModeView,
    /// What YAM did to open sessions at the last mode switch (signed-cookie YAM only).
    pub mode_switch: Option<ModeSwitchEffect>,
    pub settings: Settings,
    pub warnings: Vec<String>,
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
    pub log_file: Option<PathBuf>,
    pub first_run_password_file: Option<PathBuf>,
    pub notice: Option<NoticeView>,
    pub busy: Option<String>,
    pub log_tail: Vec<LogLine>,
    /// Today's busiest minute (local time) and today's logins, starts and crashes.
    pub today: Option<Peak>,
    pub supervisor_pid: u32,
    pub supervisor_name: String,
    pub version: String,
}

/// One session as the UI lists it, from the server's admin API or from the folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub key: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub created_at: Option<String>,
    pub last_activity: Option<String>,
    pub expires_at: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub damaged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// `server` (admin API), `folder` (files), or `none`.
    pub source: String,
    pub total: usize,
    pub sessions: Vec<SessionRow>,
    /// Why the list may be incomplete or empty.
    pub note: Option<String>,
    /// A Flask-Session YAM behind the door: how many of its sessions the door follows (the
    /// folder's or Redis' count must agree with it once every browser has come by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door_seen: Option<usize>,
}
