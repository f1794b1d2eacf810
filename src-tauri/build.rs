// The app's commands get permissions (`allow-<command>`) that the window's capability names
// one by one: with an app manifest, a command not listed in a capability cannot be called.
// The list is the `generate_handler!` list of `app.rs`; it is also exported to the crate
// (`commands::NAMES`) so the ACL test calls each name.
const COMMANDS: &[&str] = &[
    "status",
    "sessions",
    "history",
    "users",
    "add_user",
    "update_user",
    "remove_user",
    "start",
    "stop",
    "restart",
    "force_logout",
    "revoke_session",
    "save_settings",
    "set_multiple_sessions",
    "logs",
    "first_run_password",
    "dismiss_first_run_password",
    "pick_folder",
    "save_log",
    "check_yam_folder",
    "open_url",
    "open_logs",
    "open_sessions_folder",
    "ui_ready",
];

fn main() {
    println!("cargo:rustc-env=YAM_TRAY_COMMANDS={}", COMMANDS.join(","));
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build: {e:#}");
    }
}
