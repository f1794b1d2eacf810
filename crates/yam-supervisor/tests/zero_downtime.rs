//! The supervisor holds the port: under a steady load of logged-in clients (new connection per
//! request, and keep-alive), 3 restarts, 2 multiple-sessions toggles and a `kill -9` refuse no
//! connection and fail no request (only requests inside the killed process may be lost:
//! counted and printed), and nobody is logged out — for the built-in server (socket
//! hand-over) and for a Python YAM behind the door (the Flask-Session stand-in and the
//! signed-cookie one, as the real YAM runs).

mod common;

use std::time::Duration;

use common::steps::{kill_9, load, restart, running_other_than};
use common::yam_python::{Stand, python_harness, python_login};
use common::*;
use yam_testkit::{Load, Summary};

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

/// 3 restarts, 2 toggles (off, then on again), 1 kill -9, under load; the summary.
async fn the_steps_under_load(
    h: &Harness,
    load: Load,
    mode_in_force: impl Fn() -> bool + Clone + Send + 'static,
) -> Summary {
    // "Running" again means the old server takes no new connection: the new mode is in force.
    let mode = |wanted: bool| {
        let check = mode_in_force.clone();
        async move { tokio::task::spawn_blocking(check).await.expect("join") == wanted }
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

async fn python_steps(stand: Stand) {
    let h = python_harness(stand, |_| {}).await;
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
