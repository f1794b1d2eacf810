//! Helpers for tests that run the real binaries: start a server on port 0 in a temp folder,
//! talk to it with a cookie-keeping client, poll for conditions instead of sleeping.

mod browser;
mod client;
mod display;
mod load;
mod python;
mod server;
mod stranger;
mod wine;

pub use browser::{Browser, Page};
pub use client::{Client, Reply, raw_request, set_session_cookie};
pub use display::Display;
pub use load::{Failure, Load, LoadOptions, Outcome, Report, Summary};
pub use python::{copy_dir, ensure_venv, fixture, flask_python, requirements_file};
pub use server::{Launcher, ServerBuilder, ServerProcess, binary};
pub use stranger::{Stranger, lan_ip};
pub use wine::{KnownFolder, WinFolder, Wine, helper_exe, processes_in};

use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use yam_services::{free_port, signal};

/// Writes the supervisor's `settings.toml` into `config` (created if missing): the loopback
/// host, `port`, then the `extra` TOML lines.
pub fn write_supervisor_settings(
    config: &std::path::Path,
    port: u16,
    extra: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(config)?;
    std::fs::write(
        config.join("settings.toml"),
        format!("host = \"127.0.0.1\"\nport = {port}\n{extra}"),
    )
}

/// Collects a child's stdout and stderr (piped) line by line into one shared string.
pub fn capture_output(child: &mut Child) -> Arc<Mutex<String>> {
    let output = Arc::new(Mutex::new(String::new()));
    let streams = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let output = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
                out.push_str(&line);
                out.push('\n');
            }
        });
    }
    output
}

/// Opens `n` connections to `addr` (`host:port`) that send the start of a request and never
/// finish its headers (slowloris); the ones that could be opened.
pub fn half_open_connections(addr: &str, n: usize) -> Vec<std::net::TcpStream> {
    use std::io::Write;
    (0..n)
        .filter_map(|_| {
            let mut s = std::net::TcpStream::connect(addr).ok()?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").ok()?;
            Some(s)
        })
        .collect()
}

/// The same from a chosen source address (any of 127.0.0.0/8 on loopback): to be several
/// clients at once.
pub fn half_open_connections_from(
    addr: &str,
    source: std::net::IpAddr,
    n: usize,
) -> Vec<std::net::TcpStream> {
    use std::io::Write;
    let Ok(target) = addr.parse::<std::net::SocketAddr>() else {
        return Vec::new();
    };
    (0..n)
        .filter_map(|_| {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(target),
                socket2::Type::STREAM,
                None,
            )
            .ok()?;
            socket
                .bind(&std::net::SocketAddr::new(source, 0).into())
                .ok()?;
            socket.connect(&target.into()).ok()?;
            let mut s: std::net::TcpStream = socket.into();
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").ok()?;
            Some(s)
        })
        .collect()
}

/// Whether the peer closes `stream` within `deadline` (a read ends or the connection resets).
pub fn closed_by_peer(stream: &mut std::net::TcpStream, deadline: Duration) -> bool {
    use std::io::Read;
    if stream.set_read_timeout(Some(deadline)).is_err() {
        return false;
    }
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // An answer (e.g. 408) before the close: read on to the end.
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// Polls `condition` until it holds or `deadline` passes.
pub fn wait_until(deadline: Duration, condition: impl FnMut() -> bool) -> bool {
    yam_services::poll(deadline, condition)
}

/// Whether process `pid` exists and is not a zombie (Linux `/proc`).
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// A process's resident memory in KiB (Linux `/proc`; 0 when it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Waits up to `deadline` for `child` to exit; whether it did.
pub fn exits_within(child: &mut Child, deadline: Duration) -> bool {
    wait_until(deadline, || child.try_wait().ok().flatten().is_some())
}

/// The live processes whose parent is `pid`, with their names (from Linux's `/proc`; empty
/// elsewhere). Zombies are left out.
pub fn child_processes(pid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let name = stat[stat.find('(')? + 1..stat.rfind(')')?].to_owned();
            let mut after_name = stat[stat.rfind(')')? + 2..].split_whitespace();
            let state = after_name.next()?;
            let ppid: u32 = after_name.next()?.parse().ok()?;
            (ppid == pid && state != "Z").then_some((p, name))
        })
        .collect()
}
