//! Admin actions on sessions and settings, per profile.

use std::path::PathBuf;

use yam_sessions::{FileStore, SessionStore};

use super::driver::Driver;
use super::{ActionError, SettingsSaved};
use crate::counting::Counting;
use crate::lifecycle::Event;
use crate::prepare;
use crate::profile::LaunchPlan;
use crate::redis_watcher::{self, RedisLayout, RedisSource};
use crate::server_api::ServerApi;
use crate::settings::{self, ProfileKind, SettingError, Settings};
use crate::sightings::RowKey;

/// A Flask-Session id (`secrets.token_urlsafe`): URL-safe base64.
fn valid_sid(sid: &str) -> bool {
    (1..=128).contains(&sid.len())
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Runs a blocking Redis action off the async workers.
pub(super) async fn in_redis<T: Send + 'static>(
    source: RedisSource,
    action: impl FnOnce(&RedisSource) -> Result<T, redis_watcher::RedisSessionsError> + Send + 'static,
) -> Result<T, ActionError> {
    tokio::task::spawn_blocking(move || action(&source))
        .await
        .map_err(|e| ActionError::Failed(e.to_string()))?
        .map_err(|e| ActionError::Failed(e.to_string()))
}

fn valid_key(key: &str) -> bool {
    (key.len() == 32 || key.len() == 64)
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Driver {
    /// The generation that answers requests now.
    fn serving(&self) -> Option<&super::driver::Generation> {
        self.gens.get(&self.machine.serving()?)
    }

    pub(super) fn server_up(&self) -> bool {
        self.serving().is_some()
    }

    /// The admin API of the built-in server that answers now.
    pub(super) fn api(&self) -> Option<ServerApi> {
        self.serving()
            .filter(|g| g.plan.stop == crate::profile::StopMethod::AdminApi)
            .filter(|_| self.settings.profile == ProfileKind::Embedded)
            .map(super::driver::Generation::api)
    }

    /// The plan of the server that answers (or the newest one), else what the settings give.
    pub(super) fn current_plan(&self) -> Option<&LaunchPlan> {
        self.serving()
            .or_else(|| self.gens.values().next_back())
            .map(|g| &g.plan)
            .or(self.preview.as_ref().ok())
    }

    pub(super) fn dirs(&self) -> (Vec<PathBuf>, PathBuf) {
        match self.current_plan() {
            Some(p) => (p.sessions_dirs.clone(), p.markers_dir.clone()),
            None => (Vec::new(), self.opts.data_dir.clone()),
        }
    }

    /// The Redis holding the sessions, when the plan has one.
    pub(super) fn redis(&self) -> Option<RedisSource> {
        self.current_plan().and_then(|p| p.sessions_redis.clone())
    }

    /// The admin API of the running embedded server, which keeps the users.
    pub(super) fn users_api(&self) -> Result<ServerApi, ActionError> {
        if self.settings.profile != ProfileKind::Embedded {
            return Err(ActionError::NotSupported(
                "Users are managed here for the built-in server only; a Python YAM keeps its own."
                    .into(),
            ));
        }
        self.api().ok_or_else(|| {
            ActionError::NotSupported("The server is not running: start it to manage users.".into())
        })
    }

    fn refresh_counts(&self) {
        self.watcher.refresh();
    }

    pub(super) async fn force_logout(&mut self) -> Result<String, ActionError> {
        let (dirs, markers) = self.dirs();
        let message = match self.settings.profile {
            ProfileKind::Custom => {
                return Err(ActionError::NotSupported(
                    "A custom server has no force logout: stop it and clear its sessions yourself."
                        .into(),
                ));
            }
            ProfileKind::Embedded => match (self.api(), self.redis()) {
                (Some(api), _) => {
                    let n = api
                        .clear_sessions()
                        .await
                        .map_err(|e| ActionError::Failed(e.to_string()))?;
                    format!(
                        "Ended {n_sessions}; everyone must log in again.",
                        n_sessions = yam_sessions::words::count(n, "session")
                    )
                }
                (None, Some(source)) => {
                    let n = in_redis(source, redis_watcher::clear).await?;
                    format!(
                        "The server is not running: deleted {n_sessions} in Redis.",
                        n_sessions = yam_sessions::words::count(n, "session")
                    )
                }
                (None, None) => {
                    let mut n = 0;
                    for dir in &dirs {
                        let (store, _) =
                            FileStore::open(dir).map_err(|e| ActionError::Failed(e.to_string()))?;
                        n += store
                            .delete_all()
                            .map_err(|e| ActionError::Failed(e.to_string()))?;
                    }
                    prepare::write_force_reset(&markers)
                        .map_err(|e| ActionError::Failed(e.to_string()))?;
                    format!(
                        "The server is not running: deleted {n_files}; force_session_reset.txt \
                         will be consumed when it starts.",
                        n_files = yam_sessions::words::count(n, "session file")
                    )
                }
            },
            ProfileKind::Python => {
                let can = self.current_plan().map(|p| p.capabilities.clone());
                if let Some(caps) = can.filter(|c| !c.force_logout) {
                    return Err(ActionError::NotSupported(caps.notes.join(" ")));
                }
                if let Counting::Door(sessions) = &self.watcher {
                    let n = sessions.force_logout();
                    format!(
                        "Logged out everyone at the door ({n} browser{} seen signed in, and any \
                         not seen since YAM Tray started): each sees YAM's login page at its \
                         next request, and its remember-me cookie is cleared. Signing in again \
                         works at once.",
                        if n == 1 { "" } else { "s" }
                    )
                } else {
                    // First at the door: a request under way now has what YAM sets cleared.
                    let at_door = self.sids_at_door();
                    if let Some(sids) = &at_door {
                        sids.force_logout();
                    }
                    let (n, what) = match self.redis() {
                        Some(source) => (
                            in_redis(source, redis_watcher::clear).await?,
                            ("session", " in Redis"),
                        ),
                        None => (
                            prepare::clear_session_files(&dirs)
                                .map_err(|e| ActionError::Failed(e.to_string()))?,
                            ("session file", ""),
                        ),
                    };
                    if let Some(sids) = &at_door {
                        sids.cleared();
                    }
                    format!(
                        "Deleted {}{}: everyone must log in again.{}",
                        yam_sessions::words::count(n, what.0),
                        what.1,
                        if at_door.is_some() {
                            " Remember-me cookies are refused at the door until each user signs \
                             in again."
                        } else {
                            ""
                        }
                    )
                }
            }
        };
        self.log.supervisor(&format!("Force logout: {message}"));
        self.set_notice("force_logout", message.clone(), true);
        self.refresh_counts();
        Ok(message)
    }

    pub(super) async fn revoke(&mut self, key: &str) -> Result<String, ActionError> {
        let flask_redis = self.redis().is_some_and(|r| r.layout == RedisLayout::Flask);
        if flask_redis && !valid_sid(key) {
            return Err(ActionError::InvalidInput(
                "A Flask-Session id is 1 to 128 letters, digits, '-' or '_'.".into(),
            ));
        }
        if !flask_redis && !valid_key(key) {
            return Err(ActionError::InvalidInput(
                "A session key is 32 or 64 lowercase hexadecimal characters.".into(),
            ));
        }
        if self.settings.profile == ProfileKind::Custom {
            return Err(ActionError::NotSupported(
                "A custom server's sessions cannot be revoked from here.".into(),
            ));
        }
        let door = match &self.watcher {
            Counting::Door(sessions) => Some(std::sync::Arc::clone(sessions)),
            Counting::Folders(_) | Counting::Redis(_) => None,
        };
        // A Flask-Session YAM behind the door: first at the door (a request from now on must
        // not sign that browser back in with its remember cookie), then the session itself.
        if door.is_none()
            && let Some(sids) = self.sids_at_door()
        {
            let row = if flask_redis {
                RowKey::Sid(key)
            } else {
                RowKey::File(key)
            };
            sids.revoke(row, self.row_user(key).as_deref());
        }
        let ended = match (self.api(), self.redis()) {
            _ if door.is_some() => door.as_ref().is_some_and(|d| d.revoke(key)),
            (Some(api), _) => api
                .revoke(key)
                .await
                .map_err(|e| ActionError::Failed(e.to_string()))?,
            (None, Some(source)) => {
                let key = key.to_owned();
                in_redis(source, move |s| redis_watcher::revoke(s, &key)).await?
            }
            (None, None) => {
                let (dirs, _) = self.dirs();
                let names = [format!("{key}.json"), key.to_owned()];
                let mut removed = false;
                for dir in &dirs {
                    for name in &names {
                        if crate::readers::classify(name) != crate::readers::FileKind::Ignore {
                            removed |= std::fs::remove_file(dir.join(name)).is_ok();
                        }
                    }
                }
                removed
            }
        };
        if !ended {
            return Err(ActionError::InvalidInput(
                "No such session (it may have ended already).".into(),
            ));
        }
        // File names and companion ids are not secrets; a Flask-Session id is one.
        let shown = if valid_key(key) || crate::signins::valid_id(key) {
            key.get(..8).unwrap_or(key)
        } else {
            "(a Flask-Session id)"
        };
        self.log.supervisor(&format!("Revoked session {shown}"));
        self.refresh_counts();
        Ok("Session ended.".into())
    }

    pub(super) async fn save_settings(
        &mut self,
        new: Settings,
    ) -> Result<SettingsSaved, Vec<SettingError>> {
        let errors = new.validate();
        if !errors.is_empty() {
            return Err(errors);
        }
        settings::save(&self.opts.config_dir, &new).map_err(|e| {
            vec![SettingError {
                field: "settings".into(),
                message: format!("cannot save the settings: {e}"),
            }]
        })?;
        let restart = new.needs_restart(&self.settings) && !self.gens.is_empty();
        if let (true, Counting::Door(sessions)) = (
            new.multiple_sessions != self.settings.multiple_sessions,
            &self.watcher,
        ) {
            self.mode_probe = Some(super::driver::ModeProbe {
                to_multiple: new.multiple_sessions,
                at_ms: crate::door::now_ms(),
                open: sessions.live_ids(),
            });
        }
        self.settings = new;
        self.settings_tx.send_replace(self.settings.clone());
        self.warnings.clear();
        self.preview = Self::plan_for(
            &self.opts,
            &self.settings,
            "preview",
            false,
            crate::profile::Binding::preview(&self.settings),
        );
        if let Ok(p) = self.preview.as_ref().map(Clone::clone) {
            self.watch_plan(&p);
        }
        self.log.supervisor("Settings saved");
        if restart {
            // A mode toggle never clears sessions.
            self.choose_switch();
            self.feed(Event::Restart { clear: false }).await;
        }
        Ok(SettingsSaved {
            restarted: restart,
            // Only the built-in server is known to keep every session across a restart; what
            // another server does with them is its own doing.
            message: if restart && self.settings.profile == ProfileKind::Embedded {
                "Saved. The server is restarting to apply the change; open sessions stay.".into()
            } else if restart {
                "Saved. The server is restarting to apply the change.".into()
            } else {
                "Saved.".into()
            },
        })
    }
}
