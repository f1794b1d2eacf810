//! The `yamctl` commands that talk to a running `yamctl up`.

use std::time::Duration;

use serde_json::{Value, json};

use super::{CtlPaths, STATE_FILE, TOKEN_FILE};

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
        let state: Value = std::fs::read(paths.config_dir.join(STATE_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                ClientError::NotRunning(format!(
                    "no {} in {}",
                    STATE_FILE,
                    paths.config_dir.display()
                ))
            })?;
        let token = std::fs::read_to_string(paths.config_dir.join(TOKEN_FILE))
            .map_err(|e| ClientError::NotRunning(format!("cannot read its token: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Refused(e.to_string()))?;
        Ok(Self {
            http,
            url: state["url"].as_str().unwrap_or_default().to_owned(),
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
fn describe_today(t: &serde_json::Map<String, Value>) -> String {
    let n = |k: &str| t.get(k).and_then(Value::as_u64).unwrap_or(0);
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let at = t
        .get("minute")
        .and_then(Value::as_i64)
        .and_then(|m| chrono::DateTime::from_timestamp(m.saturating_mul(60), 0))
        .map(|utc| {
            utc.with_timezone(&chrono::Local)
                .format("%H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "?".into());
    format!(
        "peak {} live ({}) at {at}; {}, {}, {}",
        n("live"),
        plural(n("users"), "user", "users"),
        plural(n("logins"), "login", "logins"),
        plural(n("starts"), "server start", "server starts"),
        plural(n("crashes"), "crash", "crashes"),
    )
}

pub fn describe_status(s: &Value) -> String {
    let mut out = String::new();
    let label = s["phase_label"].as_str().unwrap_or("?");
    let pid = s["pid"]
        .as_u64()
        .map(|p| format!("pid {p}, "))
        .unwrap_or_default();
    let up = s["uptime_seconds"]
        .as_u64()
        .map(|u| format!("up {}m {}s, ", u / 60, u % 60))
        .unwrap_or_default();
    out.push_str(&format!(
        "YAM — {label} ({pid}{up}{} restarts)\n",
        s["restarts"]
    ));
    out.push_str(&format!(
        "  URL:       {}",
        s["url"].as_str().unwrap_or("?")
    ));
    if let Some(lan) = s["lan_url"].as_str() {
        out.push_str(&format!("   LAN: {lan}"));
    }
    out.push('\n');
    let mode = &s["mode"];
    out.push_str(&format!(
        "  Mode:      {} ({} h sessions), conflict resolution {}\n",
        if mode["multiple_sessions"] == json!(true) {
            "multiple sessions"
        } else {
            "single session"
        },
        mode["lifetime_hours"],
        if mode["conflict_resolution"] == json!(true) {
            "on"
        } else {
            "off"
        },
    ));
    let c = &s["sessions"];
    out.push_str(&format!(
        "  Sessions:  {} live ({} users), {} expiring soon, {} damaged\n",
        c["live"], c["users"], c["expiring_soon"], c["damaged"]
    ));
    if let Some(today) = s["today"].as_object() {
        out.push_str(&format!("  Today:     {}\n", describe_today(today)));
    }
    if let Some(u) = s["usage"].as_object() {
        let rss = u.get("rss_bytes").and_then(Value::as_u64).unwrap_or(0) as f64 / 1_048_576.0;
        let cpu = u.get("cpu_percent").and_then(Value::as_f64).unwrap_or(0.0);
        out.push_str(&format!("  CPU/RSS:   {cpu:.1}% / {rss:.1} MB\n"));
    }
    out.push_str(&format!(
        "  Profile:   {}\n",
        s["profile"].as_str().unwrap_or("?")
    ));
    if let Some(exit) = s["last_exit"]["description"].as_str() {
        out.push_str(&format!("  Last exit: {exit}\n"));
    }
    for w in s["warnings"].as_array().into_iter().flatten() {
        out.push_str(&format!("  Warning:   {}\n", w.as_str().unwrap_or("")));
    }
    out
}
