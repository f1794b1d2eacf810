//! The loopback dashboard of a running supervisor: the control API and the web UI on a
//! listener, its token written for the `yamctl` commands. `yamctl up` serves one; so does the
//! tray where it cannot show its own window (no WebView2).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::net::TcpListener;
use yam_sessions::private::write_private;

use super::{CtlPaths, STATE_FILE, TOKEN_FILE};
use crate::control::{self, ControlState};
use crate::supervisor::Supervisor;

/// A bound dashboard, ready to serve.
pub struct Dashboard {
    listener: TcpListener,
    app: axum::Router,
    paths: CtlPaths,
    /// `http://127.0.0.1:PORT/#token=…`: the link that opens it (the token never leaves the
    /// fragment).
    pub link: String,
    pub url: String,
}

/// Parses and checks a `--listen` address: loopback only.
pub fn listen_address(listen: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen}: use an address like 127.0.0.1:7878"))?;
    control::check_listen(&addr).map_err(anyhow::Error::msg)?;
    Ok(addr)
}

/// Binds `addr` (or, when `fallback_to_any_port` and it is taken, a free port on the same
/// loopback address). Done before the supervisor starts, so a taken address fails early.
pub async fn bind(addr: SocketAddr, fallback_to_any_port: bool) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(_) if fallback_to_any_port => {
            Ok(TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?)
        }
        Err(e) => Err(e).with_context(|| {
            format!("cannot listen on {addr} (another `yamctl up`? choose another with --listen)")
        }),
    }
}

impl Dashboard {
    /// The dashboard of `supervisor` on `listener`: a fresh control token, written (with the
    /// address) for the `yamctl` commands.
    pub fn new(
        listener: TcpListener,
        supervisor: &Supervisor,
        paths: &CtlPaths,
        ui: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        yam_sessions::private::private_dir(&paths.config_dir)?;
        let local = listener.local_addr()?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let url = format!("http://{local}");
        write_private(&paths.config_dir.join(TOKEN_FILE), &token)?;
        write_private(
            &paths.config_dir.join(STATE_FILE),
            &serde_json::json!({ "url": url, "pid": std::process::id() }).to_string(),
        )?;
        let state = Arc::new(ControlState::new(
            supervisor.clone(),
            token.clone(),
            local.port(),
        ));
        Ok(Self {
            listener,
            app: control::router(state, ui),
            paths: paths.clone(),
            link: format!("{url}/#token={token}"),
            url,
        })
    }

    /// Serves until `shutdown` completes; then removes the token and address files.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) {
        let mut options =
            yam_net::ServeOptions::new("control API", yam_net::raise_open_files_limit());
        // Loopback only: every caller has the same address, so a share would only turn a
        // wait into a refusal.
        options.per_address = options.max_connections;
        yam_net::serve(self.listener, self.app, options, shutdown).await;
        let _ = std::fs::remove_file(self.paths.config_dir.join(STATE_FILE));
        let _ = std::fs::remove_file(self.paths.config_dir.join(TOKEN_FILE));
    }
}
