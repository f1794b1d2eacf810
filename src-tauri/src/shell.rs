//! The desktop side of actions: show the window, open URLs and folders (opener plugin).

use std::path::Path;

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_opener::OpenerExt;

use crate::error::TrayError;

pub const MAIN_WINDOW: &str = "main";

/// Shows, unminimises and focuses the main window (tray click, second launch).
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
    // Hidden windows get no status events; bring this one up to date.
    if let Some(state) = app.try_state::<crate::state::TrayState>() {
        let _ = app.emit("status", &state.supervisor.status());
    }
}

pub fn open_url<R: Runtime>(app: &AppHandle<R>, url: &str) -> Result<(), TrayError> {
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| TrayError::shell("open the browser", e))
}

pub fn open_path<R: Runtime>(app: &AppHandle<R>, path: &Path) -> Result<(), TrayError> {
    app.opener()
        .open_path(path.to_string_lossy(), None::<&str>)
        .map_err(|e| TrayError::shell(&format!("open {}", path.display()), e))
}
