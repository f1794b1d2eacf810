//! `yamctl`: `up` runs the supervisor with its control API; the other commands talk to it.

pub mod client;
pub mod dashboard;
pub mod offline;
pub mod up;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub const STATE_FILE: &str = "yamctl-up.json";
pub const TOKEN_FILE: &str = "control-token";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

#[derive(Debug, Parser)]
#[command(
    name = "yamctl",
    version,
    about = "Run and control a YAM server without a desktop"
)]
pub struct Cli {
    /// Folder for settings (and, inside it, `data/` for the server's data). Default: the
    /// per-user config and data folders.
    #[arg(long, global = true, env = "YAM_CONFIG_DIR", value_name = "DIR")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the supervisor in the foreground with the loopback control API and dashboard.
    Up {
        /// Loopback address for the control API and dashboard.
        #[arg(long, env = "YAMCTL_LISTEN", default_value = DEFAULT_LISTEN)]
        listen: String,
        /// Serve the dashboard from this folder instead of the files built into yamctl
        /// (development).
        #[arg(long, value_name = "DIR")]
        ui: Option<PathBuf>,
    },
    /// Show the server's state.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List live sessions.
    Sessions {
        #[arg(long)]
        json: bool,
    },
    /// Start the server.
    Start {
        /// Log everyone out as the server starts.
        #[arg(long)]
        clear: bool,
    },
    /// Stop the server gracefully.
    Stop,
    /// Restart the server and wait until it is healthy.
    Restart {
        /// Log everyone out as the server restarts.
        #[arg(long)]
        clear: bool,
    },
    /// End every session (works on the folder when `yamctl up` is not running).
    ForceLogout,
    /// Change a setting, e.g. `yamctl set multiple_sessions false`.
    Set { key: String, value: String },
}

/// The folders `yamctl` uses.
#[derive(Clone, Debug)]
pub struct CtlPaths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl CtlPaths {
    pub fn resolve(config: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(dir) = config {
            let dir = if dir.is_absolute() {
                dir.to_path_buf()
            } else {
                std::env::current_dir()?.join(dir)
            };
            return Ok(Self {
                data_dir: dir.join("data"),
                config_dir: dir,
            });
        }
        let dirs = directories::ProjectDirs::from("", "", "YAM")
            .ok_or_else(|| anyhow::anyhow!("no home folder found; pass --config DIR"))?;
        Ok(Self {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_local_dir().to_path_buf(),
        })
    }
}

/// The yam-server binary: beside this program, else `$YAM_SERVER_BIN`.
pub fn server_binary() -> PathBuf {
    let name = format!("yam-server{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(&name)));
    match beside {
        Some(p) if p.is_file() => p,
        _ => std::env::var_os("YAM_SERVER_BIN").map_or_else(|| PathBuf::from(name), PathBuf::from),
    }
}
