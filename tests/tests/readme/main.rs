//! The README's commands, run as written: every line of every ```sh block is run through
//! `sh -c` by one of the scenarios below, and the test fails when the README shows a command
//! no scenario runs (or a scenario runs a line the README no longer shows). Runs as its own
//! stage of `cargo xtask test` because `cargo xtask run` needs ports 5000 and 7878.

mod readme;
mod server_cli;
mod shell;
mod xtask_run;
mod yamctl_cli;

use readme::Readme;

/// Every ```sh line and the scenario that runs it.
const COVERED: &[(&str, &str)] = &[
    ("cargo xtask run", "xtask_run (no display, then Xvfb)"),
    ("cargo xtask test", "ci_runs_the_test_command"),
    (
        "cargo xtask run -- --headless",
        "xtask_run (--headless on a display)",
    ),
    ("cargo xtask bench --smoke", "bench_smoke"),
    (
        "yam-server user add alice --email alice@example.org",
        "server_cli",
    ),
    ("yam-server user add carol --admin", "server_cli"),
    ("yam-server user list", "server_cli"),
    ("yam-server user passwd alice", "server_cli"),
    ("yam-server user passwd admin", "server_cli"),
    ("yam-server user remove alice", "server_cli"),
    ("yam-server force-logout", "server_cli"),
    (
        "yam-server selftest --url http://127.0.0.1:5000 < password.txt",
        "server_cli",
    ),
    ("yamctl up", "yamctl_cli"),
    ("yamctl status", "yamctl_cli"),
    ("yamctl status --json", "yamctl_cli"),
    ("yamctl sessions", "yamctl_cli"),
    ("yamctl sessions --json", "yamctl_cli"),
    ("yamctl restart", "yamctl_cli"),
    ("yamctl restart --clear", "yamctl_cli"),
    ("yamctl force-logout", "yamctl_cli"),
    ("yamctl set multiple_sessions false", "yamctl_cli"),
    ("yamctl stop", "yamctl_cli"),
    ("yamctl start", "yamctl_cli"),
];

/// Commands the README shows in prose that no test runs, and why (the README says so too).
const NOT_RUN: &[(&str, &str)] = &[
    ("cargo xtask test", "the test command itself: CI runs it"),
    (
        "cargo xtask bench",
        "the full benchmark: release builds, minutes long",
    ),
    (
        "cargo build --release -p yam-tray -p yam-server -p yam-supervisor",
        "a release build of the tray: a quarter of an hour",
    ),
    (
        "cargo xtask dist",
        "release builds for Windows: a quarter of an hour; CI packages debug builds",
    ),
];

#[test]
fn readme_commands_are_all_covered_by_a_scenario() {
    let readme = Readme::load();
    let shown = readme.sh_lines();
    let missing: Vec<_> = shown
        .iter()
        .filter(|l| !COVERED.iter().any(|(c, _)| c == l))
        .collect();
    assert!(
        missing.is_empty(),
        "the README shows commands no test runs (add a scenario, or make it a form in a \
         ```text block): {missing:#?}"
    );
    let stale: Vec<_> = COVERED
        .iter()
        .filter(|(c, _)| !shown.iter().any(|l| l == c))
        .map(|(c, _)| c)
        .collect();
    assert!(
        stale.is_empty(),
        "scenarios run lines the README no longer shows: {stale:#?}"
    );
    // Inline commands in the prose must be lines the tests run, or named as not run.
    let loose: Vec<_> = readme
        .inline_commands()
        .into_iter()
        .filter(|c| !shown.contains(c) && !NOT_RUN.iter().any(|(n, _)| n == c))
        .collect();
    assert!(
        loose.is_empty(),
        "the README's prose shows commands that no test runs: {loose:#?}"
    );
    for (command, why) in NOT_RUN {
        assert!(
            readme.text().contains(command),
            "NOT_RUN lists `{command}` ({why}), which the README no longer shows"
        );
    }
}

#[test]
fn readme_commands_run_as_written() {
    let readme = Readme::load();
    ci_runs_the_test_command(&readme);
    xtask_run::without_a_display(&readme);
    xtask_run::on_a_display(&readme);
    xtask_run::headless_flag_on_a_display(&readme);
    server_cli::users_force_logout_and_selftest(&readme);
    yamctl_cli::up_and_every_command(&readme);
    bench_smoke(&readme);
}

/// `.ci/run` runs exactly the README's test command.
fn ci_runs_the_test_command(readme: &Readme) {
    let line = readme.line("cargo xtask test");
    let ci = std::fs::read_to_string(shell::repo_root().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == line),
        ".ci/run does not run `{line}`:\n{ci}"
    );
}

fn bench_smoke(readme: &Readme) {
    let line = readme.line("cargo xtask bench --smoke");
    let out = shell::Sh::new(line)
        .current_dir(&shell::repo_root())
        .run_to_end(None, std::time::Duration::from_secs(900));
    assert!(out.success, "`{line}` failed:\n{}", out.text);
}
