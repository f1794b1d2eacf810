//! A private X server (Xvfb) and, when asked, a D-Bus session bus: what the desktop tests and
//! the tray benchmark run yam-tray under.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Xvfb (and dbus-daemon) running until dropped.
pub struct Display {
    xvfb: Child,
    dbus: Option<Child>,
    name: String,
    env: Vec<(String, String)>,
}

impl Display {
    /// Starts Xvfb on a display number nobody uses; with `session_bus`, also a session bus
    /// (tauri-plugin-single-instance needs one on Linux; without it the bus is simply absent).
    pub fn start(session_bus: bool) -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // Parallel tests and processes start at different numbers and skip ones in use.
        let number = (0..400)
            .map(|_| 100 + (std::process::id() % 400) * 8 + NEXT.fetch_add(1, Ordering::SeqCst) % 8)
            .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
            .ok_or("no free X display number")?;
        let name = format!(":{number}");
        let xvfb = Command::new("Xvfb")
            .args([&name, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start Xvfb (apt-get install xvfb): {e}"))?;
        let mut display = Display {
            xvfb,
            dbus: None,
            env: vec![("DISPLAY".to_owned(), name.clone())],
            name,
        };
        let socket = format!("/tmp/.X11-unix/X{number}");
        if !crate::wait_until(Duration::from_secs(10), || Path::new(&socket).exists()) {
            return Err(format!("Xvfb {} did not start within 10 s", display.name));
        }
        if session_bus {
            display.start_session_bus();
        }
        Ok(display)
    }

    fn start_session_bus(&mut self) {
        let Ok(mut dbus) = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            return;
        };
        let mut address = String::new();
        if let Some(out) = dbus.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut address);
        }
        self.env
            .push(("DBUS_SESSION_BUS_ADDRESS".into(), address.trim().to_owned()));
        self.dbus = Some(dbus);
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
        for child in std::iter::once(&mut self.xvfb).chain(self.dbus.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
