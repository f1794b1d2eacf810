//! Steps the restart tests take under load: the load itself, a restart, a kill -9.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use yam_supervisor::status::Status;
use yam_testkit::{Load, LoadOptions};

use super::Harness;

/// The load: two clients with a new connection per request, two keeping theirs alive.
pub fn load(port: u16, path: &str, cookie: String) -> Load {
    Load::start(&LoadOptions {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        path: path.to_owned(),
        cookie,
        fresh: 2,
        keep_alive: 2,
        pause: Duration::from_millis(5),
    })
}

pub fn running_other_than(before: Option<u32>) -> impl Fn(&Status) -> bool {
    move |s| s.phase_label == "Running" && s.pid.is_some() && s.pid != before
}

pub async fn restart(h: &Harness) {
    let before = h.supervisor.status().pid;
    h.supervisor.restart(false).await.expect("restart");
    h.wait("a new server after the restart", running_other_than(before))
        .await;
}

/// Kills the serving process: from the moment before `kill -9` until it was seen gone.
pub async fn kill_9(h: &Harness) -> (Instant, Instant) {
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
