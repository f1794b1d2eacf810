//! The supervisor: one task owns the server process and drives the lifecycle; a cloneable
//! handle sends it requests and watches its status.

mod actions;
mod driver;
mod history_file;
mod launch;
mod session_list;
#[cfg(test)]
mod shutdown_tests;
mod tickets;

pub use driver::which as which_program;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::backoff::RestartPolicy;
use crate::history::{Series, Span};
use crate::lock::{LockError, SupervisorLock};
use crate::logs::ServerLog;
use crate::server_api::{ApiError, ServerApi};
use crate::settings::{self, SettingError, Settings};
use crate::status::{SessionList, Status};
use crate::users::{NewUser, UserChanged, UserPatch, UserView};

/// Where the supervisor keeps things and what it runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Settings live here.
    pub config_dir: PathBuf,
    /// Users, sessions (embedded), logs, markers, the lock file.
    pub data_dir: PathBuf,
    /// The embedded profile's yam-server binary.
    pub server_bin: PathBuf,
    pub policy: RestartPolicy,
    /// Shown to other supervisors: "yamctl", "yam-tray".
    pub name: String,
    /// Health checks while running.
    pub health_every: Duration,
    /// While no server can answer (a crash, a restart), requests on the public port wait
    /// this long before the supervisor answers "unavailable" itself.
    pub hold_limit: Duration,
}

