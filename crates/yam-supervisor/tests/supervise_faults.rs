//! Servers that misbehave (the test-only binary): crash loop with capped backoff, a server
//! that ignores the stop request, a server that never gets healthy.

mod common;

use std::time::{Duration, Instant};

use common::*;
use yam_supervisor::lifecycle::Phase;
use yam_testkit::process_alive;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_at_once_ends_in_a_crash_loop() {
    let port = free_port();
    let started = Instant::now();
    let h = harness_with(
        &test_server_settings(port, "exit 3"),
        fast_policy(),
        port,
        tempfile::tempdir().expect("tmp"),
    );
    let status = h.wait("crash loop", |s| s.phase == Phase::CrashLoop).await;
    let elapsed = started.elapsed();
    assert_eq!(
        status.restarts, 4,
        "five exits: the first run and four restarts"
    );
    let exit = status.last_exit.expect("last exit");
    assert_eq!(exit.code, Some(3));
    assert_eq!(status.notice.map(|n| n.kind), Some("crash_loop".into()));
    // Delays 100, 200, 400, 400 ms (capped at 400 ms): about a second of waiting in all. An
    // uncapped doubling from 1 s would take 15 s; the bound is generous for a loaded machine.
    assert!(elapsed < Duration::from_secs(12), "{elapsed:?}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        h.supervisor.status().restarts,
        4,
        "no restarts after a crash loop"
    );
    assert!(
        h.supervisor
            .log()
            .tail(200)
            .iter()
            .any(|l| l.text.contains("exiting at once with 3"))
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_escalates_to_kill_when_the_server_hangs() {
    let port = free_port();
    let h = harness_with(
        &test_server_settings(port, "hang"),
        fast_policy(),
        port,
        tempfile::tempdir().expect("tmp"),
    );
    let status = h.running().await;
    let pid = status.pid.expect("pid");
    h.supervisor.stop().await.expect("stop");
    h.wait("stopped", |s| s.phase == Phase::Stopped).await;
    assert!(
        h.supervisor
            .log()
            .tail(100)
            .iter()
            .any(|l| l.text.contains("Killing the process tree of server"))
    );
    assert!(
        until(Duration::from_secs(5), || !process_alive(pid)).await,
        "the hung server survived"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_gets_healthy_is_killed_and_retried() {
    let port = free_port();
    let h = harness_with(
        &test_server_settings(port, "never-healthy"),
        fast_policy(),
        port,
        tempfile::tempdir().expect("tmp"),
    );
    let status = h
        .wait_for(Duration::from_secs(60), "crash loop", |s| {
            s.phase == Phase::CrashLoop
        })
        .await;
    let exit = status.last_exit.expect("exit");
    assert!(
        exit.description
            .contains("did not become healthy within 2 s"),
        "{exit:?}"
    );
    h.stop().await;
}
