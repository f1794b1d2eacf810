//! The `yamctl` commands that talk to a running `yamctl up`.

use std::time::Duration;

use serde_json::Value;

use super::{CtlPaths, STATE_FILE, TOKEN_FILE};
use crate::history::Peak;
use crate::status::Status;

/// Why a command could not reach `yamctl up`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("yamctl up is not running ({0})")]
    NotRunning(String),
    #[error("{0}")]
    Refused(String),
}

pub struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Client {
    pub fn connect(paths: &CtlPaths) -> Result<Self, ClientError> {
        use yam_sessions::private::{is_loopback_http, read_owned};
        let state_path = paths.config_dir.join(STATE_FILE);
        let state: Value = match read_owned(&state_path, 64 * 1024, false) {
            Ok(text) => serde_json::from_str(&text).map_err(|_| {
                ClientError::Refused(format!("{} is not yamctl up's", state_path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ClientError::NotRunning(format!(
                    "no {} in {}",
                    STATE_FILE,
                    paths.config_dir.display()
                )));
            }
            Err(e) => return Err(ClientError::Refused(e.to_string())),
        };
        let url = state["url"].as_str().unwrap_or_default().to_owned();
        // The token goes to this computer only, never to an address a folder names elsewhere.
        if !is_loopback_http(&url) {
            return Err(ClientError::Refused(format!(
                "{} names {url:?}, which is not on this computer: not sending the control token there",
                state_path.display()
            )));
        }
        let token = read_owned(&paths.config_dir.join(TOKEN_FILE), 4096, true)
            .map_err(|e| ClientError::Refused(format!("cannot use its token: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Refused(e.to_string()))?;
        Ok(Self {
            http,
            url,
            token: token.trim().to_owned(),
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let resp =
            req.bearer_auth(&self.token).send().await.map_err(|e| {
                ClientError::NotRunning(format!("{} did not answer: {e}", self.url))
            })?;
        let ok = resp.status().is_success();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if ok {
            return Ok(body);
        }
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                body["errors"].as_array().map(|errs| {
                    errs.iter()
                        .map(|e| {
                            format!(
                                "{}: {}",
                                e["field"].as_str().unwrap_or("?"),
                                e["message"].as_str().unwrap_or("?")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
            .unwrap_or_else(|| body.to_string());
        Err(ClientError::Refused(message))
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(format!("{}{path}", self.url)))
            .await
    }

    /// The supervisor's status, typed.
    pub async fn status(&self) -> Result<Status, ClientError> {
        let value = self.get("/api/status").await?;
        serde_json::from_value(value).map_err(|e| {
            ClientError::Refused(format!(
                "yamctl up sent a status this yamctl cannot read ({e}); are both the same version?"
            ))
        })
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, ClientError> {
        self.send(self.http.post(format!("{}{path}", self.url)).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.http.delete(format!("{}{path}", self.url)))
            .await
    }

    /// Polls the status until `done` or a failure phase, up to `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Result<Value, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.get("/api/status").await?;
            let phase = status["phase"]["phase"].as_str().unwrap_or("");
            if done(phase) {
                return Ok(status);
            }
            if matches!(phase, "crash_loop" | "failed" | "port_busy") {
                return Err(ClientError::Refused(format!(
                    "the server did not start: {}",
                    status["phase_label"].as_str().unwrap_or(phase)
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Refused(format!(
                    "still {phase} after {} s",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// "peak 12 live (8 users) at 09:41; 23 logins, 2 server starts, 1 crash" (local time).
fn describe_today(t: &Peak) -> String {
    let plural = |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    // A peak of nobody has no time worth naming.
    let peak = if t.live == 0 {
        "no sessions yet".to_owned()
    } else {
        let at = chrono::DateTime::from_timestamp(t.minute.saturating_mul(60), 0)
            .map(|utc| {
                utc.with_timezone(&chrono::Local)
                    .format("%H:%M")
                    .to_string()
            })
            .unwrap_or_else(|| "?".into());
        format!(
            "peak {} live ({}) at {at}",
            t.live,
            plural(t.users, "user", "users")
        )
    };
    format!(
        "{peak}; {}, {}, {}",
        plural(t.logins, "login", "logins"),
        plural(t.starts, "server start", "server starts"),
        plural(t.crashes, "crash", "crashes"),
    )
}

/// `yamctl status` as text, from the status the control API sends (the same type the
/// dashboard and the tray read).
pub fn describe_status(s: &Status) -> String {
    let mut out = String::new();
    let pid = s.pid.map(|p| format!("pid {p}, ")).unwrap_or_default();
    let up = s
        .uptime_seconds
        .map(|u| format!("up {}m {}s, ", u / 60, u % 60))
        .unwrap_or_default();
    out.push_str(&format!(
        "YAM — {} ({pid}{up}{} restarts)\n",
        s.phase_label, s.restarts
    ));
    out.push_str(&format!("  URL:       {}", s.url));
    if let Some(lan) = &s.lan_url {
        out.push_str(&format!("   LAN: {lan}"));
    }
    out.push('\n');
    let on_off = |b: bool| if b { "on" } else { "off" };
    out.push_str(&format!(
        "  Mode:      {} ({} h sessions), conflict resolution {}\n",
        if s.mode.multiple_sessions {
            "multiple sessions"
        } else {
            "single session"
        },
        s.mode.lifetime_hours,
        on_off(s.mode.conflict_resolution),
    ));
    let c = &s.sessions;
    out.push_str(&format!(
        "  Sessions:  {} live ({} users), {} expiring soon, {} damaged\n",
        c.live, c.users, c.expiring_soon, c.damaged
    ));
    if let Some(today) = &s.today {
        out.push_str(&format!("  Today:     {}\n", describe_today(today)));
    }
    if let Some(u) = &s.usage {
        let rss = u.rss_bytes as f64 / 1_048_576.0;
        out.push_str(&format!(
            "  CPU/RSS:   {:.1}% / {rss:.1} MB\n",
            u.cpu_percent
        ));
    }
    out.push_str(&format!("  Profile:   {}\n", s.profile.as_str()));
    if let Some(exit) = &s.last_exit {
        out.push_str(&format!("  Last exit: {}\n", exit.description));
    }
    for w in &s.warnings {
        out.push_str(&format!("  Warning:   {w}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today(v: Value) -> String {
        describe_today(&serde_json::from_value(v).expect("a peak"))
    }

    #[test]
    fn today_names_the_peak_and_its_time_only_when_someone_was_in() {
        let quiet = today(
            json!({"minute": 0, "live": 0, "users": 0, "logins": 0, "starts": 1, "crashes": 0}),
        );
        assert_eq!(
            quiet,
            "no sessions yet; 0 logins, 1 server start, 0 crashes"
        );
        let busy = today(
            json!({"minute": 29_000_000, "live": 12, "users": 1, "logins": 23, "starts": 2, "crashes": 1}),
        );
        assert!(busy.starts_with("peak 12 live (1 user) at "), "{busy}");
        assert!(
            busy.ends_with("; 23 logins, 2 server starts, 1 crash"),
            "{busy}"
        );
    }
}
