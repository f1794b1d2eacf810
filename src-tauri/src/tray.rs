//! The tray icon and its menu (desktop only). Menu ids come from one table.

use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use yam_supervisor::status::Status;

use crate::state::TrayState;
use crate::{icons, shell};

pub const TRAY_ID: &str = "main";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MenuId {
    OpenWindow,
    Start,
    Stop,
    Restart,
    MultipleSessions,
    ForceLogout,
    OpenInBrowser,
    OpenSessionsFolder,
    OpenLogs,
    StartAtLogin,
    Quit,
}

impl MenuId {
    pub const ALL: [MenuId; 11] = [
        MenuId::OpenWindow,
        MenuId::Start,
        MenuId::Stop,
        MenuId::Restart,
        MenuId::MultipleSessions,
        MenuId::ForceLogout,
        MenuId::OpenInBrowser,
        MenuId::OpenSessionsFolder,
        MenuId::OpenLogs,
        MenuId::StartAtLogin,
        MenuId::Quit,
    ];

    pub fn id(self) -> &'static str {
        match self {
            MenuId::OpenWindow => "open-window",
            MenuId::Start => "start",
            MenuId::Stop => "stop",
            MenuId::Restart => "restart",
            MenuId::MultipleSessions => "multiple-sessions",
            MenuId::ForceLogout => "force-logout",
            MenuId::OpenInBrowser => "open-in-browser",
            MenuId::OpenSessionsFolder => "open-sessions-folder",
            MenuId::OpenLogs => "open-logs",
            MenuId::StartAtLogin => "start-at-login",
            MenuId::Quit => "quit",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MenuId::OpenWindow => "Open window",
            MenuId::Start => "Start",
            MenuId::Stop => "Stop",
            MenuId::Restart => "Restart",
            MenuId::MultipleSessions => "Multiple sessions",
            MenuId::ForceLogout => "Force logout…",
            MenuId::OpenInBrowser => "Open in browser",
            MenuId::OpenSessionsFolder => "Open sessions folder",
            MenuId::OpenLogs => "Open logs",
            MenuId::StartAtLogin => "Start at login",
            MenuId::Quit => "Quit",
        }
    }

    pub fn parse(id: &str) -> Option<MenuId> {
        MenuId::ALL.into_iter().find(|m| m.id() == id)
    }
}

/// What the tray shows; compared so the tray is touched only when something changed
/// (uptime ticks every second, the tray need not).
#[derive(Clone, Debug, PartialEq)]
struct TrayView {
    tone: yam_supervisor::status::Tone,
    tooltip: String,
    running: bool,
    multiple: bool,
    can_toggle: bool,
    can_force_logout: bool,
    autostart: bool,
}

/// The items whose state follows the server's.
pub struct TrayMenu<R: Runtime> {
    shown: std::sync::Mutex<Option<TrayView>>,
    start: MenuItem<R>,
    stop: MenuItem<R>,
    restart: MenuItem<R>,
    multiple: CheckMenuItem<R>,
    force_logout: MenuItem<R>,
    start_at_login: CheckMenuItem<R>,
}

/// "YAM — Running — 12 sessions (5 users)"
pub fn tooltip(status: &Status) -> String {
    let c = &status.sessions;
    format!(
        "YAM — {} — {} session{} ({} user{})",
        status.phase_label,
        c.live,
        if c.live == 1 { "" } else { "s" },
        c.users,
        if c.users == 1 { "" } else { "s" }
    )
}

/// Why no tray icon can be shown here, when that is known before trying: on Linux the icon
/// is a D-Bus service (StatusNotifierItem), so a session without a session bus has none.
pub fn host_missing() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let address = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").filter(|v| !v.is_empty());
    let runtime_bus = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|dir| std::path::Path::new(&dir).join("bus"))
        .is_some_and(|bus| bus.exists());
    (address.is_none() && !runtime_bus).then(|| "this session has no D-Bus session bus".to_owned())
}

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let item = |m: MenuId| MenuItem::with_id(app, m.id(), m.label(), true, None::<&str>);
    let check =
        |m: MenuId| CheckMenuItem::with_id(app, m.id(), m.label(), true, false, None::<&str>);
    let sep = || PredefinedMenuItem::separator(app);
    let (open, start, stop, restart) = (
        item(MenuId::OpenWindow)?,
        item(MenuId::Start)?,
        item(MenuId::Stop)?,
        item(MenuId::Restart)?,
    );
    let (multiple, force_logout) = (check(MenuId::MultipleSessions)?, item(MenuId::ForceLogout)?);
    let (browser, folder, logs) = (
        item(MenuId::OpenInBrowser)?,
        item(MenuId::OpenSessionsFolder)?,
        item(MenuId::OpenLogs)?,
    );
    let (start_at_login, quit) = (check(MenuId::StartAtLogin)?, item(MenuId::Quit)?);
    let (s1, s2, s3, s4, s5) = (sep()?, sep()?, sep()?, sep()?, sep()?);
    let menu = Menu::with_items(
        app,
        &[
            &open,
            &s1,
            &start,
            &stop,
            &restart,
            &s2,
            &multiple,
            &force_logout,
            &s3,
            &browser,
            &folder,
            &logs,
            &s4,
            &start_at_login,
            &s5,
            &quit,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icons::image(yam_supervisor::status::Tone::Off))
        .tooltip("YAM")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                shell::show_window(tray.app_handle());
            }
        })
        .build(app)?;
    app.manage(TrayMenu {
        shown: std::sync::Mutex::new(None),
        start,
        stop,
        restart,
        multiple,
        force_logout,
        start_at_login,
    });
    Ok(())
}

