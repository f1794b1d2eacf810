//! Where the app cannot show its own window (no WebView2 Runtime on this Windows — Server and
//! LTSC editions often lack it — or `--browser`): the same dashboard as `yamctl up`, served on
//! loopback with the same token rules and opened in the default browser. The tray icon, its
//! menu and the supervisor work as always; "Open window" opens the dashboard.

use tauri::{AppHandle, Manager, Runtime};
use yam_supervisor::ctl::DEFAULT_LISTEN;
use yam_supervisor::ctl::dashboard::{self, Dashboard, listen_address};

use crate::state::TrayState;

/// Where to get the WebView2 Runtime (Microsoft's Evergreen bootstrapper page).
pub const WEBVIEW2_URL: &str = "https://go.microsoft.com/fwlink/p/?LinkId=2124703";

/// Why the dashboard is in the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrowserReason {
    /// The system has no webview runtime (the error says what was looked for).
    NoWebView(String),
    /// `--browser`.
    Asked,
}

impl BrowserReason {
    fn sentence(&self) -> String {
        match self {
            BrowserReason::NoWebView(_) => format!(
                "This computer has no WebView2 Runtime, so YAM Tray shows its dashboard in your \
                 browser. Install WebView2 ({WEBVIEW2_URL}) to get the app window."
            ),
            BrowserReason::Asked => "YAM Tray shows its dashboard in your browser.".into(),
        }
    }
}

/// Whether this system can show the app's window; the reason when it cannot.
pub fn webview_missing() -> Option<String> {
    #[cfg(windows)]
    {
        tauri::webview_version().err().map(|e| e.to_string())
    }
    #[cfg(not(windows))]
    {
        // WebKitGTK is linked into the app: if it were missing, the app would not have started.
        None
    }
}

/// Serves the dashboard for the app's supervisor and, unless `quietly`, opens it and says why.
pub fn start<R: Runtime>(app: &AppHandle<R>, reason: BrowserReason, quietly: bool) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(state) = app.try_state::<TrayState>() else {
            return;
        };
        let listener = match listen_address(DEFAULT_LISTEN) {
            Ok(addr) => dashboard::bind(addr, true).await,
            Err(e) => Err(e),
        };
        let dashboard =
            listener.and_then(|l| Dashboard::new(l, &state.supervisor, &state.paths, None));
        let dashboard = match dashboard {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("cannot serve the dashboard: {e:#}");
                crate::events::notify(&app, &format!("YAM Tray cannot show its dashboard: {e:#}"));
                return;
            }
        };
        tracing::warn!(
            reason = ?reason,
            "Showing the dashboard in the browser at {}",
            dashboard.url
        );
        let _ = state.browser_dashboard.set(dashboard.link.clone());
        if !quietly {
            crate::events::notify(&app, &reason.sentence());
            if let Err(e) = crate::shell::open_url(&app, &dashboard.link) {
                tracing::warn!("could not open the browser: {e}");
            }
        }
        let quit = state.quit_signal.clone();
        dashboard.serve(async move { quit.notified().await }).await;
    });
}
