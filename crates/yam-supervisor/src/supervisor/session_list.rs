//! The sessions table, per profile: from the built-in server's admin API, from Redis, from the
//! sessions folder, or as seen at the door — with what the door saw of a Flask-Session YAM's
//! browsers added to the folder's (or Redis's) rows.

use yam_sessions::{Clock, SystemClock, Timestamp};

use super::ActionError;
use super::actions::in_redis;
use super::driver::Driver;
use crate::counting::Counting;
use crate::readers::FileInfo;
use crate::redis_watcher::{self, RedisLayout, RedisSource};
use crate::settings::ProfileKind;
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

impl Driver {
    pub(super) async fn sessions(&mut self) -> Result<SessionList, ActionError> {
        let list = self.listed_sessions().await?;
        Ok(self.with_door_view(list))
    }

    /// The user of the session a folder or Redis row names, as last read there.
    pub(super) fn row_user(&self, key: &str) -> Option<String> {
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
            let note = if sessions.secret_check() == crate::door::SecretCheck::Mismatch {
                "Seen at the door, unverified: the secret key the tray has does not match the \
                 one YAM signs its cookies with (see the warning), so these are what the cookies \
                 claim. A browser idle since before the supervisor started appears when it \
                 comes back."
            } else if sessions.verified() {
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
}