impl Options {
    pub fn new(config_dir: PathBuf, data_dir: PathBuf, server_bin: PathBuf, name: &str) -> Self {
        Self {
            config_dir,
            data_dir,
            server_bin,
            policy: RestartPolicy::default(),
            name: name.into(),
            health_every: Duration::from_secs(2),
            hold_limit: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot start the supervisor: {0}")]
    Io(#[from] std::io::Error),
}

/// Why an action could not be done; the message is a sentence for the admin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum ActionError {
    #[error("{0}")]
    NotSupported(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Failed(String),
    #[error("the supervisor has stopped")]
    Gone,
}

/// The result of saving settings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SettingsSaved {
    /// The server was restarted to apply them.
    pub restarted: bool,
    pub message: String,
}

pub(crate) type Reply<T> = oneshot::Sender<T>;

pub(crate) enum Request {
    Start {
        clear: bool,
        reply: Reply<Result<(), ActionError>>,
    },
    Stop {
        reply: Reply<Result<(), ActionError>>,
    },
    Restart {
        clear: bool,
        reply: Reply<Result<(), ActionError>>,
    },
    ForceLogout {
        reply: Reply<Result<String, ActionError>>,
    },
    Revoke {
        key: String,
        reply: Reply<Result<String, ActionError>>,
    },
    Sessions {
        reply: Reply<Result<SessionList, ActionError>>,
    },
    /// A client of the running embedded server's admin API.
    ServerApi {
        reply: Reply<Result<ServerApi, ActionError>>,
    },
    SaveSettings {
        settings: Box<Settings>,
        reply: Reply<Result<SettingsSaved, Vec<SettingError>>>,
    },
    History {
        span: Span,
        reply: Reply<Series>,
    },
    Refresh {
        reply: Reply<()>,
    },
    Shutdown {
        reply: Reply<()>,
    },
}

/// The server's refusal of an admin's request is the admin's to fix (a taken name, the last
/// admin…); anything else failed.
fn refused(e: ApiError) -> ActionError {
    match e {
        ApiError::Refused { status, message } if (400..500).contains(&status) => {
            ActionError::InvalidInput(message)
        }
        other => ActionError::Failed(other.to_string()),
    }
}

/// Cloneable handle to a running supervisor.
#[derive(Clone)]
pub struct Supervisor {
    requests: mpsc::Sender<Request>,
    status: watch::Receiver<Status>,
    /// The settings as saved, secrets included (the status carries them redacted).
    settings: watch::Receiver<Settings>,
    log: ServerLog,
}

impl Supervisor {
    /// Takes the data folder's lock, loads settings, and starts the driver task (and the
    /// server when `start_on_launch` is set). Must run inside a Tokio runtime.
    pub fn launch(
        options: Options,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), SupervisorError> {
        let (lock, orphan) = SupervisorLock::acquire(&options.data_dir, &options.name)?;
        let loaded = settings::load(&options.config_dir);
        let log = ServerLog::new(Some(options.data_dir.join("logs").join("server.log")));
        let (requests, rx) = mpsc::channel(64);
        let start_now = loaded.settings.start_on_launch;
        let clear = loaded.settings.clear_sessions_on_restart;
        let (driver, status, settings) =
            driver::Driver::new(options, loaded, lock, orphan, log.clone(), rx)?;
        let task = tokio::spawn(driver.run());
        let handle = Self {
            requests,
            status,
            settings,
            log,
        };
        if start_now {
            let h = handle.clone();
            tokio::spawn(async move {
                let _ = h.start(clear).await;
            });
        }
        Ok((handle, task))
    }

    /// Sends a request and waits for its reply; `None` once the driver has ended.
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Option<T> {
        let (tx, mut rx) = oneshot::channel();
        self.requests.send(make(tx)).await.ok()?;
        // A request queued just as the driver ends can be left in its closed queue, neither
        // read nor dropped while any handle lives (tokio's mpsc, seen once in ~80 `yamctl up`
        // stops): stop waiting when the queue closes. The driver answers every request it
        // reads before it ends, so a reply that exists is there by then.
        tokio::select! {
            biased;
            reply = &mut rx => reply.ok(),
            () = self.requests.closed() => rx.try_recv().ok(),
        }
    }

    /// Starts the server (the admin asked: `clear` logs everyone out when set).
    pub async fn start(&self, clear: bool) -> Result<(), ActionError> {
        self.ask(|reply| Request::Start { clear, reply })
            .await
            .unwrap_or(Err(ActionError::Gone))
    }

    pub async fn stop(&self) -> Result<(), ActionError> {
        self.ask(|reply| Request::Stop { reply })
            .await
            .unwrap_or(Err(ActionError::Gone))
    }

    pub async fn restart(&self, clear: bool) -> Result<(), ActionError> {
        self.ask(|reply| Request::Restart { clear, reply })
            .await
            .unwrap_or(Err(ActionError::Gone))
    }

    /// Ends every session: through the server when it runs, otherwise on the folder.
    pub async fn force_logout(&self) -> Result<String, ActionError> {
        self.ask(|reply| Request::ForceLogout { reply })
            .await
            .unwrap_or(Err(ActionError::Gone))
    }

    pub async fn revoke(&self, key: &str) -> Result<String, ActionError> {
        let key = key.to_owned();
        self.ask(|reply| Request::Revoke { key, reply })
            .await
            .unwrap_or(Err(ActionError::Gone))
    }

    pub async fn sessions(&self) -> Result<SessionList, ActionError> {
        self.ask(|reply| Request::Sessions { reply })
            .await
            .unwrap_or(Err(ActionError::Gone))
    }

    /// The running embedded server's admin API (users live there).
    async fn server_api(&self) -> Result<ServerApi, ActionError> {
        self.ask(|reply| Request::ServerApi { reply })
            .await
            .unwrap_or(Err(ActionError::Gone))
    }

    pub async fn users(&self) -> Result<Vec<UserView>, ActionError> {
        self.server_api().await?.users().await.map_err(refused)
    }

    pub async fn add_user(&self, user: &NewUser) -> Result<UserChanged, ActionError> {
        self.server_api()
            .await?
            .add_user(user)
            .await
            .map_err(refused)
    }

    pub async fn update_user(
        &self,
        name: &str,
        patch: &UserPatch,
    ) -> Result<UserChanged, ActionError> {
        self.server_api()
            .await?
            .update_user(name, patch)
            .await
            .map_err(refused)
    }

    pub async fn remove_user(&self, name: &str) -> Result<UserChanged, ActionError> {
        self.server_api()
            .await?
            .remove_user(name)
            .await
            .map_err(refused)
    }

    /// Validates, saves and applies settings (restarting the server when needed, never
    /// clearing sessions).
    pub async fn save_settings(
        &self,
        settings: Settings,
    ) -> Result<SettingsSaved, Vec<SettingError>> {
        let settings = Box::new(settings);
        self.ask(|reply| Request::SaveSettings { settings, reply })
            .await
            .unwrap_or_else(|| {
                Err(vec![SettingError {
                    field: "supervisor".into(),
                    message: "the supervisor has stopped".into(),
                }])
            })
    }

    /// Applies `key = value` changes (from a form or a JSON object) on top of the current
    /// settings, then saves them; all problems come back together.
    pub async fn save_changes(
        &self,
        changes: Vec<(String, String)>,
    ) -> Result<SettingsSaved, Vec<SettingError>> {
        let current = self.settings();
        let next = current.with_changes(changes.iter().map(|(k, v)| (k.as_str(), v.clone())))?;
        self.save_settings(next).await
    }

    /// Turns multiple sessions on or off (persisted; the server restarts; sessions stay).
    pub async fn set_multiple_sessions(
        &self,
        on: bool,
    ) -> Result<SettingsSaved, Vec<SettingError>> {
        let mut settings = self.settings();
        settings.multiple_sessions = on;
        self.save_settings(settings).await
    }

    /// The load history for a chart.
    pub async fn history(&self, span: Span) -> Result<Series, ActionError> {
        self.ask(|reply| Request::History { span, reply })
            .await
            .ok_or(ActionError::Gone)
    }

    /// Re-publishes the status (after a change outside the supervisor, e.g. a marker file).
    pub async fn refresh(&self) {
        let _ = self.ask(|reply| Request::Refresh { reply }).await;
    }

    /// Stops the server gracefully and ends the supervisor.
    pub async fn shutdown(&self) {
        let _ = self.ask(|reply| Request::Shutdown { reply }).await;
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// The settings as saved, secrets included: for changing them, never for showing them
    /// (`status().settings` is the shown form).
    pub fn settings(&self) -> Settings {
        self.settings.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    pub fn log(&self) -> &ServerLog {
        &self.log
    }

    /// Waits until `done` holds for the status, or `timeout` passes.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&Status) -> bool,
    ) -> Option<Status> {
        let mut rx = self.status.clone();
        let found = tokio::time::timeout(timeout, rx.wait_for(|s| done(s))).await;
        match found {
            Ok(Ok(s)) => Some(s.clone()),
            _ => None,
        }
    }
}
