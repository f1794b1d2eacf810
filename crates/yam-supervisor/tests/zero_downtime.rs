//! The supervisor holds the port: under a steady load of logged-in clients (new connection per
//! request, and keep-alive), 3 restarts, 2 multiple-sessions toggles and a `kill -9` refuse no
//! connection and fail no request (only requests inside the killed process may be lost:
//! counted and printed), and nobody is logged out — for the built-in server (socket
//! hand-over) and for a Python YAM behind the door (the Flask-Session stand-in and the
//! signed-cookie one, as the real YAM runs).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use yam_supervisor::status::Status;
use yam_testkit::{Load, LoadOptions, Summary};

/// The load: two clients with a new connection per request, two keeping theirs alive.
fn load(port: u16, path: &str, cookie: String) -> Load {
    Load::start(&LoadOptions {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        path: path.to_owned(),
        cookie,
        fresh: 2,
        keep_alive: 2,
        pause: Duration::from_millis(5),
    })
}

fn running_other_than(before: Option<u32>) -> impl Fn(&Status) -> bool {
    move |s| s.phase_label == "Running" && s.pid.is_some() && s.pid != before
}

async fn restart(h: &Harness) {
    let before = h.supervisor.status().pid;
    h.supervisor.restart(false).await.expect("restart");
    h.wait("a new server after the restart", running_other_than(before))
        .await;
}

async fn toggle(h: &Harness, on: bool) {
    let before = h.supervisor.status().pid;
    let saved = h
        .supervisor
        .set_multiple_sessions(on)
        .await
        .expect("toggle");
    assert!(saved.restarted, "{}", saved.message);
    h.wait("a new server in the new mode", running_other_than(before))
        .await;
}

/// Kills the serving process: from the moment before `kill -9` until it was seen gone.
async fn kill_9(h: &Harness) -> (Instant, Instant) {
    let pid = h.supervisor.status().pid.expect("pid");
    let before = Instant::now();
    assert!(yam_testkit::signal(pid, "KILL"), "kill -9 {pid}");
    while yam_testkit::process_alive(pid) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let gone = Instant::now();
    h.wait(
        "a new server after the crash",
        running_other_than(Some(pid)),
    )
    .await;
    (before, gone)
}

/// 3 restarts, 2 toggles (off, then on again), 1 kill -9, under load; the summary.
async fn the_steps_under_load(
    h: &Harness,
    load: Load,
    mode_in_force: impl Fn() -> bool + Clone + Send + 'static,
) -> Summary {
    // The old server stops taking connections a moment after the new one is healthy: the
    // new mode is in force from then on (polled; the load meanwhile counts every answer).
    let mode = |wanted: bool| {
        let check = mode_in_force.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let now = tokio::task::spawn_blocking(check.clone())
                    .await
                    .expect("join");
                if now == wanted || Instant::now() > deadline {
                    return now == wanted;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut pids = vec![h.supervisor.status().pid];
    // Each step under the steady load for a while before the next one.
    let steady = || tokio::time::sleep(Duration::from_millis(400));
    for _ in 0..3 {
        restart(h).await;
        pids.push(h.supervisor.status().pid);
        steady().await;
    }
    toggle(h, false).await;
    assert!(
        mode(false).await,
        "single-session mode is in force after the toggle"
    );
    steady().await;
    toggle(h, true).await;
    assert!(mode(true).await, "multiple sessions are in force again");
    steady().await;
    let killed = kill_9(h).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = h.supervisor.status();
    pids.push(status.pid);
    let report = tokio::task::spawn_blocking(move || load.stop())
        .await
        .expect("join");
    let summary = report.summary(&[killed]);
    println!("{summary}");
    println!(
        "restarts in status: {}; last switch: {:?}; door: {:?}",
        status.restarts, status.last_switch, status.door
    );
    pids.dedup();
    assert_eq!(pids.len(), 5, "every restart ran a new process: {pids:?}");
    assert_eq!(status.restarts, 6, "3 restarts, 2 toggles, 1 recovery");
    summary
}

fn assert_nothing_lost(summary: &Summary) {
    assert_eq!(summary.refused, 0, "{summary}");
    assert_eq!(summary.failed, 0, "{summary}");
    assert_eq!(summary.logged_out, 0, "{summary}");
    assert!(summary.ok > 200, "the load ran: {summary}");
}

/// GET `path` with `cookie`, as JSON.
fn get_json(port: u16, path: &str, cookie: &str) -> serde_json::Value {
    reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("Cookie", cookie)
        .send()
        .and_then(|r| r.json())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_built_in_server_restarts_toggles_and_crashes_without_refusing_anyone() {
    let h = harness("");
    h.running().await;
    let cookie = format!("yam_session={}", h.login().await);
    let port = h.port;
    let load = load(port, "/api/session/time-remaining", cookie.clone());
    let mode = move || get_json(port, "/api/server-info", "")["multiple_sessions"] == true;
    let summary = the_steps_under_load(&h, load, mode).await;
    assert_nothing_lost(&summary);
    h.stop().await;
}

/// Which Python stand-in runs as YAM.
#[derive(Clone, Copy)]
enum Stand {
    /// Flask-Session files in the YAM folder (`tests/fixtures/yam_app`).
    FlaskSession,
    /// Flask's default signed cookies, as the real YAM (`tests/fixtures/yam_cookie_app`).
    SignedCookie,
}

async fn python_harness(stand: Stand) -> Harness {
    let python = tokio::task::spawn_blocking(yam_testkit::flask_python)
        .await
        .expect("venv");
    let dir = tempfile::tempdir().expect("tmp");
    let yam = dir.path().join("YAM");
    let fixture = match stand {
        Stand::FlaskSession => "yam_app",
        Stand::SignedCookie => "yam_cookie_app",
    };
    copy_dir(&yam_testkit::fixture(fixture), &yam);
    let settings = format!(
        "profile = \"python\"\nyam_dir = '{}'\npython = '{}'\n",
        yam.display(),
        python.display()
    );
    harness_with(&settings, Default::default(), free_port(), dir)
}

/// Logs in to a Python stand-in: the `Cookie` header for what its answer set.
async fn python_login(port: u16, stand: Stand) -> String {
    tokio::task::spawn_blocking(move || {
        let body = match stand {
            Stand::FlaskSession => {
                serde_json::json!({ "login_id": "admin", "user_id": 1, "password": "yam-password" })
            }
            Stand::SignedCookie => {
                serde_json::json!({ "email": "admin@example.com", "password": "yam-password" })
            }
        };
        let r = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{port}/login"))
            .json(&body)
            .send()
            .expect("login");
        assert_eq!(r.status().as_u16(), 200);
        let cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect();
        assert!(!cookies.is_empty(), "no cookie after login");
        cookies.join("; ")
    })
    .await
    .expect("join")
}

async fn python_steps(stand: Stand) {
    let h = python_harness(stand).await;
    h.running().await;
    let port = h.port;
    let cookie = python_login(port, stand).await;
    let load = load(port, "/api/session/time-remaining", cookie.clone());
    let mode =
        move || get_json(port, "/api/session/time-remaining", &cookie)["multiple_sessions"] == true;
    let summary = the_steps_under_load(&h, load, mode).await;
    assert_nothing_lost(&summary);
    let door = h.supervisor.status().door.expect("the door holds the port");
    assert!(door.forwarded > 200, "{door:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flask_session_yam_behind_the_door_restarts_without_refusing_anyone() {
    python_steps(Stand::FlaskSession).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_cookie_yam_behind_the_door_restarts_without_refusing_anyone() {
    python_steps(Stand::SignedCookie).await;
}
