//! A request sent as the driver ends must never wait forever: `yamctl up` asks
//! for shutdown twice (from the signal and after the dashboard stops), and once in ~80 runs
//! the second ask waited forever (its message was queued after the driver's queue closed).

use std::time::Duration;

use super::{Options, Supervisor};

/// A supervisor that starts nothing (no server is needed to stop one that is idle).
fn idle_supervisor(dir: &tempfile::TempDir) -> (Supervisor, tokio::task::JoinHandle<()>) {
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).expect("config");
    std::fs::write(
        config.join("settings.toml"),
        "host = \"127.0.0.1\"\nport = 1\nstart_on_launch = false\n",
    )
    .expect("settings");
    let options = Options::new(
        config,
        dir.path().join("data"),
        dir.path().join("no-server"),
        "shutdown-test",
    );
    Supervisor::launch(options).expect("launch")
}

#[test]
fn asking_a_driver_that_is_ending_always_returns() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for round in 0..3000 {
            let dir = tempfile::tempdir().expect("tmp");
            let (supervisor, driver) = idle_supervisor(&dir);
            // Several askers race the driver's end, as the signal handler and `yamctl up`'s
            // own clean-up do.
            let askers: Vec<_> = (0..8)
                .map(|_| {
                    let s = supervisor.clone();
                    tokio::spawn(async move {
                        while !s.requests.is_closed() {
                            s.shutdown().await;
                        }
                        s.shutdown().await;
                    })
                })
                .collect();
            for asker in askers {
                tokio::time::timeout(Duration::from_secs(3), asker)
                    .await
                    .unwrap_or_else(|_| panic!("round {round}: an ask never returned"))
                    .expect("asker");
            }
            tokio::time::timeout(Duration::from_secs(10), driver)
                .await
                .unwrap_or_else(|_| panic!("round {round}: the driver did not end"))
                .expect("driver");
        }
    });
}
