//! `cargo xtask run` starts YAM; `cargo xtask test` installs what the tests need and runs them.

mod disk;
mod dist;
mod packages;
mod python;
mod stages;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use stages::Stages;

const USAGE: &str = "usage:
  cargo xtask run [-- <yam-tray flags>]     the tray app supervising yam-server on port 5000 (settings in .yam-tray/
                                            or $YAM_CONFIG_DIR, sessions in ./sessions;
                                            without a display: the dashboard, as `yamctl up`)
  cargo xtask test [--quick]                install what is missing, then check, build and run every test
                                            (--quick: skip the Windows build and the Wine tests)
  cargo xtask dist [--debug]                the Windows downloads in target/dist/: portable zip, installer,
                                            SHA256SUMS (release build; --debug: debug exes, as the tests use)
  cargo xtask bench [--smoke]               measure against the peers (release build) and write BENCHMARKS.md
                                            (--smoke: a seconds-long run of every step on debug builds)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("dist") => dist::run(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub type Result<T = ()> = std::result::Result<T, String>;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

pub fn exec(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// Where the Windows build puts the exes (debug).
fn windows_bin_dir() -> PathBuf {
    target_dir().join(packages::WINDOWS_TARGET).join("debug")
}

fn bin_path(name: &str) -> PathBuf {
    target_dir()
        .join("debug")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The tray app supervising the embedded server, with settings and data in `.yam-tray/` (or
/// `$YAM_CONFIG_DIR`) and sessions in `./sessions`. Without a display it serves the dashboard.
fn run(extra: &[String]) -> Result {
    packages::ensure(&packages::BUILD)?;
    packages::ensure_libraries(&packages::TRAY_LIBS)?;
    // By package: `src-tauri` is not a default workspace member, so `--bin yam-tray` alone
    // is not found.
    exec(cargo().args(["build", "--quiet", "-p", "yam-server", "-p", "yam-tray"]))?;
    let root = root();
    let config = std::env::var_os("YAM_CONFIG_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| root.join(".yam-tray"), PathBuf::from);
    std::fs::create_dir_all(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let settings = config.join("settings.toml");
    if !settings.exists() {
        let sessions = root.join("sessions");
        let text = format!("sessions_dir = {:?}\n", sessions.display().to_string());
        std::fs::write(&settings, text).map_err(|e| format!("{}: {e}", settings.display()))?;
    }
    let extra: Vec<&String> = extra.iter().skip_while(|a| *a == "--").collect();
    println!(
        "Starting yam-tray (settings and data in {}, sessions in ./sessions); Quit from the tray or Ctrl-C stops it.",
        config.display()
    );
    let mut tray = Command::new(bin_path("yam-tray"));
    tray.current_dir(&root)
        .arg("--config")
        .arg(&config)
        .args(extra);
    replace_process(&mut tray)
}

/// Runs `cmd` in place of this process where the OS allows (Unix `exec`), so Ctrl-C and the
/// exit status are the app's own; elsewhere it runs and waits.
fn replace_process(cmd: &mut Command) -> Result {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        Err(format!("could not start {cmd:?}: {e}"))
    }
    #[cfg(not(unix))]
    exec(cmd)
}

fn bench(flags: &[String]) -> Result {
    let smoke = flags.iter().any(|f| f == "--smoke");
    packages::ensure(&packages::BUILD)?;
    packages::ensure(&packages::BENCH)?;
    packages::ensure(&packages::SERVICES)?;
    packages::ensure_libraries(&packages::SERVICE_LIBS)?;
    let python = python::test_venv()?;
    bench_run(smoke, &python)
}

fn bench_run(smoke: bool, python: &Path) -> Result {
    let profile = if smoke { "debug" } else { "release" };
    let mut build = cargo();
    build.args([
        "build",
        "--quiet",
        "-p",
        "yam-server",
        "-p",
        "yam-supervisor",
        "-p",
        "yam-bench",
        "-p",
        "yam-tray",
        "--bins",
    ]);
    if !smoke {
        build.arg("--release");
    }
    exec(&mut build)?;
    let dir = target_dir().join(profile);
    let mut run = Command::new(dir.join(format!("yam-bench{}", std::env::consts::EXE_SUFFIX)));
    run.current_dir(root())
        .arg("--bin-dir")
        .arg(&dir)
        .arg("--python")
        .arg(python);
    if smoke {
        run.arg("--smoke");
    } else {
        run.args(["--out", "BENCHMARKS.md"]);
    }
    exec(&mut run)
}

/// The test that runs the README's commands as written (`tests/tests/readme/`).
const README_RUN_TEST: &str = "readme_commands_run_as_written";
/// The tests that run the Windows exes under Wine (`tests/tests/windows/`): a stage of their own.
const WINE_TESTS: &str = "wine_";

fn test(flags: &[String]) -> Result {
    let quick = flags.iter().any(|f| f == "--quick");
    disk::report(&target_dir());
    let mut stages = Stages::default();
    let outcome = test_stages(&mut stages, quick);
    stages.print_summary();
    if outcome.is_err() {
        println!("{}", disk::free_space_line(&target_dir()));
    }
    outcome
}

fn test_stages(stages: &mut Stages, quick: bool) -> Result {
    stages.run("system packages", || {
        packages::ensure(&packages::BUILD)?;
        packages::ensure(&packages::UI_TESTS)?;
        packages::ensure_libraries(&packages::TRAY_LIBS)?;
        packages::ensure(&packages::TRAY_TOOLS)?;
        packages::ensure(&packages::SERVICES)?;
        packages::ensure_libraries(&packages::SERVICE_LIBS)?;
        if !quick {
            packages::ensure(&packages::WINDOWS_CROSS)?;
            packages::ensure_rust_target(packages::WINDOWS_TARGET)?;
        }
        Ok(())
    })?;
    stages.run("cargo fmt --check", || {
        exec(cargo().args(["fmt", "--all", "--check"]))
    })?;
    stages.run("clippy (all targets, -D warnings)", || {
        exec(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // One build of everything the tests need (binaries included, Tauri once).
    stages.run("build (all binaries and tests, Tauri included)", || {
        exec(cargo().args(["test", "--workspace", "--no-run", "--quiet"]))
    })?;
    let python = stages.run_with(
        "python venv (Flask, Flask-Session, gunicorn from PyPI)",
        python::test_venv,
    )?;
    stages.run("tests (unit, contract, end-to-end)", || {
        exec(
            cargo()
                .args([
                    "test",
                    "--workspace",
                    "--quiet",
                    "--",
                    "--skip",
                    README_RUN_TEST,
                    "--skip",
                    WINE_TESTS,
                ])
                .env("YAM_SERVER_BIN", bin_path("yam-server"))
                .env("YAM_TEST_SERVER_BIN", bin_path("yam-test-server"))
                .env("YAM_TEST_PYTHON", &python)
                .env("YAM_TRAY_BIN", bin_path("yam-tray")),
        )
    })?;
    stages.run("UI end-to-end (playwright-core + Debian Chromium)", || {
        let ui = root().join("tests/ui");
        exec(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--silent"])
                .current_dir(&ui),
        )?;
        exec(
            Command::new("node")
                .args(["--test", "--test-concurrency=1", "."])
                .current_dir(&ui)
                .env("YAM_SERVER_BIN", bin_path("yam-server"))
                .env("YAM_YAMCTL_BIN", bin_path("yamctl"))
                .env("YAM_TEST_PYTHON", &python),
        )
    })?;
    // Last of the Linux stages: it runs `cargo xtask run` on ports 5000 and 7878 and the
    // bench smoke (the README shows `cargo xtask bench --smoke`), so it runs alone.
    stages.run(
        "the README's commands as written (cargo xtask run without and with a display, yam-server, yamctl, bench smoke)",
        || {
            packages::ensure(&packages::BENCH)?;
            exec(
                cargo()
                    .args(["test", "--quiet", "--workspace", "--test", "readme", "--"])
                    .arg(README_RUN_TEST)
                    .env("YAM_SERVER_BIN", bin_path("yam-server"))
                    .env("YAM_YAMCTL_BIN", bin_path("yamctl"))
                    .env("YAM_TEST_PYTHON", &python),
            )
        },
    )?;
    if !quick {
        stages.run(
            "windows build (x86_64-pc-windows-gnu): yam-server, yamctl, yam-tray",
            || {
                exec(cargo().args([
                    "build",
                    "--quiet",
                    "--target",
                    packages::WINDOWS_TARGET,
                    "-p",
                    "yam-server",
                    "-p",
                    "yam-supervisor",
                    "-p",
                    "yam-tray",
                ]))
            },
        )?;
        stages.run(
            "dist of the debug exes (zip, NSIS installer, SHA256SUMS; contents checked)",
            || dist::build(true).map(drop),
        )?;
        stages.run(
            "Wine: the Windows exes run (yam-server, yamctl, yam-tray without WebView2, installer)",
            || {
                packages::ensure_libraries(&packages::WINE)?;
                exec(
                    cargo()
                        .args(["test", "--quiet", "--workspace", "--test", "windows"])
                        .env("YAM_WINDOWS_BIN_DIR", windows_bin_dir())
                        .env("YAM_WINE_DIR", target_dir().join("wine"))
                        .env("YAM_DIST_DIR", dist::dir()),
                )
            },
        )?;
    }
    Ok(())
}
