//! The `yamctl` lines in the README's order, against one `yamctl up` (its settings folder
//! from `YAM_CONFIG_DIR`, its address from `YAMCTL_LISTEN`, as the README says).

use std::time::Duration;

use serde_json::Value;
use yam_testkit::Client;

use crate::readme::Readme;
use crate::shell::{Finished, Sh, assert_all_gone};

pub fn up_and_every_command(readme: &Readme) {
    let config = tempfile::tempdir().expect("tmp");
    let port = yam_testkit::free_port();
    yam_testkit::write_supervisor_settings(config.path(), port, "").expect("settings");
    let sh = |line: &str| {
        Sh::new(line)
            .current_dir(config.path())
            .env("YAM_CONFIG_DIR", config.path())
            .env("YAMCTL_LISTEN", "127.0.0.1:0")
    };
    let run = |command: &str| -> Finished {
        let line = readme.line(command);
        let out = sh(line).run_to_end(None, Duration::from_secs(120));
        assert!(out.success, "`{line}` failed:\n{}", out.text);
        out
    };
    let json = |command: &str| -> Value {
        let out = run(command);
        serde_json::from_str(out.text.trim())
            .unwrap_or_else(|e| panic!("`{command}` did not print JSON ({e}):\n{}", out.text))
    };

    let up_line = readme.line("yamctl up");
    let mut up = sh(up_line).spawn();
    up.expect_output("Dashboard: http://127.0.0.1:", Duration::from_secs(60));
    let url = format!("http://127.0.0.1:{port}");
    let running = |status: &Value| status["phase"]["phase"] == "running";
    assert!(
        yam_testkit::wait_until(Duration::from_secs(60), || running(&json(
            "yamctl status --json"
        ))),
        "the server never ran:\n{}",
        up.output()
    );
    let out = run("yamctl status");
    assert!(
        out.text.contains("Running") && out.text.contains(&url),
        "{}",
        out.text
    );

    let password = std::fs::read_to_string(config.path().join("data/initial-admin-password.txt"))
        .expect("first-run password");
    let mut admin = Client::new(&url);
    admin.login("admin", password.trim());
    let out = run("yamctl sessions");
    assert!(
        out.text.contains("1 session, from the") && out.text.contains("admin"),
        "{}",
        out.text
    );
    assert_eq!(json("yamctl sessions --json")["total"], 1);

    let out = run("yamctl restart");
    assert!(out.text.contains("Restarted; running at"), "{}", out.text);
    assert_eq!(
        admin.get("/api/session/time-remaining").status,
        200,
        "a plain restart keeps sessions"
    );
    let out = run("yamctl restart --clear");
    assert!(out.text.contains("Restarted"), "{}", out.text);
    assert_eq!(admin.get("/api/session/time-remaining").status, 401);

    admin.login("admin", password.trim());
    let out = run("yamctl force-logout");
    assert!(out.text.contains("Ended 1 session"), "{}", out.text);
    assert_eq!(admin.get("/api/session/time-remaining").status, 401);

    run("yamctl set multiple_sessions false");
    let status = json("yamctl status --json");
    assert_eq!(status["settings"]["multiple_sessions"], false, "{status}");

    let out = run("yamctl stop");
    assert!(out.text.contains("Stopped."), "{}", out.text);
    let out = run("yamctl start");
    assert!(out.text.contains("Running at"), "{}", out.text);
    assert_eq!(
        json("yamctl status --json")["mode"]["multiple_sessions"],
        false
    );

    let processes = up.processes();
    assert!(up.interrupt(Duration::from_secs(60)), "{}", up.output());
    assert_all_gone(up_line, &processes);
}
