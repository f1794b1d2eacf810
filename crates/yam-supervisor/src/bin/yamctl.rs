use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::json;
use yam_supervisor::ctl::client::{Client, ClientError, describe_status};
use yam_supervisor::ctl::{Cli, Command, CtlPaths, offline, up};

/// Exit code when `yamctl up` is not running.
const NOT_RUNNING: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Up { .. }) {
        default_sigpipe();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let paths = match CtlPaths::resolve(cli.config.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Up { listen, ui } = cli.command {
        yam_supervisor::logs::init_process_logging();
        return match up::run(paths, &listen, ui).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match command(&paths, cli.command).await {
        Ok(text) => {
            print_quietly(&text);
            ExitCode::SUCCESS
        }
        Err(ClientError::NotRunning(why)) => {
            eprintln!("yamctl up is not running ({why}). Start it with `yamctl up`.");
            ExitCode::from(NOT_RUNNING)
        }
        Err(ClientError::Refused(why)) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn command(paths: &CtlPaths, command: Command) -> Result<String, ClientError> {
    let client = match Client::connect(paths) {
        Ok(c) => c,
        Err(e) => return offline_fallback(paths, command, e),
    };
    let result = run_online(&client, &command).await;
    match result {
        Err(e @ ClientError::NotRunning(_)) => offline_fallback(paths, command, e),
        other => other,
    }
}

fn offline_fallback(
    paths: &CtlPaths,
    command: Command,
    why: ClientError,
) -> Result<String, ClientError> {
    let refused = |e: anyhow::Error| ClientError::Refused(format!("{e:#}"));
    match command {
        Command::ForceLogout => offline::force_logout(paths).map_err(refused),
        Command::Set { key, value } => offline::set(paths, &key, &value).map_err(refused),
        _ => Err(why),
    }
}

fn message(v: &serde_json::Value) -> String {
    v["message"].as_str().unwrap_or("done").to_owned()
}

async fn run_online(client: &Client, command: &Command) -> Result<String, ClientError> {
    match command {
        Command::Up { .. } => Ok(String::new()),
        Command::Status { json } => Ok(if *json {
            client.get("/api/status").await?.to_string()
        } else {
            describe_status(&client.status().await?)
        }),
        Command::Sessions { json } => {
            let list = client.get("/api/sessions").await?;
            if *json {
                return Ok(list.to_string());
            }
            let mut out = format!(
                "{}, from the {}\n",
                yam_sessions::words::count(list["total"].as_u64().unwrap_or(0), "session"),
                list["source"].as_str().unwrap_or("?")
            );
            for s in list["sessions"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "  {:<20} {:<10} expires {:<30} {}\n",
                    s["username"]
                        .as_str()
                        .or(s["user_id"].as_str())
                        .unwrap_or("(anonymous)"),
                    s["key"]
                        .as_str()
                        .map(|k| &k[..k.len().min(8)])
                        .unwrap_or(""),
                    s["expires_at"]
                        .as_str()
                        .map_or_else(|| "never".to_owned(), local_time),
                    s["ip"].as_str().unwrap_or(""),
                ));
            }
            if let Some(note) = list["note"].as_str() {
                out.push_str(note);
            }
            Ok(out)
        }
        Command::Start { clear } => {
            client.post("/api/start", json!({ "clear": clear })).await?;
            let s = client
                .wait_for(Duration::from_secs(60), |p| p == "running")
                .await?;
            Ok(format!("Running at {}", s["url"].as_str().unwrap_or("?")))
        }
        Command::Stop => {
            client.post("/api/stop", json!({})).await?;
            client
                .wait_for(Duration::from_secs(60), |p| p == "stopped")
                .await?;
            Ok("Stopped.".into())
        }
        Command::Restart { clear } => {
            // Answered once the new server serves (or with why it did not).
            client
                .post("/api/restart", json!({ "clear": clear }))
                .await?;
            let s = client
                .wait_for(Duration::from_secs(60), |p| p == "running")
                .await?;
            Ok(format!(
                "Restarted; running at {}",
                s["url"].as_str().unwrap_or("?")
            ))
        }
        Command::ForceLogout => Ok(message(&client.post("/api/force-logout", json!({})).await?)),
        Command::Set { key, value } => {
            let v = client.post("/api/settings", json!({ key: value })).await?;
            Ok(message(&v))
        }
    }
}

/// A command's output into a pipe whose reader left (`yamctl status | head -1`) ends the
/// output, not the program with a panic.
fn print_quietly(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

/// The client commands behave like other command-line tools on Unix: a closed pipe ends them
/// quietly (status 141 in the shell). Rust ignores SIGPIPE by default, which turns the closed
/// pipe into a write error; `yamctl up` keeps that (it writes to sockets).
fn default_sigpipe() {
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: called at the start of main, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// An RFC 3339 time from the API as this computer's local time with the offset (the text as it
/// came when it does not parse).
fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_owned(),
        |t| yam_sessions::Timestamp(t.timestamp_millis()).to_local_words(),
    )
}
