//! `yamctl.exe` under Wine, supervising `yam-server.exe` from a folder holding only the two
//! exes (the dashboard is inside yamctl.exe): up, status, force-logout, set, restart, stop,
//! start; a killed server comes back; a killed yamctl takes its server with it (job object);
//! a program already on the port is reported and left alone.

use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use yam_testkit::{Client, Load, LoadOptions, WinFolder, Wine, processes_in, wait_until};

use crate::healthy;

struct Up {
    child: Child,
    output: Arc<Mutex<String>>,
    folder: WinFolder,
    port: u16,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Up {
    fn start(name: &str) -> Up {
        Self::start_on(name, yam_testkit::free_port())
    }

    /// `yamctl.exe up` in a fresh folder, its server on `port`.
    fn start_on(name: &str, port: u16) -> Up {
        let wine = Wine::get();
        let folder = wine.folder_with(name, &["yamctl.exe", "yam-server.exe"]);
        yam_testkit::write_supervisor_settings(&folder.path("cfg"), port, "").expect("settings");
        let mut child = wine
            .command(&folder, "yamctl.exe")
            .arg("--config")
            .arg(folder.win("cfg"))
            .args(["up", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("yamctl.exe up");
        let output = yam_testkit::capture_output(&mut child);
        Up {
            child,
            output,
            folder,
            port,
        }
    }

    fn output(&self) -> String {
        self.output.lock().expect("output").clone()
    }

    fn dashboard(&self) -> String {
        let mut link = None;
        assert!(
            wait_until(Duration::from_secs(60), || {
                link = self
                    .output()
                    .lines()
                    .find_map(|l| l.strip_prefix("Dashboard: ").map(str::to_owned));
                link.is_some()
            }),
            "no dashboard line:\n{}",
            self.output()
        );
        link.unwrap_or_default()
    }

    /// `yamctl.exe --config <cfg> args…`: (success, output).
    fn ctl(&self, args: &[&str]) -> (bool, String) {
        let out = Wine::get()
            .command(&self.folder, "yamctl.exe")
            .arg("--config")
            .arg(self.folder.win("cfg"))
            .args(args)
            .output()
            .expect("yamctl.exe");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn status(&self) -> Value {
        let (ok, out) = self.ctl(&["status", "--json"]);
        assert!(ok, "{out}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    fn wait_phase(&self, phase: &str) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(Duration::from_secs(60), || {
            // One failed poll is not the answer (seen once in five fresh Wine prefixes, while
            // Wine was still setting the prefix up): say so, and ask again.
            let (ok, out) = self.ctl(&["status", "--json"]);
            match serde_json::from_str::<Value>(out.trim()) {
                Ok(status) if ok => last = status,
                _ => {
                    eprintln!("yamctl.exe status failed while waiting for {phase}: {out}");
                    return false;
                }
            }
            last["phase"]["phase"] == phase
        });
        assert!(ok, "never {phase}: {last}\n{}", self.output());
        last
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn server_pids(&self) -> Vec<u32> {
        processes_in(&self.folder)
            .into_iter()
            .filter(|(_, cmd)| cmd.contains("yam-server.exe"))
            .map(|(pid, _)| pid)
            .collect()
    }
}

#[test]
fn wine_yamctl_supervises_yam_server() {
    let up = Up::start("yamctl");
    let link = up.dashboard();
    let base = link.split("/#token=").next().expect("base").to_owned();
    // The exe alone serves the dashboard (the prefix has no Z: drive to find ui/ on).
    let page = reqwest::blocking::get(format!("{base}/")).expect("dashboard");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap_or_default().contains("<title>YAM"));
    let js = reqwest::blocking::get(format!("{base}/js/transport.js")).expect("js");
    assert_eq!(js.status().as_u16(), 200);

    up.wait_phase("running");
    let (ok, out) = up.ctl(&["status"]);
    assert!(ok && out.contains("Running"), "{out}");

    let password = std::fs::read_to_string(up.folder.path("cfg/data/initial-admin-password.txt"))
        .expect("first-run password");
    let mut admin = Client::new(&up.url());
    admin.login("admin", password.trim());
    let (ok, out) = up.ctl(&["force-logout"]);
    assert!(ok && out.contains("Ended 1 session"), "{out}");
    assert_eq!(admin.get("/api/session/time-remaining").status, 401);

    let (ok, out) = up.ctl(&["set", "multiple_sessions", "false"]);
    assert!(ok, "{out}");
    assert!(
        wait_until(Duration::from_secs(60), || {
            let s = up.status();
            s["phase"]["phase"] == "running" && s["mode"]["multiple_sessions"] == false
        }),
        "single mode never ran:\n{}",
        up.output()
    );
    let (ok, out) = up.ctl(&["restart"]);
    assert!(ok && out.contains("Restarted"), "{out}");
    let (ok, out) = up.ctl(&["stop"]);
    assert!(ok && out.contains("Stopped."), "{out}");
    let (ok, out) = up.ctl(&["start"]);
    assert!(ok && out.contains("Running at"), "{out}");

    // A killed server is back, healthy, within 3 s.
    let pids = up.server_pids();
    assert_eq!(pids.len(), 1, "{pids:?}");
    yam_testkit::signal(pids[0], "KILL");
    let killed = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || {
        !yam_testkit::process_alive(pids[0])
    }));
    assert!(
        wait_until(Duration::from_secs(30), || healthy(&up.url())),
        "the server never came back:\n{}",
        up.output()
    );
    let back = killed.elapsed();
    println!("killed server back healthy after {back:?}");
    assert!(
        back <= Duration::from_secs(3),
        "back after {back:?}:\n{}",
        up.output()
    );

    // Killing yamctl.exe takes its server with it (job object, kill on close).
    let server = up.server_pids();
    let mut up = up;
    up.child.kill().expect("kill yamctl.exe");
    up.child.wait().expect("wait");
    assert!(
        wait_until(Duration::from_secs(15), || server
            .iter()
            .all(|p| !yam_testkit::process_alive(*p))),
        "the server outlived yamctl.exe"
    );
}

#[test]
fn wine_a_program_on_the_port_is_reported_and_left_alone() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let port = holder.local_addr().expect("addr").port();
    let up = Up::start_on("port-busy", port);
    up.dashboard();
    let status = up.wait_phase("port_busy");
    assert!(
        status["phase_label"]
            .as_str()
            .unwrap_or("")
            .contains("busy"),
        "{status}"
    );
    assert!(up.server_pids().is_empty(), "a server was started anyway");
    // The program on the port was left alone: it still accepts connections.
    let addr = holder.local_addr().expect("addr");
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
}

