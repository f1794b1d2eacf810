//! The real yam-tray under Xvfb: the embedded server becomes healthy, the window's UI reports
//! ready, a screenshot is not blank, a second launch hands over to the first, and neither
//! SIGTERM nor kill -9 leaves a server behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use yam_testkit::{Display, process_alive, wait_until};

/// A private X server and session bus (single-instance needs one on Linux).
fn display() -> Display {
    Display::start()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_session_bus()
}

struct Tray {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Tray {
    fn output(&self) -> String {
        self.output.lock().expect("lock").clone()
    }

    /// Waits up to `secs` for `text` to appear in the app's output.
    fn logs(&self, text: &str, secs: u64) -> bool {
        wait_until(Duration::from_secs(secs), || self.output().contains(text))
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tray_bin() -> PathBuf {
    yam_testkit::binary("yam-tray")
}

fn launch(display: &Display, config: &Path) -> Tray {
    launch_with(display, config, &[])
}

/// A second launch with the same config: it hands over to the running app and exits.
fn launch_second(display: &Display, config: &Path) -> Tray {
    let mut second = launch(display, config);
    assert!(
        yam_testkit::exits_within(&mut second.child, Duration::from_secs(30)),
        "the second launch kept running"
    );
    second
}

fn launch_with(display: &Display, config: &Path, args: &[&str]) -> Tray {
    spawn(&mut tray_command(display, config, args))
}

/// yam-tray on `display` with `config`, its output piped; a test may change its environment.
fn tray_command(display: &Display, config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(tray_bin());
    command
        .arg("--config")
        .arg(config)
        .args(args)
        // The app's own rendering choices, not the caller's.
        .env_remove("GDK_GL")
        .env_remove("WEBKIT_DISABLE_COMPOSITING_MODE")
        .envs(display.env())
        .env("YAM_SERVER_BIN", yam_testkit::binary("yam-server"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn spawn(command: &mut Command) -> Tray {
    let mut child = command.spawn().expect("yam-tray");
    let output = yam_testkit::capture_output(&mut child);
    Tray { child, output }
}

/// The app exits within 30 s (`why` says what should have made it) and its server within 5 s
/// after it.
fn quits_with_its_server(tray: &mut Tray, server: u32, why: &str) {
    assert!(
        yam_testkit::exits_within(&mut tray.child, Duration::from_secs(30)),
        "{why}:\n{}",
        tray.output()
    );
    assert!(
        wait_until(Duration::from_secs(5), || !process_alive(server)),
        "the server outlived the app"
    );
}

fn server_pid(data: &Path) -> Option<u32> {
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("supervisor.json")).ok()?).ok()?;
    lock["server_pid"].as_u64().map(|p| p as u32)
}

fn healthy(port: u16) -> bool {
    reqwest::blocking::get(format!("http://127.0.0.1:{port}/api/health"))
        .is_ok_and(|r| r.status().as_u16() == 200)
}

fn setup(dir: &Path) -> (PathBuf, u16) {
    let config = dir.join("config");
    let port = yam_testkit::free_port();
    yam_testkit::write_supervisor_settings(&config, port, "").expect("settings");
    (config, port)
}

/// Colours in a screenshot (a blank or black window has one or two).
fn colours(png: &Path) -> usize {
    let out = Command::new("/usr/bin/convert")
        .arg(png)
        .args(["-format", "%k", "info:"])
        .output()
        .expect("convert");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn the_tray_app_runs_the_server_shows_the_ui_and_cleans_up() {
    let display = display();
    let dir = tempfile::tempdir().expect("tmp");
    let (config, port) = setup(dir.path());
    let started = std::time::Instant::now();
    let mut first = launch(&display, &config);
    assert!(
        wait_until(Duration::from_secs(60), || healthy(port)),
        "server not healthy:\n{}",
        first.output()
    );
    println!("server healthy after {:?}", started.elapsed());
    assert!(
        first.logs("UI ready", 60),
        "the UI never reported ready:\n{}",
        first.output()
    );
    println!("UI ready after {:?}", started.elapsed());
    // The terminal that started it is told where YAM is (this test's settings: this computer).
    let said = format!("YAM is at http://127.0.0.1:{port} (only this computer");
    assert!(first.logs(&said, 30), "{}", first.output());
    assert!(
        !first.output().contains("No tray icon"),
        "{}",
        first.output()
    );
    std::thread::sleep(Duration::from_secs(1));

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/tray");
    std::fs::create_dir_all(&artifacts).expect("mkdir");
    let shot = artifacts.join("window.png");
    let status = Command::new("import")
        .args(["-window", "root"])
        .arg(&shot)
        .envs(display.env())
        .status()
        .expect("import (imagemagick)");
    assert!(status.success());
    let n = colours(&shot);
    assert!(
        n > 50,
        "the screenshot looks blank ({n} colours): {}",
        shot.display()
    );
    println!("screenshot: {} ({n} colours)", shot.display());
    // The window alone, at its default size (no window manager: it sits at the top left):
    // the picture the README shows (docs/window.png is copied from it).
    let window_shot = artifacts.join("window-900x600.png");
    let cropped = Command::new("/usr/bin/convert")
        .arg(&shot)
        .args(["-crop", "900x600+0+0", "+repage"])
        .arg(&window_shot)
        .status()
        .expect("convert");
    assert!(cropped.success());
    assert!(colours(&window_shot) > 50, "{}", window_shot.display());

    // A second launch hands over to the first and exits.
    launch_second(&display, &config);
    assert!(
        first.logs("Another launch: showing the window", 10),
        "{}",
        first.output()
    );
    assert!(
        first.child.try_wait().expect("wait").is_none(),
        "the first instance exited"
    );

    // SIGTERM quits gracefully: the server is stopped first.
    let server = server_pid(&dir.path().join("config/data")).expect("server pid in the lock file");
    assert!(process_alive(server));
    assert!(yam_testkit::signal(first.child.id(), "TERM"), "kill -TERM");
    quits_with_its_server(&mut first, server, "yam-tray did not exit");
    assert!(first.output().contains("Quit: stopping the server"));
}

#[test]
fn kill_9_of_the_tray_app_takes_the_server_with_it() {
    let display = display();
    let dir = tempfile::tempdir().expect("tmp");
    let (config, port) = setup(dir.path());
    let mut tray = launch(&display, &config);
    assert!(
        wait_until(Duration::from_secs(60), || healthy(port)),
        "server not healthy:\n{}",
        tray.output()
    );
    let server = server_pid(&dir.path().join("config/data")).expect("server pid");
    tray.child.kill().expect("kill -9");
    tray.child.wait().expect("wait");
    assert!(
        wait_until(Duration::from_secs(10), || !process_alive(server)),
        "the server outlived a killed app"
    );
}

/// WebKit's web-content processes of the app (one per open page).
fn web_processes(app: u32) -> Vec<(u32, String)> {
    yam_testkit::child_processes(app)
        .into_iter()
        .filter(|(_, name)| name.starts_with("WebKitWebProces"))
        .collect()
}

#[test]
fn started_hidden_it_keeps_no_web_page_until_the_window_is_asked_for() {
    let display = display();
    let dir = tempfile::tempdir().expect("tmp");
    let (config, port) = setup(dir.path());
    let first = launch_with(&display, &config, &["--hidden"]);
    assert!(
        wait_until(Duration::from_secs(60), || healthy(port)),
        "server not healthy:\n{}",
        first.output()
    );
    // Time enough for a page to have loaded, were there one.
    std::thread::sleep(Duration::from_secs(3));
    let pid = first.child.id();
    assert_eq!(web_processes(pid), vec![], "a hidden app runs no web page");
    // Nothing in our process draws with OpenGL, so no GL driver is loaded (GDK's GLX probe
    // alone would map Mesa and LLVM, ~50 MB).
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
    let gl: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| path.ends_with("_dri.so") || path.contains("libLLVM"))
        .collect();
    assert!(gl.is_empty(), "GL driver loaded: {gl:?}");
    assert!(!first.output().contains("UI ready"));

    // A second launch asks for the window: it is created, and its UI comes up.
    launch_second(&display, &config);
    assert!(
        first.logs("UI ready", 60),
        "the window was not created:\n{}",
        first.output()
    );
    assert!(
        !web_processes(pid).is_empty(),
        "an open window has its web process"
    );
}

#[test]
fn closing_the_window_keeps_the_server_and_lets_the_web_page_go() {
    let display = display()
        .with_window_manager()
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tmp");
    let (config, port) = setup(dir.path());
    let first = launch(&display, &config);
    assert!(
        first.logs("UI ready", 60),
        "the UI never reported ready:\n{}",
        first.output()
    );
    let pid = first.child.id();
    assert!(
        !web_processes(pid).is_empty(),
        "an open window has its web process"
    );

    // The user closes the window (the window manager sends WM_DELETE_WINDOW).
    display
        .close_window("YAM")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        wait_until(Duration::from_secs(15), || first
            .output()
            .contains("Window closed; YAM keeps running in the tray")
            && web_processes(pid).is_empty()),
        "the window's web process outlived the window: {:?}\n{}",
        web_processes(pid),
        first.output()
    );
    assert!(healthy(port), "the server stays up when the window closes");
    assert!(process_alive(pid), "the app stays in the tray");

    // Asking for the window again (a second launch) creates it, and its UI comes up again.
    launch_second(&display, &config);
    assert!(
        wait_until(Duration::from_secs(60), || first
            .output()
            .matches("UI ready")
            .count()
            == 2),
        "the window was not created again:\n{}",
        first.output()
    );
    assert!(!web_processes(pid).is_empty());
}

/// A session without D-Bus (e.g. a bare X server): the terminal hears one line about the
/// missing tray and where YAM is and where the first-run password is — not the tray
/// libraries' warnings — and, with no tray to come back from, closing the window quits and
/// takes the server with it.
#[test]
fn without_a_session_bus_it_says_so_once_and_closing_the_window_quits() {
    let display = Display::start()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_window_manager()
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config");
    let port = yam_testkit::free_port();
    yam_testkit::write_supervisor_settings(&config, port, "").expect("settings");
    let runtime_dir = dir.path().join("run");
    std::fs::create_dir_all(&runtime_dir).expect("mkdir");
    let mut tray = spawn(
        tray_command(&display, &config, &[])
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_RUNTIME_DIR", &runtime_dir),
    );
    assert!(
        tray.logs("UI ready", 60),
        "the UI never reported ready:\n{}",
        tray.output()
    );
    let said = format!("YAM is at http://127.0.0.1:{port} (only this computer");
    assert!(tray.logs(&said, 30), "{}", tray.output());
    let out = tray.output();
    let password = config.join("data/initial-admin-password.txt");
    assert!(
        out.contains(&format!(
            "First start: log in as admin with the password in {}",
            password.display()
        )),
        "{out}"
    );
    assert_eq!(
        out.matches("No tray icon (this session has no D-Bus session bus)")
            .count(),
        1,
        "{out}"
    );
    for noise in ["WARNING **", "dbus-launch", "appindicator"] {
        assert!(!out.contains(noise), "'{noise}' in the output:\n{out}");
    }

    let server = server_pid(&config.join("data")).expect("server pid in the lock file");
    display
        .close_window("YAM")
        .unwrap_or_else(|e| panic!("{e}"));
    quits_with_its_server(&mut tray, server, "closing the only way in did not quit");
}
