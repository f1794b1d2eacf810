//! Status changes go to the window (`status` events), the tray, and notifications.

use tauri::{AppHandle, Emitter, Runtime};
use tauri_plugin_notification::NotificationExt;
use yam_supervisor::status::Status;
use yam_supervisor::supervisor::Supervisor;

pub fn forward<R: Runtime>(app: AppHandle<R>, supervisor: Supervisor, desktop: bool) {
    tauri::async_runtime::spawn(async move {
        let mut rx = supervisor.subscribe();
        let mut last_notice = rx.borrow().notice.as_ref().map(|n| n.seq);
        loop {
            let status: Status = rx.borrow_and_update().clone();
            // A closed window is destroyed, so an existing one is open and gets every change.
            let _ = app.emit("status", &status);
            if desktop {
                crate::tray::update(&app, &status);
                if let Some(n) = &status.notice
                    && Some(n.seq) != last_notice
                    && n.news
                {
                    // News only: a repeat crash of the same episode updates the window.
                    notify(&app, &n.message);
                }
            }
            last_notice = status.notice.as_ref().map(|n| n.seq);
            if rx.changed().await.is_err() {
                break;
            }
        }
    });
}

/// One desktop notification (a warning in the log where the system shows none).
pub fn notify<R: Runtime>(app: &AppHandle<R>, message: &str) {
    if let Err(e) = app
        .notification()
        .builder()
        .title("YAM")
        .body(message)
        .show()
    {
        tracing::warn!("could not show a notification ({e}): {message}");
    }
}
