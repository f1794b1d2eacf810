//! "Start at login": the setting is the truth; the OS entry is checked and repaired at each
//! launch and whenever the setting changes.

use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;

pub fn apply<R: Runtime>(app: &AppHandle<R>, on: bool) {
    let launcher = app.autolaunch();
    let result = match (on, launcher.is_enabled()) {
        (true, Ok(false)) | (true, Err(_)) => launcher.enable(),
        (false, Ok(true)) => launcher.disable(),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(
            "could not {} start at login: {e}",
            if on { "turn on" } else { "turn off" }
        );
    }
}
