//! The YAM supervisor: launches a server (embedded, Python YAM or custom), health-checks,
//! restarts, counts live sessions, resets sessions, and serves a loopback control API.

pub mod announce;
pub mod backoff;
pub mod control;
pub mod counting;
pub mod ctl;
pub mod door;
pub mod first_run;
pub mod history;
pub mod lifecycle;
pub mod lock;
pub mod log_level;
pub mod log_lines;
pub mod logs;
pub mod port;
pub mod prepare;
pub mod process;
pub mod procs;
pub mod profile;
pub mod readers;
pub mod redis_watcher;
pub mod server_api;
pub mod settings;
pub mod sightings;
pub mod signins;
pub mod status;
pub mod supervisor;
pub mod tally;
pub mod users;
pub mod watcher;
pub mod yam_folder;

/// A fixture folder of the test kit (`tests/fixtures/<name>`).
#[cfg(test)]
pub(crate) fn test_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}
