//! The commands through Tauri's IPC with the mock runtime (no display), against a real
//! supervisor running the real yam-server.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tauri::Manager;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use yam_supervisor::ctl::CtlPaths;
use yam_tray::app::{AppOptions, build_app};
use yam_tray::state::TrayState;

fn invoke(
    webview: &tauri::WebviewWindow<MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // The app's own origin (Linux and macOS; Windows uses http://tauri.localhost).
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().expect("json reply"))
}

fn wait_for(
    webview: &tauri::WebviewWindow<MockRuntime>,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let status = invoke(webview, "status", json!({})).expect("status");
        if done(&status) {
            return status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The app with the mock runtime, its supervisor on a free port (`settings` added to its
/// settings file), and the main window.
fn app_with(
    settings: &str,
) -> (
    tempfile::TempDir,
    tauri::App<MockRuntime>,
    tauri::WebviewWindow<MockRuntime>,
    u16,
) {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    let port = yam_testkit::free_port();
    yam_testkit::write_supervisor_settings(&config, port, settings).expect("settings");
    let options = AppOptions {
        paths: CtlPaths {
            config_dir: config,
            data_dir: dir.path().join("data"),
        },
        server_bin: yam_testkit::binary("yam-server"),
        desktop: false,
        hidden: false,
        browser: None,
    };
    let app = build_app(mock_builder(), yam_tray::context(), options).expect("app");
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("window");
    (dir, app, webview, port)
}

#[test]
fn commands_drive_the_supervisor() {
    let (_dir, app, webview, port) = app_with("");
    let running = wait_for(&webview, "running", |s| s["phase"]["phase"] == "running");
    assert_eq!(running["profile"], "embedded");
    assert!(running["capabilities"]["force_logout"] == true);

    let password = invoke(&webview, "first_run_password", json!({})).expect("password");
    assert_eq!(password["username"], "admin");
    let mut browser = yam_testkit::Client::new(&format!("http://127.0.0.1:{port}"));
    browser.login("admin", password["password"].as_str().expect("password"));
    wait_for(&webview, "one session", |s| s["sessions"]["live"] == 1);
    let list = invoke(&webview, "sessions", json!({})).expect("sessions");
    assert_eq!(
        (list["source"].clone(), list["total"].clone()),
        (json!("server"), json!(1))
    );

    let bad = invoke(
        &webview,
        "save_settings",
        json!({ "changes": { "port": "x" } }),
    )
    .expect_err("invalid");
    assert_eq!(bad["kind"], "settings");
    assert_eq!(bad["errors"][0]["field"], "port");
    let bad =
        invoke(&webview, "revoke_session", json!({ "key": "../../etc" })).expect_err("invalid key");
    assert!(
        bad["message"]
            .as_str()
            .expect("message")
            .contains("hexadecimal")
    );

    let saved = invoke(&webview, "set_multiple_sessions", json!({ "on": false })).expect("toggle");
    assert_eq!(saved["restarted"], true);
    wait_for(&webview, "single mode running", |s| {
        s["phase"]["phase"] == "running" && s["mode"]["multiple_sessions"] == false
    });
    assert_eq!(
        browser.get("/api/session/time-remaining").status,
        200,
        "sessions survive a mode toggle"
    );

    let ended = invoke(&webview, "force_logout", json!({})).expect("force logout");
    assert!(
        ended["message"]
            .as_str()
            .expect("message")
            .contains("Ended 1 session")
    );
    invoke(&webview, "stop", json!({})).expect("stop");
    wait_for(&webview, "stopped", |s| s["phase"]["phase"] == "stopped");
    let logs = invoke(&webview, "logs", json!({ "since": 0 })).expect("logs");
    assert!(
        logs["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .any(|l| l["text"] == "Server stopped")
    );
    // The tray's "Force logout…" opened the window: the UI takes the action once, when ready.
    let state = app.state::<TrayState>();
    state.defer_action(yam_tray::state::UiAction::ForceLogout);
    let pending = invoke(&webview, "ui_ready", json!({})).expect("ui_ready");
    assert_eq!(pending, json!("force-logout"));
    assert!(state.ui_ready.load(std::sync::atomic::Ordering::SeqCst));
    let again = invoke(&webview, "ui_ready", json!({})).expect("ui_ready");
    assert_eq!(again, json!(null), "an action is carried out once");
    tauri::async_runtime::block_on(state.supervisor.shutdown());
}

/// Item 13: the window may call the app's own commands and listen to events, nothing else
/// of Tauri's core (it was granted all of `core:default`).
#[test]
fn the_window_gets_only_what_the_ui_uses() {
    let (_dir, app, webview, _port) = app_with("start_on_launch = false\n");
    // Every command the app registers is allowed (an error for other reasons is fine here).
    for cmd in yam_tray::commands::names() {
        // `open_url` with an address it refuses before opening anything.
        let args = if cmd == "open_url" {
            json!({ "url": "file:///etc/passwd" })
        } else {
            json!({})
        };
        if let Err(e) = invoke(&webview, cmd, args) {
            assert!(
                !e.to_string().contains("not allowed"),
                "{cmd} is refused by the capability: {e}"
            );
        }
    }
    assert!(invoke(&webview, "logs", json!({ "since": 0 })).is_ok());
    assert!(
        invoke(
            &webview,
            "plugin:event|listen",
            json!({ "event": "status", "target": { "kind": "Any" }, "handler": 7 })
        )
        .is_ok(),
        "the UI listens to status events"
    );
    for (cmd, args) in [
        ("plugin:app|version", json!({})),
        ("plugin:app|name", json!({})),
        ("plugin:window|title", json!({ "label": "main" })),
        ("plugin:webview|get_all_webviews", json!({})),
        (
            "plugin:event|emit",
            json!({ "event": "status", "payload": null }),
        ),
        ("plugin:path|resolve_directory", json!({ "directory": 1 })),
    ] {
        assert!(
            invoke(&webview, cmd, args).is_err(),
            "the window may call {cmd}"
        );
    }
    tauri::async_runtime::block_on(app.state::<TrayState>().supervisor.shutdown());
}