/// Follows the status: icon colour, tooltip, which items make sense now.
pub fn update<R: Runtime>(app: &AppHandle<R>, status: &Status) {
    let caps = status.capabilities.as_ref();
    let view = TrayView {
        tone: status.tone,
        tooltip: tooltip(status),
        running: status.phase.has_process(),
        multiple: status.mode.multiple_sessions,
        can_toggle: caps.is_some_and(|c| c.toggle_multiple_sessions),
        can_force_logout: caps.is_some_and(|c| c.force_logout),
        autostart: status.settings.autostart,
    };
    let Some(menu) = app.try_state::<TrayMenu<R>>() else {
        return;
    };
    {
        let mut shown = menu.shown.lock().unwrap_or_else(|e| e.into_inner());
        if shown.as_ref() == Some(&view) {
            return;
        }
        *shown = Some(view.clone());
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_icon(Some(icons::image(view.tone)));
        let _ = tray.set_tooltip(Some(&view.tooltip));
    }
    let _ = menu.start.set_enabled(!view.running);
    let _ = menu.stop.set_enabled(view.running);
    let _ = menu.restart.set_enabled(true);
    let _ = menu.multiple.set_checked(view.multiple);
    let _ = menu.multiple.set_enabled(view.can_toggle);
    let _ = menu.force_logout.set_enabled(view.can_force_logout);
    let _ = menu.start_at_login.set_checked(view.autostart);
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(which) = MenuId::parse(id) else {
        return;
    };
    let Some(state) = app.try_state::<TrayState>() else {
        return;
    };
    let supervisor = state.supervisor.clone();
    let app = app.clone();
    match which {
        MenuId::OpenWindow => shell::show_window(&app),
        MenuId::Start => {
            spawn_reported(async move { supervisor.start(false).await.map(|()| String::new()) })
        }
        MenuId::Stop => {
            spawn_reported(async move { supervisor.stop().await.map(|()| String::new()) })
        }
        MenuId::Restart => {
            spawn_reported(async move { supervisor.restart(false).await.map(|()| String::new()) })
        }
        MenuId::MultipleSessions => {
            let on = !supervisor.status().mode.multiple_sessions;
            tauri::async_runtime::spawn(async move {
                if let Err(errors) = supervisor.set_multiple_sessions(on).await {
                    tracing::warn!(?errors, "could not change multiple sessions");
                }
            });
        }
        MenuId::ForceLogout => {
            // The window asks for confirmation, naming how many sessions will end.
            shell::ask_window(&app, crate::state::UiAction::ForceLogout);
        }
        MenuId::OpenInBrowser => {
            if let Err(e) = shell::open_url(&app, &supervisor.status().url) {
                tracing::warn!("{e}");
            }
        }
        MenuId::OpenSessionsFolder => {
            if let Some(dir) = supervisor
                .status()
                .sessions_dirs
                .into_iter()
                .find(|d| d.is_dir())
                && let Err(e) = shell::open_path(&app, &dir)
            {
                tracing::warn!("{e}");
            }
        }
        MenuId::OpenLogs => {
            if let Some(file) = supervisor.status().log_file
                && let Err(e) = shell::open_path(&app, &file)
            {
                tracing::warn!("{e}");
            }
        }
        MenuId::StartAtLogin => {
            let on = !supervisor.status().settings.autostart;
            tauri::async_runtime::spawn(async move {
                let _ = supervisor
                    .save_changes(vec![("autostart".into(), on.to_string())])
                    .await;
                crate::autostart::apply(&app, on);
            });
        }
        MenuId::Quit => crate::app::quit(&app),
    }
}

fn spawn_reported(
    action: impl Future<Output = Result<String, yam_supervisor::supervisor::ActionError>>
    + Send
    + 'static,
) {
    tauri::async_runtime::spawn(async move {
        if let Err(e) = action.await {
            tracing::warn!("tray action failed: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_are_unique_and_round_trip() {
        let mut ids: Vec<&str> = MenuId::ALL.iter().map(|m| m.id()).collect();
        for m in MenuId::ALL {
            assert_eq!(MenuId::parse(m.id()), Some(m));
            assert!(!m.label().is_empty());
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), MenuId::ALL.len());
        assert_eq!(MenuId::parse("nope"), None);
    }
}
