//! Item 5: connections that never finish their headers (slowloris) against the real binary,
//! with a low open-files limit as on many servers.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn half_open(url: &str, n: usize) -> Vec<TcpStream> {
    let addr = url.trim_start_matches("http://");
    (0..n)
        .filter_map(|_| {
            let mut s = TcpStream::connect(addr).ok()?;
            s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
                .ok()?;
            Some(s)
        })
        .collect()
}

fn health_answers_within(url: &str, deadline: Duration) -> Option<Duration> {
    let t = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(deadline)
        .build()
        .expect("client");
    client
        .get(format!("{url}/api/health"))
        .send()
        .ok()
        .filter(|r| r.status().is_success())
        .map(|_| t.elapsed())
}

/// The soft limit is raised to the hard one: 300 idle connections are nothing.
#[test]
fn the_open_files_limit_is_raised_and_idle_connections_are_cheap() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path()).open_files_limit(256, 8192).spawn();
    let held = half_open(&server.url, 300);
    assert_eq!(held.len(), 300);
    let took = health_answers_within(&server.url, Duration::from_secs(10));
    assert!(
        took.is_some(),
        "with 300 half-open connections /api/health did not answer"
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).expect("limits");
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("limit line");
    assert!(open_files.contains("8192"), "{open_files}");
}

/// At the hard limit: the server caps connections (and says so) and drops those that never
/// finish their headers, so service comes back by itself.
#[test]
fn half_open_connections_are_dropped_and_capped_at_the_hard_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = builder(dir.path()).open_files_limit(256, 256).spawn();
    let mut held = half_open(&server.url, 300);
    // A header read timeout frees the slots: a normal request is served within it.
    let took = health_answers_within(&server.url, Duration::from_secs(30));
    println!("/api/health with 300 half-open connections at nofile=256: {took:?}");
    assert!(took.is_some(), "the server never answered again");
    assert!(
        server.wait_for_output("connection limit", Duration::from_secs(5)),
        "no log line about the connection cap:\n{}",
        server.output()
    );
    // The half-open connections were closed by the server.
    let first = &mut held[0];
    first
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut buf = [0u8; 256];
    let closed = match first.read(&mut buf) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(
        closed,
        "a connection that never sent its headers stayed open"
    );
}
