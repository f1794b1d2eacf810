//! Admin actions on sessions and settings, per profile.

use std::path::PathBuf;

use yam_sessions::{Clock, FileStore, SessionStore, SystemClock};

use super::driver::Driver;
use super::{ActionError, SettingsSaved};
use crate::lifecycle::{Event, Phase};
use crate::prepare;
use crate::server_api::ServerApi;
use crate::settings::{self, ProfileKind, SettingError, Settings};
use crate::status::{SessionList, SessionRow};

/// Rows asked from the server's admin API per request, and how many requests at most.
const PAGE_SIZE: usize = 1000;
const MAX_PAGES: usize = 20;

fn rows_of(body: &serde_json::Value) -> Vec<SessionRow> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    body["sessions"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|s| SessionRow {
                    key: text(&s["key"]).unwrap_or_default(),
                    user_id: s["user_id"].as_i64().map(|n| n.to_string()),
                    username: text(&s["username"]),
                    created_at: text(&s["created_at"]),
                    last_activity: text(&s["last_activity"]),
                    expires_at: text(&s["expires_at"]),
                    ip: text(&s["ip"]),
                    user_agent: text(&s["user_agent"]),
                    damaged: false,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn valid_key(key: &str) -> bool {
    (key.len() == 32 || key.len() == 64)
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Driver {
    fn server_up(&self) -> bool {
        self.child.is_some() && matches!(self.machine.phase(), Phase::Running | Phase::Unhealthy)
    }

    fn api(&self) -> Option<ServerApi> {
        let plan = self.plan.as_ref()?;
        (self.server_up() && self.settings.profile == ProfileKind::Embedded)
            .then(|| ServerApi::new(&plan.local_url, &self.token))
    }

    fn dirs(&self) -> (Vec<PathBuf>, PathBuf) {
        let plan = self
            .plan
            .as_ref()
            .filter(|_| self.child.is_some())
            .or(self.preview.as_ref().ok());
        match plan {
            Some(p) => (p.sessions_dirs.clone(), p.markers_dir.clone()),
            None => (Vec::new(), self.opts.data_dir.clone()),
        }
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
        self.watcher.rescan();
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
            ProfileKind::Embedded => match self.api() {
                Some(api) => {
                    let n = api
                        .clear_sessions()
                        .await
                        .map_err(|e| ActionError::Failed(e.to_string()))?;
                    format!("Ended {n} session(s); everyone must log in again.")
                }
                None => {
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
                        "The server is not running: deleted {n} session file(s); force_session_reset.txt \
                         will be consumed when it starts."
                    )
                }
            },
            ProfileKind::Python => {
                let n = prepare::clear_session_files(&dirs)
                    .map_err(|e| ActionError::Failed(e.to_string()))?;
                prepare::write_force_reset(&markers)
                    .map_err(|e| ActionError::Failed(e.to_string()))?;
                let running = self.machine.phase().has_process();
                if running {
                    self.feed(Event::Restart { clear: false }).await;
                }
                format!(
                    "Deleted {n} session file(s) and wrote force_session_reset.txt{}.",
                    if running { "; YAM is restarting" } else { "" }
                )
            }
        };
        self.log.supervisor(&format!("Force logout: {message}"));
        self.set_notice("force_logout", message.clone(), true);
        self.refresh_counts();
        Ok(message)
    }

    pub(super) async fn revoke(&mut self, key: &str) -> Result<String, ActionError> {
        if !valid_key(key) {
            return Err(ActionError::InvalidInput(
                "A session key is 32 or 64 lowercase hexadecimal characters.".into(),
            ));
        }
        if self.settings.profile == ProfileKind::Custom {
            return Err(ActionError::NotSupported(
                "A custom server's sessions cannot be revoked from here.".into(),
            ));
        }
        let ended = match self.api() {
            Some(api) => api
                .revoke(key)
                .await
                .map_err(|e| ActionError::Failed(e.to_string()))?,
            None => {
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
        self.log
            .supervisor(&format!("Revoked session {}", &key[..8]));
        self.refresh_counts();
        Ok("Session ended.".into())
    }

    pub(super) async fn sessions(&mut self) -> Result<SessionList, ActionError> {
        if let Some(api) = self.api() {
            let mut rows = Vec::new();
            let mut total = 0;
            for page in 1..=MAX_PAGES {
                let body = api
                    .sessions(page, PAGE_SIZE)
                    .await
                    .map_err(|e| ActionError::Failed(e.to_string()))?;
                total = body["total"].as_u64().map_or(0, |n| n as usize);
                rows.extend(rows_of(&body));
                if body["pages"]
                    .as_u64()
                    .is_none_or(|pages| page as u64 >= pages)
                {
                    break;
                }
            }
            let note = (total > rows.len()).then(|| {
                format!(
                    "Showing the {} most recently active of {total} sessions.",
                    rows.len()
                )
            });
            return Ok(SessionList {
                source: "server".into(),
                total,
                sessions: rows,
                note,
            });
        }
        let (dirs, _) = self.dirs();
        if dirs.is_empty() {
            return Ok(SessionList {
                source: "none".into(),
                total: 0,
                sessions: Vec::new(),
                note: Some(
                    "This profile has no sessions folder, so sessions cannot be listed.".into(),
                ),
            });
        }
        let now = SystemClock.now();
        let mut rows: Vec<SessionRow> = self
            .watcher
            .snapshot()
            .into_iter()
            .filter(|(_, info)| info.damaged || info.expires.is_none_or(|e| e > now))
            .map(|(path, info)| SessionRow {
                key: path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(|n| n.trim_end_matches(".json").to_owned())
                    .unwrap_or_default(),
                user_id: info.user_id,
                username: info.username,
                created_at: None,
                last_activity: None,
                expires_at: info.expires.map(|e| e.to_rfc3339()),
                ip: None,
                user_agent: None,
                damaged: info.damaged,
            })
            .collect();
        rows.sort_by(|a, b| b.expires_at.cmp(&a.expires_at));
        let note = match self.settings.profile {
            ProfileKind::Python => Some(
                "Read from the YAM folder: only sessions YAM stores there (Flask-Session) are visible; \
                 YAM's default signed-cookie sessions are not."
                    .into(),
            ),
            _ if !self.server_up() => Some("The server is not running: sessions are read from the folder.".into()),
            _ => None,
        };
        Ok(SessionList {
            source: "folder".into(),
            total: rows.len(),
            sessions: rows,
            note,
        })
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
        let restart = new.needs_restart(&self.settings) && self.machine.phase().has_process();
        self.settings = new;
        self.warnings.clear();
        self.preview = Self::plan_for(&self.opts, &self.settings, "preview", false);
        if let Ok(p) = &self.preview {
            let dirs = p.sessions_dirs.clone();
            self.watch_dirs(&dirs);
        }
        self.log.supervisor("Settings saved");
        if restart {
            // A mode toggle never clears sessions.
            self.feed(Event::Restart { clear: false }).await;
        }
        Ok(SettingsSaved {
            restarted: restart,
            message: if restart {
                "Saved. The server is restarting to apply them; open sessions stay.".into()
            } else {
                "Saved.".into()
            },
        })
    }
}
