//! `yamctl up`: the supervisor in the foreground with its loopback control API.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{CtlPaths, STATE_FILE, TOKEN_FILE};
use crate::control::{self, ControlState};
use crate::supervisor::{Options, Supervisor};
use yam_sessions::private::write_private;

pub async fn run(
    paths: CtlPaths,
    listen: &str,
    ui: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen}: use an address like 127.0.0.1:7878"))?;
    control::check_listen(&addr).map_err(anyhow::Error::msg)?;
    let open_files = yam_net::raise_open_files_limit();
    std::fs::create_dir_all(&paths.config_dir)?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (another `yamctl up`? choose another with --listen)")
    })?;
    let local = listener.local_addr()?;

    let options = Options::new(
        paths.config_dir.clone(),
        paths.data_dir.clone(),
        super::server_binary(),
        "yamctl",
    );
    let (supervisor, driver) = Supervisor::launch(options)?;

    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let url = format!("http://{local}");
    write_private(&paths.config_dir.join(TOKEN_FILE), &token)?;
    write_private(
        &paths.config_dir.join(STATE_FILE),
        &serde_json::json!({ "url": url, "pid": std::process::id() }).to_string(),
    )?;

    let ui_dir = super::ui_dir(ui.as_deref());
    let state = Arc::new(ControlState::new(
        supervisor.clone(),
        token.clone(),
        local.port(),
    ));
    let app = control::router(state, ui_dir.clone());
    println!(
        "yamctl up: supervising {} (settings in {})",
        supervisor.status().url,
        paths.config_dir.display()
    );
    println!("Dashboard: {url}/#token={token}");
    if ui_dir.is_none() {
        println!("(dashboard files not found; the JSON API is at {url}/api/status)");
    }

    let stopper = supervisor.clone();
    let options = yam_net::ServeOptions::new("control API", open_files);
    yam_net::serve(listener, app, options, async move {
        shutdown_signal().await;
        println!("Stopping: the server is stopped gracefully first…");
        stopper.shutdown().await;
    })
    .await;
    supervisor.shutdown().await;
    let _ = driver.await;
    let _ = std::fs::remove_file(paths.config_dir.join(STATE_FILE));
    let _ = std::fs::remove_file(paths.config_dir.join(TOKEN_FILE));
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
