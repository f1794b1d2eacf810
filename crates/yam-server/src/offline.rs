//! `yam-server force-logout`: works with the server running (control token) and without it.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use yam_sessions::{Clock, SystemClock};

use crate::control_token::ControlToken;
use crate::markers::{FORCE_SESSION_RESET, Markers, SERVER_STARTUP};
use crate::paths::DataDir;
use crate::session_store::{StoreArgs, open_offline};

/// The server that last started with this data folder, when it answers now, with the
/// control token its data folder holds.
pub struct RunningServer {
    url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl RunningServer {
    /// `Ok(None)`: no server answers for this data folder. `Err`: one answers but its token
    /// cannot be read (acting on the folder behind its back would race it).
    pub fn find(dir: &DataDir) -> anyhow::Result<Option<Self>> {
        let Some(url) = Markers::new(dir.root())
            .read(SERVER_STARTUP)
            .ok()
            .and_then(|facts| facts.get("url").cloned())
        else {
            return Ok(None);
        };
        // The token goes to this computer only, never to an address a folder names elsewhere.
        if !yam_sessions::private::is_loopback_http(&url) {
            anyhow::bail!(
                "{} names the server address {url:?}, which is not on this computer: not sending \
                 the control token there",
                dir.root().join(SERVER_STARTUP).display()
            );
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()?;
        let healthy = http
            .get(format!("{url}/api/health"))
            .timeout(Duration::from_secs(3))
            .send()
            .is_ok_and(|r| r.status().is_success());
        if !healthy {
            return Ok(None);
        }
        let token = ControlToken::read_file(dir.root()).with_context(|| {
            format!("the server at {url} is running but its control-token file is unreadable")
        })?;
        Ok(Some(Self { url, token, http }))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .with_context(|| format!("could not reach the server at {}", self.url))?;
        let status = response.status();
        let body: Value = response.json().unwrap_or(Value::Null);
        anyhow::ensure!(
            status.is_success(),
            "the server at {} refused: {status}: {}",
            self.url,
            body["message"].as_str().unwrap_or("no message")
        );
        Ok(body)
    }

    /// Ends every session; the server's message.
    pub fn clear_sessions(&self) -> anyhow::Result<String> {
        let body = self.send(self.http.post(format!("{}/admin/clear-sessions", self.url)))?;
        Ok(body["message"].as_str().unwrap_or("done").to_owned())
    }

    /// Ends every session of one user; how many ended.
    pub fn end_user_sessions(&self, user_id: i64) -> anyhow::Result<usize> {
        let body = self.send(
            self.http
                .delete(format!("{}/api/admin/sessions?user_id={user_id}", self.url)),
        )?;
        Ok(body["sessions_ended"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0))
    }
}

pub fn force_logout(data_dir: Option<&Path>, sessions: &StoreArgs) -> anyhow::Result<()> {
    let dir = DataDir::resolve(data_dir)?;
    if let Some(server) = RunningServer::find(&dir)? {
        let message = server.clear_sessions()?;
        println!("Server at {}: {message}", server.url());
        return Ok(());
    }
    let choice = sessions.choice()?;
    let store = open_offline(&choice, &dir)?;
    let cleared = match &store {
        Some(store) => store.delete_all()?,
        None => 0,
    };
    if choice.is_shared() {
        // Other servers may be using the shared store right now: a marker would make the
        // next start of this one clear the sessions they create meanwhile.
        println!(
            "Deleted {cleared_sessions} in the shared store ({}).",
            choice.describe(),
            cleared_sessions = yam_sessions::words::count(cleared, "session")
        );
        return Ok(());
    }
    dir.create()?;
    Markers::new(dir.root()).write(
        FORCE_SESSION_RESET,
        &[
            ("requested_at", SystemClock.now().to_rfc3339()),
            ("by", "yam-server force-logout".to_owned()),
        ],
    )?;
    let folder = choice
        .folder(&dir)
        .unwrap_or_else(|| dir.default_sessions_dir());
    println!(
        "The server is not running: deleted {cleared_files} in {} and wrote {FORCE_SESSION_RESET}, \
         which the server consumes at its next start.",
        folder.display(),
        cleared_files = yam_sessions::words::count(cleared, "session file")
    );
    Ok(())
}
