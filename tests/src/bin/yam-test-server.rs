//! A misbehaving server for supervisor tests (never shipped). Modes:
//!   healthy        answers /api/health with 200 and stops on SIGTERM/SIGINT or
//!                  POST /api/admin/shutdown
//!   exit CODE      exits at once with CODE
//!   hang           healthy, but ignores SIGTERM, SIGINT and the shutdown request
//!   never-healthy  listens but answers /api/health with 503
//! Usage: yam-test-server --port PORT MODE [CODE]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(0);
    let rest: Vec<&str> = args
        .iter()
        .filter(|a| *a != "--port" && a.parse::<u16>().is_err())
        .map(String::as_str)
        .collect();
    let mode = rest.first().copied().unwrap_or("healthy");
    println!(
        "yam-test-server pid {} mode {mode} port {port}",
        std::process::id()
    );
    match mode {
        "exit" => {
            let code = args.last().and_then(|c| c.parse().ok()).unwrap_or(3);
            eprintln!("exiting at once with {code}");
            std::process::exit(code);
        }
        "hang" => ignore_stop_signals(),
        _ => {}
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    for stream in listener.incoming().flatten() {
        let mut reader = BufReader::new(&stream);
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            continue;
        }
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            line.clear();
        }
        let (status, stop) = match (mode, request_line.split_whitespace().nth(1)) {
            ("never-healthy", _) => ("503 Service Unavailable", false),
            (_, Some("/api/health")) => ("200 OK", false),
            ("hang", Some("/api/admin/shutdown")) => ("202 Accepted", false),
            (_, Some("/api/admin/shutdown")) => ("202 Accepted", true),
            _ => ("404 Not Found", false),
        };
        let mut s = &stream;
        let _ = write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        if stop {
            println!("shutting down on request");
            std::process::exit(0);
        }
    }
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn ignore_stop_signals() {
    // SAFETY: setting the disposition of two signals to "ignore" at start, before any threads.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    eprintln!("ignoring SIGTERM and SIGINT");
}

#[cfg(not(unix))]
fn ignore_stop_signals() {}
