//! What a person who started YAM from a terminal is told once it runs: the addresses it really
//! serves (this computer, and the network when it listens on every interface) and where the
//! first-run password is. `yamctl up` and the tray app (`cargo xtask run`) print the same lines.

use std::path::Path;
use std::time::Duration;

use crate::lifecycle::Phase;
use crate::supervisor::Supervisor;

/// The lines, from facts the status already holds (pure: unit-tested).
pub fn serving_lines(
    url: &str,
    lan_url: Option<&str>,
    host: &str,
    port: u16,
    password_file: Option<&Path>,
) -> Vec<String> {
    let everyone = matches!(host, "0.0.0.0" | "::" | "[::]");
    let mut lines = vec![if !everyone {
        format!("YAM is at {url} (only this computer: it listens on {host}:{port}).")
    } else if let Some(lan) = lan_url {
        format!(
            "YAM is at {url} on this computer and {lan} from the network (it listens on \
             {host}:{port}, as server.bat does)."
        )
    } else {
        format!(
            "YAM is at {url} on this computer; from the network, use this computer's address \
             with port {port} (it listens on {host}:{port}, as server.bat does)."
        )
    }];
    if let Some(file) = password_file {
        lines.push(format!(
            "First start: log in as admin with the password in {} (the window shows it too).",
            file.display()
        ));
    }
    lines
}

/// Waits (up to two minutes) for the server to run, then prints where it is; a server that
/// cannot start is named instead.
pub async fn when_running(supervisor: Supervisor) {
    let settled = |s: &crate::status::Status| {
        matches!(
            s.phase,
            Phase::Running | Phase::PortBusy { .. } | Phase::Failed { .. } | Phase::CrashLoop
        )
    };
    let Some(status) = supervisor.wait_for(Duration::from_secs(120), settled).await else {
        return;
    };
    if status.phase != Phase::Running {
        println!("YAM is not running: {}.", status.phase_label);
        return;
    }
    for line in serving_lines(
        &status.url,
        status.lan_url.as_deref(),
        &status.settings.host,
        status.settings.port,
        status.first_run_password_file.as_deref(),
    ) {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyone_gets_both_addresses_this_computer_only_one() {
        let lines = serving_lines(
            "http://127.0.0.1:5000",
            Some("http://192.168.1.20:5000"),
            "0.0.0.0",
            5000,
            Some(Path::new("/data/initial-admin-password.txt")),
        );
        assert_eq!(
            lines[0],
            "YAM is at http://127.0.0.1:5000 on this computer and http://192.168.1.20:5000 \
             from the network (it listens on 0.0.0.0:5000, as server.bat does)."
        );
        assert!(
            lines[1].contains("/data/initial-admin-password.txt"),
            "{lines:?}"
        );

        let local = serving_lines("http://127.0.0.1:5000", None, "127.0.0.1", 5000, None);
        assert_eq!(local.len(), 1, "no password line once it was saved");
        assert!(local[0].contains("only this computer"), "{local:?}");

        let no_lan = serving_lines("http://127.0.0.1:5000", None, "0.0.0.0", 5000, None);
        assert!(no_lan[0].contains("this computer's address"), "{no_lan:?}");
    }
}
