//! Building the app: commands, managed state, the supervisor, the tray, window behaviour.
//! Generic over the runtime so tests can use `tauri::test::mock_builder()`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use tauri::{App, AppHandle, Builder, Context, Manager, Runtime, WindowEvent};
use yam_supervisor::ctl::CtlPaths;
use yam_supervisor::supervisor::{Options, Supervisor};

use crate::state::TrayState;
use crate::{commands, events};

pub struct AppOptions {
    pub paths: CtlPaths,
    pub server_bin: PathBuf,
    /// Tray, notifications and autostart (not in tests).
    pub desktop: bool,
    /// Start with the window hidden (in the tray only).
    pub hidden: bool,
    /// Show the dashboard in the browser instead of a window, and why.
    pub browser: Option<crate::browser::BrowserReason>,
}

pub fn build_app<R: Runtime>(
    builder: Builder<R>,
    context: Context<R>,
    options: AppOptions,
) -> tauri::Result<App<R>> {
    let AppOptions {
        paths,
        server_bin,
        desktop,
        hidden,
        browser,
    } = options;
    // Built first: plugins initialise here, so a second launch hands over to the first
    // (single-instance) before it could touch the supervisor's lock.
    let app = builder
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::sessions,
            commands::history,
            commands::users,
            commands::add_user,
            commands::update_user,
            commands::remove_user,
            commands::start,
            commands::stop,
            commands::restart,
            commands::force_logout,
            commands::revoke_session,
            commands::save_settings,
            commands::set_multiple_sessions,
            commands::logs,
            commands::first_run_password,
            commands::dismiss_first_run_password,
            commands::pick_folder,
            commands::save_log,
            commands::check_yam_folder,
            commands::open_url,
            commands::open_logs,
            commands::open_sessions_folder,
            commands::ui_ready,
        ])
        .setup(move |app| {
            // Desktop parts need the running event loop.
            if desktop {
                // No tray host (a Linux session without D-Bus, some desktops): the window is
                // the way in, and closing it quits. One line says so, instead of the tray
                // libraries' warnings about a bus nobody can start from here.
                let no_tray = match crate::tray::host_missing() {
                    Some(why) => Err(why),
                    None => crate::tray::create(app.handle()).map_err(|e| e.to_string()),
                };
                if let Err(why) = no_tray {
                    println!("No tray icon ({why}): closing the window quits YAM Tray.");
                    app.state::<TrayState>()
                        .no_tray
                        .store(true, Ordering::SeqCst);
                }
                let autostart = app
                    .state::<TrayState>()
                    .supervisor
                    .status()
                    .settings
                    .autostart;
                crate::autostart::apply(app.handle(), autostart);
                quit_on_terminate(app.handle().clone());
                match browser {
                    Some(reason) => crate::browser::start(app.handle(), reason, hidden),
                    None if !hidden => crate::shell::create_window(app.handle())?,
                    None => {}
                }
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window destroys it (the app and the server stay in the tray; see
            // shell::create_window); the next window's UI reports ready again.
            if let WindowEvent::Destroyed = event
                && let Some(state) = window.app_handle().try_state::<TrayState>()
            {
                state.ui_ready.store(false, Ordering::SeqCst);
                if !state.is_quitting() {
                    tracing::info!("Window closed; YAM keeps running in the tray");
                }
            }
        })
        .build(context)?;
    let supervisor_options = Options::new(
        paths.config_dir.clone(),
        paths.data_dir.clone(),
        server_bin,
        "yam-tray",
    );
    // The supervisor lives on Tauri's Tokio runtime and starts before the window loads, so
    // the first status the window asks for is real.
    let (supervisor, _driver) =
        tauri::async_runtime::block_on(async { Supervisor::launch(supervisor_options) })
            .map_err(|e| tauri::Error::Anyhow(e.into()))?;
    app.manage(TrayState::new(supervisor.clone(), paths));
    if desktop {
        // A terminal start (`cargo xtask run`) is told where YAM is and where the password is.
        tauri::async_runtime::spawn(yam_supervisor::announce::when_running(supervisor.clone()));
    }
    events::forward(app.handle().clone(), supervisor, desktop);
    Ok(app)
}

/// Quit: stop the server gracefully, then exit. The server never outlives the app.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    let Some(state) = app.try_state::<TrayState>() else {
        app.exit(0);
        return;
    };
    if state.quitting.swap(true, Ordering::SeqCst) {
        return;
    }
    let supervisor = state.supervisor.clone();
    let quit_signal = state.quit_signal.clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tracing::info!("Quit: stopping the server");
        supervisor.shutdown().await;
        quit_signal.notify_one();
        app.exit(0);
    });
}

/// SIGTERM (a logout, `kill`) and SIGINT (Ctrl-C in the terminal of `cargo xtask run`) quit
/// the same way as the menu: the server is stopped gracefully first.
fn quit_on_terminate<R: Runtime>(app: AppHandle<R>) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        quit(&app);
    });
    #[cfg(not(unix))]
    let _ = app;
}

/// Whether the app may exit now (Quit was chosen), or keeps running in the tray.
/// Without a tray icon the last window closing is the admin's way to quit.
pub fn closing_quits<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<TrayState>()
        .is_some_and(|s| s.no_tray.load(Ordering::SeqCst))
}

pub fn may_exit<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<TrayState>().is_none_or(|s| s.is_quitting())
}
