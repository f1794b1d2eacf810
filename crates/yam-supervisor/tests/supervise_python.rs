//! The python profile end to end, with a stand-in for YAM's app/server.py (real Flask and
//! Flask-Session from PyPI): YAM's command line, sessions counted from the YAM folder,
//! force logout (folder + marker + restart), and Ctrl-C as the graceful stop.

mod common;

use std::time::Duration;

use common::*;

async fn login(port: u16, user: u32) {
    tokio::task::spawn_blocking(move || {
        let r = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{port}/login"))
            .json(&serde_json::json!({ "login_id": format!("user{user}"), "user_id": user, "password": "yam-password" }))
            .send()
            .expect("login");
        assert_eq!(r.status().as_u16(), 200);
    })
    .await
    .expect("join");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_yam_is_launched_counted_reset_and_stopped_with_ctrl_c() {
    let python = tokio::task::spawn_blocking(yam_testkit::flask_python)
        .await
        .expect("venv");
    let dir = tempfile::tempdir().expect("tmp");
    let yam = dir.path().join("YAM");
    copy_dir(&yam_testkit::fixture("yam_app"), &yam).expect("copy the stand-in");
    let port = free_port();
    let settings = format!(
        "profile = \"python\"\nyam_dir = '{}'\npython = '{}'\n",
        yam.display(),
        python.display()
    );
    let h = harness_with(&settings, Default::default(), port, dir);
    let status = h.running().await;
    assert_eq!(
        status.capabilities.as_ref().map(|c| c.force_logout),
        Some(true)
    );
    let log = |h: &Harness| {
        h.supervisor
            .log()
            .tail(200)
            .into_iter()
            .map(|l| l.text)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        log(&h).contains("app/server.py --host 127.0.0.1"),
        "{}",
        log(&h)
    );
    assert!(log(&h).contains("--no-reloader"));
    assert!(
        log(&h).contains("multiple_sessions=True unbuffered=1"),
        "{}",
        log(&h)
    );
    assert!(yam.join("multiple_sessions_allowed.txt").is_file());

    login(port, 1).await;
    login(port, 2).await;
    login(port, 2).await;
    let counted = h
        .wait("3 sessions in the YAM folder", |s| {
            s.sessions.live == 3 && s.sessions.users == 2
        })
        .await;
    assert_eq!(counted.sessions_dirs.len(), 3);
    let list = h.supervisor.sessions().await.expect("list");
    assert_eq!((list.source.as_str(), list.total), ("folder", 3));
    assert!(list.note.is_some_and(|n| n.contains("Flask-Session")));

    // Flask-Session files: deleting them is the logout, at once (no restart, and no marker
    // for a health check to consume).
    let pid = status.pid;
    let message = h.supervisor.force_logout().await.expect("force logout");
    assert!(message.contains("Deleted 3 session files"), "{message}");
    h.wait("no sessions", |s| s.sessions.live == 0).await;
    assert_eq!(h.supervisor.status().pid, pid, "YAM was not restarted");
    assert!(!yam.join("force_session_reset.txt").exists(), "no marker");

    h.supervisor.stop().await.expect("stop");
    h.wait_for(Duration::from_secs(30), "stopped", |s| {
        s.phase_label == "Stopped"
    })
    .await;
    assert!(log(&h).contains("Ctrl-C (SIGINT) once its requests in flight are done"));
    assert!(
        log(&h).contains("YAM stopping (Ctrl-C)"),
        "graceful: {}",
        log(&h)
    );
    assert!(yam.join("server_shutdown_marker.txt").is_file());
    h.stop().await;
}
