//! The desktop side of actions: show the window, open URLs and folders (opener plugin).

use std::path::Path;

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewWindowBuilder};

use crate::error::TrayError;
use crate::state::{TrayState, UiAction};

pub const MAIN_WINDOW: &str = "main";

/// Shows, unminimises and focuses the main window (tray click, second launch); a closed
/// window is created again.
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(link) = app
        .try_state::<TrayState>()
        .and_then(|s| s.browser_dashboard.get().cloned())
    {
        // No window in this mode: the dashboard in the browser is the way in.
        if let Err(e) = open_url(app, &link) {
            tracing::warn!("could not open the browser: {e}");
        }
        return;
    }
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        // Not from inside this (menu, tray or single-instance) handler: creating a webview
        // there deadlocks on Windows.
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            if let Err(e) = create_window(&app) {
                tracing::warn!("could not open the window: {e}");
            }
        });
        return;
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

/// Creates the main window from `tauri.conf.json` (where it has `"create": false`): at start
/// unless `--hidden`, and whenever it is asked for after being closed. Closing destroys it, so
/// an app living in the tray keeps no web page (and no WebKit web process) around.
pub fn create_window<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .ok_or_else(|| tauri::Error::WindowNotFound)?
        .clone();
    WebviewWindowBuilder::from_config(app, &config)?.build()?;
    Ok(())
}

/// Asks the window to carry out `action` (it confirms with the user first): sent at once to a
/// window whose UI is up, otherwise kept until the UI reports ready.
pub fn ask_window<R: Runtime>(app: &AppHandle<R>, action: UiAction) {
    let Some(state) = app.try_state::<TrayState>() else {
        return;
    };
    let ui_up = app.get_webview_window(MAIN_WINDOW).is_some()
        && state.ui_ready.load(std::sync::atomic::Ordering::SeqCst);
    if ui_up {
        let _ = app.emit("ui-action", action);
    } else {
        state.defer_action(action);
    }
    show_window(app);
}

/// The opener plugin, or an error saying the desktop cannot open things (never a panic: the
/// headless and test builds of the app have no opener).
fn opener<R: Runtime>(
    app: &AppHandle<R>,
) -> Result<tauri::State<'_, tauri_plugin_opener::Opener<R>>, TrayError> {
    app.try_state::<tauri_plugin_opener::Opener<R>>()
        .ok_or_else(|| TrayError::Action {
            message: "this app cannot open files or links here (no desktop opener)".into(),
        })
}

pub fn open_url<R: Runtime>(app: &AppHandle<R>, url: &str) -> Result<(), TrayError> {
    opener(app)?
        .open_url(url, None::<&str>)
        .map_err(|e| TrayError::shell("open the browser", e))
}

pub fn open_path<R: Runtime>(app: &AppHandle<R>, path: &Path) -> Result<(), TrayError> {
    opener(app)?
        .open_path(path.to_string_lossy(), None::<&str>)
        .map_err(|e| TrayError::shell(&format!("open {}", path.display()), e))
}

/// The system's folder picker; `None` when cancelled.
pub async fn pick_folder<R: Runtime>(app: &AppHandle<R>) -> Result<Option<String>, TrayError> {
    use tauri_plugin_dialog::DialogExt as _;
    if app.try_state::<tauri_plugin_dialog::Dialog<R>>().is_none() {
        return Err(TrayError::Action {
            message: "this app cannot show a folder picker here; type the folder instead".into(),
        });
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("The YAM folder (the one holding app\\server.py)")
        .pick_folder(move |folder| {
            let _ = tx.send(folder.map(|f| f.to_string()));
        });
    Ok(rx.await.ok().flatten())
}

/// "Save as…": the system's save dialog, then `text` written to the chosen file. The path,
/// or `None` when cancelled.
pub async fn save_text<R: Runtime>(
    app: &AppHandle<R>,
    suggested_name: &str,
    text: String,
) -> Result<Option<String>, TrayError> {
    use tauri_plugin_dialog::DialogExt as _;
    if app.try_state::<tauri_plugin_dialog::Dialog<R>>().is_none() {
        return Err(TrayError::Action {
            message: "this app cannot show a save dialog here; use Copy instead".into(),
        });
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Save the log as")
        .set_file_name(suggested_name)
        .add_filter("Log", &["log", "txt"])
        .save_file(move |file| {
            let _ = tx.send(file.and_then(|f| f.into_path().ok()));
        });
    let Some(path) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let target = path.clone();
    tokio::task::spawn_blocking(move || std::fs::write(&target, text))
        .await
        .map_err(|e| TrayError::shell("save the log", e))?
        .map_err(|e| TrayError::shell(&format!("save the log to {}", path.display()), e))?;
    Ok(Some(path.display().to_string()))
}
