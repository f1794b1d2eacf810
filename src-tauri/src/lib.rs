//! YAM Tray: the supervisor in-process, a tray icon whose colour shows the server's state,
//! and a window with the dashboard (`ui/`). Headless (no display, or `--headless`) it runs
//! the same supervisor and dashboard as `yamctl up`.

pub mod app;
pub mod autostart;
pub mod browser;
pub mod commands;
pub mod error;
pub mod events;
pub mod icons;
pub mod shell;
pub mod state;
pub mod tray;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tauri::RunEvent;
use yam_supervisor::ctl::{CtlPaths, DEFAULT_LISTEN};

#[derive(Debug, Parser)]
#[command(
    name = "yam-tray",
    version,
    about = "Runs and watches a YAM server from the tray"
)]
pub struct Args {
    /// No window or tray: the supervisor and the web dashboard, as `yamctl up`.
    #[arg(long)]
    pub headless: bool,
    /// Folder for settings and data (tests, portable use).
    #[arg(long, env = "YAM_CONFIG_DIR", value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Start in the tray with the window hidden (how "Start at login" launches it).
    #[arg(long)]
    pub hidden: bool,
    /// Show the dashboard in the default browser instead of the app window (automatic where
    /// the system has no webview runtime, e.g. Windows without WebView2).
    #[arg(long)]
    pub browser: bool,
    /// Dashboard address in headless mode.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
}

/// A display to open windows on (always, except a Linux session without X11 or Wayland).
pub fn display_available() -> bool {
    if cfg!(target_os = "linux") {
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    } else {
        true
    }
}

/// WebKitGTK's GPU compositing paints nothing but the page background on displays without
/// acceleration (VMs, RDP, Xvfb); a small admin window renders fine in software. With the
/// page painted in software nothing in our process draws with OpenGL, so GDK is also told not
/// to probe GLX when it opens the display: that probe alone loads Mesa and LLVM (~50 MB of
/// RSS measured under Xvfb) into an app that mostly sits in the tray. Either variable set by
/// the user wins.
fn prefer_software_rendering() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        #[allow(unsafe_code)]
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe {
            std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
            if std::env::var_os("GDK_GL").is_none() {
                std::env::set_var("GDK_GL", "disable");
            }
        }
    }
}

pub fn main_entry() -> ExitCode {
    prefer_software_rendering();
    let args = Args::parse();
    yam_supervisor::logs::init_process_logging();
    let result = CtlPaths::resolve(args.config.as_deref()).and_then(|paths| {
        if args.headless || !display_available() {
            tracing::info!(
                "No display (or --headless): running the supervisor and the web dashboard"
            );
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(yam_supervisor::ctl::up::run(paths, &args.listen, None))
        } else {
            run_desktop(paths, args.hidden, args.browser)
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The app's generated context (config, assets = `ui/`, permissions), for any runtime.
pub fn context<R: tauri::Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

fn run_desktop(paths: CtlPaths, hidden: bool, browser: bool) -> anyhow::Result<()> {
    let browser = match browser::webview_missing() {
        Some(why) => {
            tracing::warn!("No webview runtime ({why}): the dashboard opens in the browser");
            Some(browser::BrowserReason::NoWebView(why))
        }
        None => browser.then_some(browser::BrowserReason::Asked),
    };
    let builder = tauri::Builder::default()
        // First: a second launch only shows the running app's window.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("Another launch: showing the window");
            shell::show_window(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init());
    let options = app::AppOptions {
        paths,
        server_bin: yam_supervisor::ctl::server_binary(),
        desktop: true,
        hidden,
        browser,
    };
    let app = app::build_app(builder, context(), options)?;
    app.run(|handle, event| {
        if let RunEvent::ExitRequested { api, code, .. } = event {
            // The last window closing is not a reason to stop: the tray keeps the server.
            if code.is_none() && !app::may_exit(handle) {
                api.prevent_exit();
                if app::closing_quits(handle) {
                    // Stops the server gracefully first, then exits.
                    app::quit(handle);
                }
            }
        }
    });
    Ok(())
}
