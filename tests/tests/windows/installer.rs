//! The NSIS installer (`cargo xtask dist --debug`) under Wine: a silent install per user
//! (no admin rights) into %LOCALAPPDATA%\Programs\YAM Tray with a Start menu shortcut; the
//! installed yam-tray.exe starts and its server is healthy; a silent uninstall removes the
//! program and the shortcut and keeps the data.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use yam_testkit::{Display, KnownFolder, WinFolder, Wine, processes_in, wait_until};

use crate::healthy;

/// What the installer installs (besides its Uninstall.exe).
const INSTALLED: [&str; 7] = [
    "yam-tray.exe",
    "yam-server.exe",
    "yamctl.exe",
    "WebView2Loader.dll",
    "README.txt",
    "LICENSE.txt",
    "THIRD-PARTY-NOTICES.txt",
];

/// The installer of `$YAM_DIST_DIR` (made by `cargo xtask test`), else made now.
fn setup_exe() -> PathBuf {
    let dir = std::env::var_os("YAM_DIST_DIR").map_or_else(
        || {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let status = std::process::Command::new(
                std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            )
            .args(["xtask", "dist", "--debug"])
            .current_dir(&root)
            .status()
            .expect("cargo xtask dist");
            assert!(status.success(), "cargo xtask dist --debug failed");
            root.join("target/dist")
        },
        PathBuf::from,
    );
    std::fs::read_dir(&dir)
        .expect("the dist folder")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-setup.exe"))
        .expect("an installer in the dist folder")
}

#[test]
fn wine_the_installer_installs_runs_and_uninstalls() {
    let wine = Wine::desktop();
    let program_dir = wine
        .user_folder(KnownFolder::LocalAppData)
        .join("Programs/YAM Tray");
    let data_dir = wine.user_folder(KnownFolder::LocalAppData).join("YAM");
    let config_dir = wine.user_folder(KnownFolder::RoamingAppData).join("YAM");
    let shortcut = wine
        .user_folder(KnownFolder::StartMenuPrograms)
        .join("YAM Tray.lnk");
    // A machine where YAM Tray was never installed (the prefix outlives test runs).
    for dir in [&program_dir, &data_dir, &config_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_file(&shortcut);

    let folder = wine.folder("installer");
    std::fs::copy(setup_exe(), folder.path("setup.exe")).expect("copy the installer");
    // On the display too: the first program in the desktop prefix starts its desktop, and one
    // started without a display leaves later programs (the tray test's) unable to make windows.
    let display = Display::start().unwrap_or_else(|e| panic!("{e}"));
    let out = wine
        .command(&folder, "setup.exe")
        .arg("/S")
        .envs(display.env())
        .output()
        .expect("setup.exe /S");
    assert!(out.status.success(), "silent install failed: {out:?}");
    for file in INSTALLED.iter().chain(&["Uninstall.exe"]) {
        assert!(program_dir.join(file).is_file(), "{file} was not installed");
    }
    assert!(
        !program_dir.join("bcryptprimitives.dll").exists(),
        "the test shim was installed"
    );
    assert!(shortcut.is_file(), "no Start menu shortcut");

    // The installed app, as the shortcut starts it (its settings in %APPDATA%\YAM\config).
    let port = yam_testkit::free_port();
    yam_testkit::write_supervisor_settings(&config_dir.join("config"), port, "").expect("settings");
    let installed = WinFolder {
        linux: program_dir.clone(),
        windows: "C:\\users\\root\\AppData\\Local\\Programs\\YAM Tray".into(),
    };
    let browser = tempfile::tempdir().expect("tmp");
    std::fs::write(browser.path().join("xdg-open"), "#!/bin/sh\nexit 0\n").expect("xdg-open");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            browser.path().join("xdg-open"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }
    let mut tray = wine
        .command(&installed, "yam-tray.exe")
        .envs(display.env())
        .env(
            "PATH",
            format!(
                "{}:{}",
                browser.path().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the installed yam-tray.exe");
    let output = yam_testkit::capture_output(&mut tray);
    let url = format!("http://127.0.0.1:{port}");
    assert!(
        wait_until(Duration::from_secs(90), || healthy(&url)),
        "the installed app's server never became healthy:\n{}",
        output.lock().expect("output")
    );
    assert!(
        data_dir.join("data/users.db").is_file(),
        "no data in %LOCALAPPDATA%\\YAM"
    );
    tray.kill().expect("end the app");
    tray.wait().expect("wait");
    assert!(wait_until(Duration::from_secs(15), || processes_in(
        &installed
    )
    .is_empty()));

    // Silent uninstall: program and shortcut gone, data kept.
    let out = wine
        .command(&installed, "Uninstall.exe")
        .arg("/S")
        .output()
        .expect("Uninstall.exe /S");
    assert!(out.status.success(), "silent uninstall failed: {out:?}");
    assert!(
        wait_until(Duration::from_secs(30), || !program_dir.exists()),
        "the program folder is still there: {:?}",
        std::fs::read_dir(&program_dir)
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    assert!(!shortcut.exists(), "the shortcut is still there");
    assert!(
        data_dir.join("data/users.db").is_file(),
        "the uninstaller deleted the data"
    );
    assert!(config_dir.join("config/settings.toml").is_file());
}
