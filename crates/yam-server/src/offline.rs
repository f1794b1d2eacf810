//! `yam-server force-logout`: works with the server running (control token) and without it.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use yam_sessions::{Clock, FileStore, SessionStore, SystemClock};

use crate::control_token::ControlToken;
use crate::markers::{FORCE_SESSION_RESET, Markers, SERVER_STARTUP};
use crate::paths::DataDir;
use crate::users::cli::sessions_dir_for;

/// The URL of the server that last started with this data folder, if it answers now.
fn running_server(dir: &DataDir) -> Option<String> {
    let url = Markers::new(dir.root())
        .read(SERVER_STARTUP)
        .ok()?
        .get("url")?
        .clone();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .ok()?;
    let ok = client
        .get(format!("{url}/api/health"))
        .send()
        .is_ok_and(|r| r.status().is_success());
    ok.then_some(url)
}

pub fn force_logout(data_dir: Option<&Path>, sessions_dir: Option<&Path>) -> anyhow::Result<()> {
    let dir = DataDir::resolve(data_dir)?;
    if let Some(url) = running_server(&dir) {
        let token = ControlToken::read_file(dir.root()).with_context(|| {
            format!("the server at {url} is running but its control-token file is unreadable")
        })?;
        let response = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?
            .post(format!("{url}/admin/clear-sessions"))
            .bearer_auth(token)
            .send()
            .with_context(|| format!("could not reach the server at {url}"))?;
        let status = response.status();
        let body: Value = response.json().unwrap_or(Value::Null);
        let message = body["message"].as_str().unwrap_or("no message");
        anyhow::ensure!(
            status.is_success(),
            "the server at {url} refused: {status}: {message}"
        );
        println!("Server at {url}: {message}");
        return Ok(());
    }
    let sessions = sessions_dir_for(&dir, sessions_dir);
    let cleared = if sessions.is_dir() {
        FileStore::open(&sessions)?.0.delete_all()?
    } else {
        0
    };
    std::fs::create_dir_all(dir.root())?;
    Markers::new(dir.root()).write(
        FORCE_SESSION_RESET,
        &[
            ("requested_at", SystemClock.now().to_rfc3339()),
            ("by", "yam-server force-logout".to_owned()),
        ],
    )?;
    println!(
        "The server is not running: deleted {cleared} session file(s) in {} and wrote {FORCE_SESSION_RESET}, \
         which the server consumes at its next start.",
        sessions.display()
    );
    Ok(())
}
