//! Before a start: a foreign listener is reported and left alone; our orphan is cleaned up;
//! a server of another live supervisor is left alone.

mod common;

use std::time::Duration;

use common::*;
use yam_supervisor::lifecycle::Phase;
use yam_supervisor::lock::{LockRecord, RECORD_FILE};
use yam_supervisor::supervisor::{Options, Supervisor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_listener_is_port_busy_and_stays_alive() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let h = harness_with(
        "",
        Default::default(),
        port,
        tempfile::tempdir().expect("tmp"),
    );
    let status = h
        .wait("port busy", |s| matches!(s.phase, Phase::PortBusy { .. }))
        .await;
    let Phase::PortBusy { pid, name } = &status.phase else {
        unreachable!()
    };
    assert_eq!(*pid, Some(std::process::id()));
    assert!(!name.is_empty());
    assert!(
        status
            .notice
            .as_ref()
            .is_some_and(|n| n.kind == "port_busy")
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the other program was disturbed"
    );
    drop(holder);
    h.stop().await;
}

fn spawn_server(data: &std::path::Path, port: u16) -> std::process::Child {
    std::process::Command::new(binary("yam-server"))
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn yam-server")
}

fn start_time(pid: u32) -> u64 {
    yam_supervisor::procs::ProcessTable::snapshot()
        .and_then(|t| t.start_time(pid))
        .expect("start time")
}

async fn wait_listening(port: u16) {
    assert!(
        until(Duration::from_secs(20), || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok())
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_orphan_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let port = free_port();
    let mut orphan = spawn_server(&data, port);
    wait_listening(port).await;
    // Its supervisor is gone: a pid that has exited.
    let mut gone = std::process::Command::new("true").spawn().expect("true");
    let gone_pid = gone.id();
    gone.wait().expect("wait");
    let record = LockRecord {
        supervisor_pid: gone_pid,
        supervisor_started: 1,
        supervisor_name: "yam-tray".into(),
        server_pid: Some(orphan.id()),
        server_started: Some(start_time(orphan.id())),
    };
    std::fs::write(
        data.join(RECORD_FILE),
        serde_json::to_vec(&record).expect("json"),
    )
    .expect("lock");
    let h = harness_with("", Default::default(), port, dir);
    let status = h.running().await;
    assert_ne!(status.pid, Some(orphan.id()));
    assert!(
        orphan.try_wait().expect("wait").is_some(),
        "the orphan is still running"
    );
    assert!(
        h.supervisor
            .log()
            .tail(100)
            .iter()
            .any(|l| l.text.contains("left running by a supervisor that is gone"))
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_of_another_live_supervisor_is_left_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let port = free_port();
    let mut theirs = spawn_server(&data, port);
    wait_listening(port).await;
    let mut other_supervisor = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    let record = LockRecord {
        supervisor_pid: other_supervisor.id(),
        supervisor_started: start_time(other_supervisor.id()),
        supervisor_name: "yam-tray".into(),
        server_pid: Some(theirs.id()),
        server_started: Some(start_time(theirs.id())),
    };
    std::fs::write(
        data.join(RECORD_FILE),
        serde_json::to_vec(&record).expect("json"),
    )
    .expect("lock");
    let options = Options::new(
        dir.path().join("config"),
        data.clone(),
        binary("yam-server"),
        "yamctl",
    );
    let err = Supervisor::launch(options).err().expect("must refuse");
    assert!(
        err.to_string().contains("already supervised by yam-tray"),
        "{err}"
    );
    assert!(
        theirs.try_wait().expect("wait").is_none(),
        "their server was touched"
    );

    // A different data folder on the same port (another Windows user): port busy, untouched.
    let h = harness_with(
        "",
        Default::default(),
        port,
        tempfile::tempdir().expect("tmp"),
    );
    h.wait("port busy", |s| matches!(s.phase, Phase::PortBusy { .. }))
        .await;
    assert!(
        theirs.try_wait().expect("wait").is_none(),
        "their server was touched"
    );
    h.stop().await;
    let _ = theirs.kill();
    let _ = theirs.wait();
    let _ = other_supervisor.kill();
    let _ = other_supervisor.wait();
}
