//! Admin actions on sessions and settings, per profile.

use std::path::PathBuf;

use yam_sessions::{Clock, FileStore, SessionStore, SystemClock, Timestamp};

use super::driver::Driver;
use super::{ActionError, SettingsSaved};
use crate::counting::Counting;
use crate::lifecycle::Event;
use crate::prepare;
use crate::profile::LaunchPlan;
use crate::readers::FileInfo;
use crate::redis_watcher::{self, RedisLayout, RedisSource};
use crate::server_api::ServerApi;
use crate::settings::{self, ProfileKind, SettingError, Settings};
use crate::sightings::RowKey;
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

/// A row of the sessions table from what a reader found (a file, a Redis key); `None` for a
/// session that has expired (damaged ones are listed).
fn row_of(key: String, info: FileInfo, now: Timestamp) -> Option<SessionRow> {
    (info.damaged || info.expires.is_none_or(|e| e > now)).then(|| SessionRow {
        key,
        user_id: info.user_id,
        username: info.username,
        created_at: None,
        last_activity: None,
        expires_at: info.expires.map(|e| e.to_rfc3339()),
        ip: None,
        user_agent: None,
        damaged: info.damaged,
    })
}

/// Unix milliseconds as the sessions table shows times.
fn rfc3339_ms(ms: u64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A sign-in seen at the door, as a row of the sessions table.
fn door_row(s: crate::signins::SignIn) -> SessionRow {
    let at = rfc3339_ms;
    SessionRow {
        key: s.id,
        user_id: Some(s.user_id),
        username: s.username,
        created_at: s.signed_in_at.and_then(at),
        last_activity: at(s.last_activity),
        expires_at: at(s.expires_at),
        ip: s.client.ip,
        user_agent: s.client.user_agent,
        damaged: false,
    }
}

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

    fn server_up(&self) -> bool {
        self.serving().is_some()
    }

    /// The admin API of the built-in server that answers now.
    fn api(&self) -> Option<ServerApi> {
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

    fn dirs(&self) -> (Vec<PathBuf>, PathBuf) {
        match self.current_plan() {
            Some(p) => (p.sessions_dirs.clone(), p.markers_dir.clone()),
            None => (Vec::new(), self.opts.data_dir.clone()),
        }
    }

    /// The Redis holding the sessions, when the plan has one.
    fn redis(&self) -> Option<RedisSource> {
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
                        "Logged out {n} signed-in browser{} at the door: each sees YAM's login page \
                         at its next request, and its remember-me cookie is cleared. Signing in \
                         again works at once.",
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

    pub(super) async fn sessions(&mut self) -> Result<SessionList, ActionError> {
        let list = self.listed_sessions().await?;
        Ok(self.with_door_view(list))
    }

    /// The user of the session a folder or Redis row names, as last read there.
    fn row_user(&self, key: &str) -> Option<String> {
        match &self.watcher {
            Counting::Folders(w) => w
                .snapshot()
                .into_iter()
                .find(|(path, _)| {
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.trim_end_matches(".json") == key)
                })
                .and_then(|(_, info)| info.user_id),
            Counting::Redis(w) => w
                .scanned()
                .into_iter()
                .find(|(sid, _)| sid == key)
                .and_then(|(_, info)| info.user_id),
            Counting::Door(_) => None,
        }
    }

    /// Adds what the door saw of a Flask-Session YAM's sessions (each browser's address,
    /// browser and last activity) to the rows read from its folder or Redis.
    fn with_door_view(&self, mut list: SessionList) -> SessionList {
        let Some(sids) = self.sids_at_door() else {
            return list;
        };
        if !matches!(list.source.as_str(), "folder" | "redis") {
            return list;
        }
        let mut matched = 0;
        let redis = list.source == "redis";
        for row in &mut list.sessions {
            let key = if redis {
                RowKey::Sid(&row.key)
            } else {
                RowKey::File(&row.key)
            };
            let Some(seen) = sids.find(key) else {
                continue;
            };
            matched += 1;
            row.ip = seen.client.ip;
            row.user_agent = seen.client.user_agent;
            row.last_activity = rfc3339_ms(seen.last_activity);
            row.created_at = row.created_at.take().or(seen.begun_at.and_then(rfc3339_ms));
        }
        let followed = sids.live();
        list.door_seen = Some(followed);
        let sentence = format!(
            "The door follows {followed} of YAM's sessions; {matched} of these {total} show \
             their browser's address, browser and last activity (a browser idle since the \
             supervisor started shows them when it comes back).",
            total = list.total
        );
        list.note = Some(match list.note.take() {
            Some(note) => format!("{note} {sentence}"),
            None => sentence,
        });
        list
    }

    async fn listed_sessions(&mut self) -> Result<SessionList, ActionError> {
        if let Counting::Door(sessions) = &self.watcher {
            let rows: Vec<SessionRow> = sessions.list().into_iter().map(door_row).collect();
            let note = if sessions.verified() {
                "Seen at the door: one row per signed-in browser (Flask's signed cookies, checked \
                 with YAM's secret). A browser idle since before the supervisor started appears \
                 when it comes back."
            } else {
                "Seen at the door, unverified: YAM's SECRET_KEY is not known, so these are what \
                 the cookies claim. A browser idle since before the supervisor started appears \
                 when it comes back."
            };
            return Ok(SessionList {
                source: "door".into(),
                total: rows.len(),
                sessions: rows,
                note: Some(note.into()),
                door_seen: None,
            });
        }
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
                door_seen: None,
            });
        }
        if let Some(source) = self.redis() {
            return self.redis_sessions(source).await;
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
                door_seen: None,
            });
        }
        let now = SystemClock.now();
        let Counting::Folders(watcher) = &self.watcher else {
            return Err(ActionError::Failed(
                "sessions are not counted from folders".into(),
            ));
        };
        let mut rows: Vec<SessionRow> = watcher
            .snapshot()
            .into_iter()
            .map(|(path, info)| {
                let key = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(|n| n.trim_end_matches(".json").to_owned())
                    .unwrap_or_default();
                (key, info)
            })
            .filter_map(|(key, info)| row_of(key, info, now))
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
            door_seen: None,
        })
    }

    /// The sessions table from Redis (the server is stopped, or it is a Python YAM).
    async fn redis_sessions(&self, source: RedisSource) -> Result<SessionList, ActionError> {
        let now = SystemClock.now();
        let (rows, note) = match source.layout {
            RedisLayout::Yam => (
                in_redis(source, redis_watcher::yam_rows).await?,
                "The server is not running: sessions are read from Redis.",
            ),
            RedisLayout::Flask => {
                let scanned = match &self.watcher {
                    Counting::Redis(w) => w.scanned(),
                    Counting::Folders(_) | Counting::Door(_) => Vec::new(),
                };
                let rows = scanned
                    .into_iter()
                    .filter_map(|(sid, info)| row_of(sid, info, now))
                    .collect();
                (rows, "Read from Flask-Session's keys in Redis.")
            }
        };
        let mut rows: Vec<SessionRow> = rows;
        rows.sort_by(|a, b| b.expires_at.cmp(&a.expires_at));
        Ok(SessionList {
            source: "redis".into(),
            total: rows.len(),
            sessions: rows,
            note: Some(note.into()),
            door_seen: None,
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
