//! Command line: the flags of YAM's `server.py`, ours, and the `user` subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::session_store::StoreArgs;

#[derive(Debug, Parser)]
#[command(
    name = "yam-server",
    version,
    about = "YAM server with enhanced session management",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default when no command is given).
    Serve(ServeArgs),
    /// Manage users: add, list, passwd, remove.
    #[command(subcommand)]
    User(UserCommand),
    /// End every session: through the running server (control token), or, when it is down,
    /// by clearing the sessions folder and leaving force_session_reset.txt for its next start.
    ForceLogout {
        #[command(flatten)]
        sessions: StoreArgs,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Check a running server against YAM's multiple-sessions contract (the asserting version
    /// of scripts/test_multiple_sessions.py). The password is read from stdin or prompted for.
    Selftest {
        /// Server URL, e.g. http://127.0.0.1:5000
        #[arg(long)]
        url: String,
        /// User to log in as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Folder for the users database, secrets, markers and (by default) sessions.
    /// Default: the per-user application data folder.
    #[arg(long, env = "YAM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Where users are kept.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArg {
    /// Users database: SQLite in the data folder (the default) or PostgreSQL shared by
    /// several servers, e.g. postgres://yam:PASSWORD@db-host:5432/yam
    #[arg(long, env = "YAM_DATABASE", value_name = "URL", hide_env_values = true)]
    pub database: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0 to serve the LAN).
    #[arg(long, env = "YAM_SERVER_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "YAM_SERVER_PORT", default_value_t = 5000)]
    pub port: u16,
    /// Run mode, as YAM's server.py (`web` is the only mode this server has).
    #[arg(long, value_enum, default_value_t = RunMode::Web)]
    pub mode: RunMode,
    /// Debug logging and the admin-only /debug/session page.
    #[arg(long)]
    pub debug: bool,
    /// Accepted for compatibility with server.py; this server has no reloader.
    #[arg(long)]
    pub no_reloader: bool,
    /// Multiple concurrent sessions per user (4 h, renewed by activity); also turns on
    /// session conflict resolution.
    #[arg(long)]
    pub allow_multiple_sessions: bool,
    /// Live sessions one user may have at once (multiple session mode): a login beyond it
    /// ends that user's oldest session. A team never reaches the default; a script does.
    #[arg(long, value_name = "N", default_value_t = yam_sessions::manager::DEFAULT_MAX_SESSIONS_PER_USER,
          value_parser = at_least_one)]
    pub max_sessions_per_user: usize,
    #[command(flatten)]
    pub sessions: StoreArgs,
    #[command(flatten)]
    pub users: DatabaseArg,
    /// Secret behind the CSRF tokens of HTML forms, the same on every server of one
    /// deployment (at least 32 characters). Default: a new random one at each start.
    #[arg(
        long,
        env = "YAM_FORM_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub form_secret: Option<String>,
    /// A reverse proxy (load balancer) whose `X-Forwarded-For` names the client; repeat for
    /// several. Without it, every client behind a proxy looks like the proxy.
    #[arg(
        long,
        env = "YAM_TRUSTED_PROXIES",
        value_name = "IP",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    /// Name this server gives in an `X-YAM-Instance` header on every answer (several
    /// servers behind one balancer). Default: no header.
    #[arg(long, env = "YAM_INSTANCE", value_name = "NAME")]
    pub instance: Option<String>,
    /// What happens to existing sessions at start: keep them, or clear them (server.bat parity).
    #[arg(long, value_enum, default_value_t = OnRestart::Keep)]
    pub on_restart: OnRestart,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunMode {
    Web,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Web => "web",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnRestart {
    Keep,
    Clear,
}

impl OnRestart {
    pub fn as_str(self) -> &'static str {
        match self {
            OnRestart::Keep => "keep",
            OnRestart::Clear => "clear",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from stdin or prompted for.
    Add {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Give the user admin rights.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        data: DataDirArg,
        #[command(flatten)]
        users: DatabaseArg,
    },
    /// List users.
    List {
        #[command(flatten)]
        data: DataDirArg,
        #[command(flatten)]
        users: DatabaseArg,
    },
    /// Set a user's password (read from stdin or prompted for); ends the user's sessions.
    Passwd {
        username: String,
        #[command(flatten)]
        sessions: StoreArgs,
        #[command(flatten)]
        data: DataDirArg,
        #[command(flatten)]
        users: DatabaseArg,
    },
    /// Remove a user and end their sessions.
    Remove {
        username: String,
        #[command(flatten)]
        sessions: StoreArgs,
        #[command(flatten)]
        data: DataDirArg,
        #[command(flatten)]
        users: DatabaseArg,
    },
}

/// A count of at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{text:?} is not a number of at least 1")),
    }
}
