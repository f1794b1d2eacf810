//! Item 1: a burst of 1,500 guesses from one address does not slow a real login from
//! another. Alone in its test binary: nothing else shares the CPU while it measures.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// One keep-alive connection (from 127.0.0.1) sending wrong-password logins as fast as the
/// server answers; returns the statuses. Raw HTTP keeps the load on the server, not here.
fn guesser(server: SocketAddr, n: usize, stop: &AtomicBool, sent: &AtomicUsize) -> Vec<u16> {
    let socket = TcpStream::connect(server).expect("connect");
    let mut reader = BufReader::new(socket.try_clone().expect("clone"));
    let mut writer = socket;
    let body = r#"{"login_id":"admin","password":"guess-guess"}"#;
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut statuses = Vec::new();
    for _ in 0..n {
        if stop.load(Ordering::SeqCst) || writer.write_all(request.as_bytes()).is_err() {
            break;
        }
        sent.fetch_add(1, Ordering::SeqCst);
        let mut status_line = String::new();
        if reader.read_line(&mut status_line).unwrap_or(0) == 0 {
            break;
        }
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("body");
        statuses.push(status);
    }
    statuses
}

#[test]
fn a_real_login_from_elsewhere_answers_quickly_during_a_burst() {
    let (_dir, server) = multiple();
    let password = server.admin_password();
    // The admin's own PC, where admin logged in before (a guessing burst against admin from
    // elsewhere may slow new addresses down, never this one).
    let mut admin_pc = Client::from_address(&server.url, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    admin_pc.login("admin", &password);
    let addr: SocketAddr = server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("addr");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    // 1,500 guesses over 300 keep-alive connections at once.
    let burst: Vec<_> = (0..300)
        .map(|_| {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            std::thread::spawn(move || guesser(addr, 5, &stop, &sent))
        })
        .collect();
    assert!(wait_until(Duration::from_secs(30), || sent
        .load(Ordering::SeqCst)
        >= 100));
    let t = Instant::now();
    let r = admin_pc.post_json(
        "/login",
        &json!({ "login_id": "admin", "password": password }),
    );
    let took = t.elapsed();
    let during = sent.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let statuses: Vec<u16> = burst
        .into_iter()
        .flat_map(|t| t.join().expect("burst"))
        .collect();
    let hashed = statuses.iter().filter(|s| **s == 401).count();
    println!(
        "real login during the burst ({during} guesses sent so far): {took:?}; \
         of {} guesses answered, {hashed} were hashed (401), the rest refused (429)",
        statuses.len()
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        took < Duration::from_secs(1),
        "the real login took {took:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        hashed * 100 <= statuses.len() * 5,
        "{hashed} of {} guesses reached the password hash",
        statuses.len()
    );
}
