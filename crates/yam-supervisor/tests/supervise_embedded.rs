//! The supervisor with the real yam-server: start, count, restart after kill -9, force
//! logout up and down, toggle multiple sessions.

mod common;

use std::time::{Duration, Instant};

use common::*;
use yam_supervisor::backoff::RestartPolicy;
use yam_supervisor::history::{History, Span};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_count_logout_and_recover_from_kill_9() {
    let h = harness("");
    let status = h.running().await;
    assert!(status.pid.is_some());
    assert_eq!(
        status.capabilities.as_ref().map(|c| c.force_logout),
        Some(true)
    );

    let mut cookies = Vec::new();
    let mut latencies = Vec::new();
    for n in 1..=3 {
        cookies.push(h.login().await);
        let t = Instant::now();
        let s = h
            .wait(&format!("{n} sessions"), |s| s.sessions.live == n)
            .await;
        latencies.push(t.elapsed());
        assert_eq!(s.today.map(|t| t.logins), Some(n as u32), "logins today");
    }
    let t = Instant::now();
    let url = h.url();
    let c = cookies.pop().expect("cookie");
    tokio::task::spawn_blocking(move || Client::with_cookie(&url, &c).post("/api/session/logout"))
        .await
        .expect("logout");
    h.wait("2 sessions", |s| s.sessions.live == 2).await;
    latencies.push(t.elapsed());
    println!("count update latency after login/logout: {latencies:?}");

    let pid = status.pid.expect("pid");
    let killed_at = Instant::now();
    assert!(yam_testkit::signal(pid, "9"), "kill -9 {pid}");
    let again = h
        .wait("restart after kill -9", |s| {
            s.restarts == 1 && s.phase_label == "Running"
        })
        .await;
    println!("restart after kill -9 took {:?}", killed_at.elapsed());
    assert_ne!(again.pid, Some(pid));
    assert!(
        again
            .last_exit
            .as_ref()
            .is_some_and(|e| e.description.contains("signal 9")),
        "{:?}",
        again.last_exit
    );
    for cookie in &cookies {
        assert_eq!(
            h.session_status(cookie).await,
            200,
            "sessions survive a crash restart"
        );
    }
    // The crash and the way back are news once each; the day's history has it all.
    let notice = again.notice.expect("a notice");
    assert_eq!(
        (notice.kind.as_str(), notice.news),
        ("recovered", true),
        "{notice:?}"
    );
    assert!(notice.message.contains("back and healthy"), "{notice:?}");
    let today = again.today.expect("today");
    assert_eq!(
        (today.live, today.logins, today.starts, today.crashes),
        (3, 3, 2, 1),
        "{today:?}"
    );
    let day = h.supervisor.history(Span::Day).await.expect("history");
    assert_eq!(day.points.iter().map(|p| p.crashes).sum::<u32>(), 1);
    assert_eq!(day.points.iter().map(|p| p.logins).sum::<u32>(), 3);

    // Saved when the supervisor stops, and read back by the next one.
    let dir = h.stop().await;
    let saved = std::fs::read_to_string(dir.path().join("data/history.csv")).expect("history.csv");
    let loaded = History::from_csv(&saved, i64::MAX / 2);
    assert_eq!(loaded.bad_lines, 0);
    let back = harness_with("", RestartPolicy::default(), free_port(), dir);
    let week = back.supervisor.history(Span::Week).await.expect("history");
    assert_eq!(week.points.iter().map(|p| p.logins).sum::<u32>(), 3);
    assert!(
        back.supervisor
            .status()
            .today
            .is_some_and(|t| t.crashes == 1)
    );
    back.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_logout_while_up_and_while_down() {
    let h = harness("");
    h.running().await;
    let a = h.login().await;
    let b = h.login().await;
    h.wait("2 sessions", |s| s.sessions.live == 2).await;
    let message = h.supervisor.force_logout().await.expect("force logout");
    assert!(message.contains("Ended 2 sessions"), "{message}");
    h.wait("0 sessions", |s| s.sessions.live == 0).await;
    assert_eq!(h.session_status(&a).await, 401);
    assert_eq!(h.session_status(&b).await, 401);

    let c = h.login().await;
    h.wait("1 session", |s| s.sessions.live == 1).await;
    h.supervisor.stop().await.expect("stop");
    h.wait("stopped", |s| s.phase_label == "Stopped").await;
    assert!(h.data_dir().join("server_shutdown_marker.txt").is_file());
    let message = h
        .supervisor
        .force_logout()
        .await
        .expect("force logout offline");
    assert!(
        message.contains("not running: deleted 1 session file"),
        "{message}"
    );
    let marker = h.data_dir().join("force_session_reset.txt");
    assert!(marker.is_file());
    h.supervisor.start(false).await.expect("start");
    h.running().await;
    assert!(
        until(Duration::from_secs(5), || !marker.exists()).await,
        "marker not consumed"
    );
    assert_eq!(h.session_status(&c).await, 401);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toggling_multiple_sessions_restarts_and_keeps_sessions() {
    let h = harness("");
    let before = h.running().await;
    let cookie = h.login().await;
    assert_eq!(
        h.get_json("/api/server-info").await["session_lifetime_hours"],
        4
    );
    let saved = h
        .supervisor
        .set_multiple_sessions(false)
        .await
        .expect("saved");
    assert!(saved.restarted);
    let after = h
        .wait("restarted", |s| {
            s.phase_label == "Running" && s.pid.is_some() && s.pid != before.pid
        })
        .await;
    assert!(!after.mode.multiple_sessions);
    let info = h.get_json("/api/server-info").await;
    assert_eq!(
        (
            info["multiple_sessions"].clone(),
            info["session_lifetime_hours"].clone()
        ),
        (false.into(), 2.into())
    );
    assert_eq!(
        h.session_status(&cookie).await,
        200,
        "a mode toggle must not log anyone out"
    );
    let on_disk = std::fs::read_to_string(h.config_dir().join("settings.toml")).expect("settings");
    assert!(on_disk.contains("multiple_sessions = false"));
    assert!(!h.data_dir().join("multiple_sessions_allowed.txt").exists());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_log_everyone_out() {
    let h = harness("");
    h.running().await;
    let cookie = h.login().await;
    let t = Instant::now();
    h.supervisor.restart(true).await.expect("restart");
    h.wait("restarted", |s| {
        s.phase_label == "Running" && s.sessions.live == 0
    })
    .await;
    println!(
        "restart (stop + cleanup + start + healthy) took {:?}",
        t.elapsed()
    );
    assert_eq!(h.session_status(&cookie).await, 401);
    h.stop().await;
}
