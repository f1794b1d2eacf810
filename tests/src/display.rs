//! A private X server (Xvfb) and, when asked, a D-Bus session bus: what the desktop tests and
//! the tray benchmark run yam-tray under.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Xvfb (and dbus-daemon, a window manager) running until dropped.
pub struct Display {
    xvfb: Child,
    helpers: Vec<Child>,
    name: String,
    env: Vec<(String, String)>,
}

impl Display {
    /// Starts Xvfb on a display number nobody uses. An Xvfb that exits (another one took the
    /// number between our look and its start) or does not start within 30 s (a busy machine)
    /// is retried on the next number, five tries in all.
    pub fn start() -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let mut last_error = String::new();
        for _ in 0..5 {
            // Parallel tests and processes start at different numbers and skip ones in use.
            let number = (0..400)
                .map(|_| {
                    100 + (std::process::id() % 400) * 8 + NEXT.fetch_add(1, Ordering::SeqCst) % 8
                })
                .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
                .ok_or("no free X display number")?;
            match Self::start_on(number) {
                Ok(display) => return Ok(display),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn start_on(number: u32) -> Result<Self, String> {
        let name = format!(":{number}");
        let log = tempfile::NamedTempFile::new().map_err(|e| format!("Xvfb log: {e}"))?;
        let xvfb = Command::new("Xvfb")
            .args([&name, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(log.reopen().map_err(|e| format!("Xvfb log: {e}"))?)
            .spawn()
            .map_err(|e| format!("cannot start Xvfb (apt-get install xvfb): {e}"))?;
        let mut display = Display {
            xvfb,
            helpers: Vec::new(),
            env: vec![("DISPLAY".to_owned(), name.clone())],
            name,
        };
        let socket = format!("/tmp/.X11-unix/X{number}");
        let mut exited = false;
        let ready = crate::wait_until(Duration::from_secs(30), || {
            exited = display.xvfb.try_wait().ok().flatten().is_some();
            exited || Path::new(&socket).exists()
        });
        if exited || !ready {
            let said = std::fs::read_to_string(log.path()).unwrap_or_default();
            let what = if exited {
                "exited"
            } else {
                "did not start within 30 s"
            };
            return Err(format!("Xvfb {} {what}: {}", display.name, said.trim()));
        }
        Ok(display)
    }

    /// Adds a D-Bus session bus (tauri-plugin-single-instance needs one on Linux); when
    /// dbus-daemon cannot start, the bus is simply absent.
    pub fn with_session_bus(mut self) -> Self {
        let Ok(mut dbus) = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            return self;
        };
        let mut address = String::new();
        if let Some(out) = dbus.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut address);
        }
        self.env
            .push(("DBUS_SESSION_BUS_ADDRESS".into(), address.trim().to_owned()));
        self.helpers.push(dbus);
        self
    }

    /// Adds a window manager (matchbox), so windows can be closed as a user closes them:
    /// `wmctrl -c TITLE` asks the manager, which sends the window WM_DELETE_WINDOW.
    pub fn with_window_manager(mut self) -> Result<Self, String> {
        let spawn = |name: &str| {
            Command::new("matchbox-window-manager")
                .args(["-use_titlebar", "no"])
                .env("DISPLAY", name)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    format!(
                        "cannot start matchbox-window-manager \
                         (apt-get install matchbox-window-manager): {e}"
                    )
                })
        };
        let answers = |name: &str| {
            Command::new("wmctrl")
                .arg("-m")
                .env("DISPLAY", name)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let mut wm = spawn(&self.name)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        // A manager started while the new X server is still coming up exits at once; start
        // it again until one answers.
        while !answers(&self.name) {
            if std::time::Instant::now() > deadline {
                let _ = wm.kill();
                let _ = wm.wait();
                return Err(format!(
                    "no window manager answers on {} (apt-get install wmctrl)",
                    self.name
                ));
            }
            if wm.try_wait().ok().flatten().is_some() {
                wm = spawn(&self.name)?;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.helpers.push(wm);
        Ok(self)
    }

    /// Closes the windows titled `title` the way a user does (needs `with_window_manager`).
    pub fn close_window(&self, title: &str) -> Result<(), String> {
        let status = Command::new("wmctrl")
            .args(["-c", title])
            .env("DISPLAY", &self.name)
            .status()
            .map_err(|e| format!("wmctrl: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "wmctrl -c {title} failed ({status}): no such window?"
            ))
        }
    }

    /// `:N`, the value of `DISPLAY`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The variables a program needs to use this display (and bus).
    pub fn env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        for child in self
            .helpers
            .iter_mut()
            .chain(std::iter::once(&mut self.xvfb))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
