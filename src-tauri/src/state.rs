//! What the app keeps in Tauri's managed state: the supervisor handle (no globals).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

use yam_supervisor::ctl::CtlPaths;
use yam_supervisor::supervisor::Supervisor;

pub struct TrayState {
    pub supervisor: Supervisor,
    pub paths: CtlPaths,
    /// Set once Quit was chosen: exit requests stop being prevented.
    pub quitting: AtomicBool,
    /// Set when the window's UI reported that it loaded; cleared when the window is closed
    /// (closing destroys it).
    pub ui_ready: AtomicBool,
    /// An action the tray menu asked for while the window was closed or still loading; the
    /// UI takes it when it reports ready.
    pub pending_action: Mutex<Option<UiAction>>,
    /// The dashboard's link when it is shown in the browser instead of a window.
    pub browser_dashboard: OnceLock<String>,
    /// Told once when the app quits (ends the browser dashboard).
    pub quit_signal: Arc<tokio::sync::Notify>,
    /// No tray icon could be shown: closing the window is quitting (nothing would be left to
    /// bring it back).
    pub no_tray: AtomicBool,
}

/// Something the tray menu asks the window to do, with the window's own confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UiAction {
    ForceLogout,
}

impl TrayState {
    pub fn new(supervisor: Supervisor, paths: CtlPaths) -> Self {
        Self {
            supervisor,
            paths,
            quitting: AtomicBool::new(false),
            ui_ready: AtomicBool::new(false),
            pending_action: Mutex::new(None),
            browser_dashboard: OnceLock::new(),
            quit_signal: Arc::new(tokio::sync::Notify::new()),
            no_tray: AtomicBool::new(false),
        }
    }

    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    /// Keeps `action` for the UI to take when it reports ready (a later one replaces it).
    pub fn defer_action(&self, action: UiAction) {
        *self
            .pending_action
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(action);
    }

    /// The window's UI loaded: returns the action waiting for it, if any.
    pub fn take_pending_action(&self) -> Option<UiAction> {
        self.pending_action
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