/// The supervisor holds the port under Wine too: yamctl.exe hands its socket to each
/// yam-server.exe (WSADuplicateSocketW, over the child's stdin), so a restart and a toggle
/// under load refuse no connection and log nobody out.
#[test]
fn wine_a_restart_and_a_toggle_refuse_no_connection() {
    let up = Up::start("zero-refused");
    up.dashboard();
    let first = up.wait_phase("running");
    let password = std::fs::read_to_string(up.folder.path("cfg/data/initial-admin-password.txt"))
        .expect("first-run password");
    let mut admin = Client::new(&up.url());
    admin.login("admin", password.trim());
    let cookie = format!("yam_session={}", admin.cookie.clone().expect("cookie"));
    let load = Load::start(&LoadOptions {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], up.port)),
        path: "/api/session/time-remaining".into(),
        cookie,
        fresh: 2,
        keep_alive: 2,
        pause: Duration::from_millis(10),
    });
    std::thread::sleep(Duration::from_secs(1));
    let (ok, out) = up.ctl(&["restart"]);
    assert!(ok && out.contains("Restarted"), "{out}\n{}", up.output());
    let restarted = up.status();
    std::thread::sleep(Duration::from_secs(1));
    let (ok, out) = up.ctl(&["set", "multiple_sessions", "false"]);
    assert!(ok, "{out}");
    assert!(
        wait_until(Duration::from_secs(60), || {
            let s = up.status();
            s["phase"]["phase"] == "running" && s["pid"] != restarted["pid"]
        }),
        "the toggle never ran a new server:\n{}",
        up.output()
    );
    std::thread::sleep(Duration::from_secs(1));
    let summary = load.stop().summary(&[]);
    println!("under Wine: {summary}");
    assert_ne!(first["pid"], restarted["pid"], "a new process");
    let log =
        std::fs::read_to_string(up.folder.path("cfg/data/logs/server.log")).unwrap_or_default();
    assert!(
        log.contains("Serving on the sockets the supervisor handed over"),
        "the servers took the supervisor's socket:\n{log}"
    );
    assert_eq!(summary.refused, 0, "{summary}");
    assert_eq!(summary.failed, 0, "{summary}");
    assert_eq!(summary.logged_out, 0, "{summary}");
    assert!(summary.ok > 50, "{summary}");
}
