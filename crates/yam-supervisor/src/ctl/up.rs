//! `yamctl up`: the supervisor in the foreground with its loopback control API.

use super::CtlPaths;
use super::dashboard::{self, Dashboard, listen_address};
use crate::supervisor::{Options, Supervisor};

pub async fn run(
    paths: CtlPaths,
    listen: &str,
    ui: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let listener = dashboard::bind(listen_address(listen)?, false).await?;
    let options = Options::new(
        paths.config_dir.clone(),
        paths.data_dir.clone(),
        super::server_binary(),
        "yamctl",
    );
    let (supervisor, driver) = Supervisor::launch(options)?;
    let dashboard = match Dashboard::new(listener, &supervisor, &paths, ui) {
        Ok(d) => d,
        Err(e) => {
            supervisor.shutdown().await;
            let _ = driver.await;
            return Err(e);
        }
    };
    println!(
        "yamctl up: settings and data in {}",
        paths.config_dir.display()
    );
    println!("Dashboard: {}", dashboard.link);
    tokio::spawn(crate::announce::when_running(supervisor.clone()));
    let stopper = supervisor.clone();
    dashboard
        .serve(async move {
            shutdown_signal().await;
            println!("Stopping: the server is stopped gracefully first…");
            stopper.shutdown().await;
        })
        .await;
    supervisor.shutdown().await;
    let _ = driver.await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
