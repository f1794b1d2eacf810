//! Tauri commands: thin calls into the supervisor, answering the same JSON as `yamctl up`.

use serde_json::{Value, json};
use tauri::{AppHandle, Runtime, State};
use yam_supervisor::history::{Series, Span};
use yam_supervisor::status::{SessionList, Status};
use yam_supervisor::users::{NewUser, UserChanged, UserPatch};

use crate::error::TrayError;
use crate::state::TrayState;

type Reply = Result<Value, TrayError>;

/// The names of the commands the window may call (the list `build.rs` gives the app manifest).
pub fn names() -> impl Iterator<Item = &'static str> {
    env!("YAM_TRAY_COMMANDS").split(',')
}

fn ok(message: impl Into<String>) -> Reply {
    Ok(json!({ "ok": true, "message": message.into() }))
}

#[tauri::command]
pub fn status(state: State<'_, TrayState>) -> Status {
    state.supervisor.status()
}

#[tauri::command]
pub async fn sessions(state: State<'_, TrayState>) -> Result<SessionList, TrayError> {
    Ok(state.supervisor.sessions().await?)
}

/// The load history for the chart (`day` or `week`).
#[tauri::command]
pub async fn history(state: State<'_, TrayState>, span: Span) -> Result<Series, TrayError> {
    Ok(state.supervisor.history(span).await?)
}

#[tauri::command]
pub async fn users(state: State<'_, TrayState>) -> Result<Value, TrayError> {
    let users = state.supervisor.users().await?;
    Ok(json!({ "ok": true, "users": users }))
}

#[tauri::command]
pub async fn add_user(
    state: State<'_, TrayState>,
    user: NewUser,
) -> Result<UserChanged, TrayError> {
    Ok(state.supervisor.add_user(&user).await?)
}

#[tauri::command]
pub async fn update_user(
    state: State<'_, TrayState>,
    name: String,
    patch: UserPatch,
) -> Result<UserChanged, TrayError> {
    Ok(state.supervisor.update_user(&name, &patch).await?)
}

#[tauri::command]
pub async fn remove_user(
    state: State<'_, TrayState>,
    name: String,
) -> Result<UserChanged, TrayError> {
    Ok(state.supervisor.remove_user(&name).await?)
}

#[tauri::command]
pub async fn start(state: State<'_, TrayState>, clear: Option<bool>) -> Reply {
    state.supervisor.start(clear.unwrap_or(false)).await?;
    ok("Starting the server…")
}

#[tauri::command]
pub async fn stop(state: State<'_, TrayState>) -> Reply {
    state.supervisor.stop().await?;
    ok("Stopping the server…")
}

#[tauri::command]
pub async fn restart(state: State<'_, TrayState>, clear: Option<bool>) -> Reply {
    let clear = clear.unwrap_or(false);
    state.supervisor.restart(clear).await?;
    ok(if clear {
        "Restarting and logging everyone out…"
    } else {
        "Restarting the server…"
    })
}

#[tauri::command]
pub async fn force_logout(state: State<'_, TrayState>) -> Reply {
    ok(state.supervisor.force_logout().await?)
}

#[tauri::command]
pub async fn revoke_session(state: State<'_, TrayState>, key: String) -> Reply {
    ok(state.supervisor.revoke(&key).await?)
}

#[tauri::command]
pub async fn save_settings(state: State<'_, TrayState>, changes: Value) -> Reply {
    let changes =
        yam_supervisor::control::changes_of(&changes).ok_or_else(|| TrayError::Action {
            message: "settings must be an object".into(),
        })?;
    let saved = state.supervisor.save_changes(changes).await?;
    Ok(json!({ "ok": true, "message": saved.message, "restarted": saved.restarted }))
}

#[tauri::command]
pub async fn set_multiple_sessions(state: State<'_, TrayState>, on: bool) -> Reply {
    let saved = state.supervisor.set_multiple_sessions(on).await?;
    Ok(json!({ "ok": true, "message": saved.message, "restarted": saved.restarted }))
}

#[tauri::command]
pub fn logs(state: State<'_, TrayState>, since: Option<u64>) -> Value {
    json!({ "lines": state.supervisor.log().since(since.unwrap_or(0)) })
}

#[tauri::command]
pub fn first_run_password(state: State<'_, TrayState>) -> Reply {
    match yam_supervisor::first_run::read(&state.paths.data_dir) {
        Some(password) => Ok(json!({ "ok": true, "username": "admin", "password": password })),
        None => Err(TrayError::Action {
            message: "There is no first-run password to show.".into(),
        }),
    }
}

#[tauri::command]
pub async fn dismiss_first_run_password(state: State<'_, TrayState>) -> Reply {
    yam_supervisor::first_run::dismiss(&state.paths.data_dir)
        .map_err(|e| TrayError::shell("record it", e))?;
    state.supervisor.refresh().await;
    ok("The first-run password will not be shown again.")
}

/// "Connect my YAM": the system's folder picker (desktop only); `None` when cancelled.
#[tauri::command]
pub async fn pick_folder<R: Runtime>(app: AppHandle<R>) -> Result<Option<String>, TrayError> {
    crate::shell::pick_folder(&app).await
}

/// "Save as…" for the log lines the window shows; the path saved to, `None` when cancelled.
#[tauri::command]
pub async fn save_log<R: Runtime>(
    app: AppHandle<R>,
    suggested_name: String,
    text: String,
) -> Result<Option<String>, TrayError> {
    crate::shell::save_text(&app, &suggested_name, text).await
}

/// What the tray could do with a YAM folder, before anything is saved.
#[tauri::command]
pub async fn check_yam_folder(
    state: State<'_, TrayState>,
    path: String,
) -> Result<yam_supervisor::yam_folder::FolderCheck, TrayError> {
    let python = state.supervisor.status().settings.python;
    Ok(
        yam_supervisor::yam_folder::check(std::path::Path::new(path.trim()), python.as_deref())
            .await,
    )
}

#[tauri::command]
pub fn open_url<R: Runtime>(app: AppHandle<R>, url: String) -> Reply {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(TrayError::Action {
            message: "only web addresses can be opened".into(),
        });
    }
    crate::shell::open_url(&app, &url)?;
    ok("Opened in the browser.")
}

#[tauri::command]
pub fn open_logs<R: Runtime>(app: AppHandle<R>, state: State<'_, TrayState>) -> Reply {
    let file = state
        .supervisor
        .status()
        .log_file
        .filter(|f| f.is_file())
        .ok_or_else(|| TrayError::Action {
            message: "there is no log file yet: the server has not written one".into(),
        })?;
    crate::shell::open_path(&app, &file)?;
    ok("Opened the log file.")
}

#[tauri::command]
pub fn open_sessions_folder<R: Runtime>(app: AppHandle<R>, state: State<'_, TrayState>) -> Reply {
    let dir = state
        .supervisor
        .status()
        .sessions_dirs
        .into_iter()
        .find(|d| d.is_dir())
        .ok_or_else(|| TrayError::Action {
            message: "this profile has no sessions folder".into(),
        })?;
    crate::shell::open_path(&app, &dir)?;
    ok("Opened the sessions folder.")
}

/// The window's UI loaded and rendered its first status (the desktop smoke test waits for it).
/// Returns the tray menu's action that opened the window, if one is waiting.
#[tauri::command]
pub fn ui_ready(state: State<'_, TrayState>) -> Option<crate::state::UiAction> {
    if !state
        .ui_ready
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        tracing::info!("UI ready");
    }
    state.take_pending_action()
}
