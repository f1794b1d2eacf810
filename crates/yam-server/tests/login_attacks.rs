//! Attacks on the login, against the real binary: concurrent logins of unknown users on fresh
//! servers, concurrent password guessing, and racing single-session logins.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Runs `n` copies of `job` at once (released together by a barrier); their results.
fn at_once<T: Send + 'static>(
    n: usize,
    job: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let job = Arc::new(job);
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (job, barrier) = (Arc::clone(&job), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                job(i)
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect()
}

/// Item 0: the dummy hash for unknown users must not deadlock the hashing pool.
#[test]
fn concurrent_unknown_user_logins_on_fresh_servers_all_answer_quickly() {
    let mut slowest = Duration::ZERO;
    for start in 0..50 {
        let (_dir, server) = multiple();
        let url = server.url.clone();
        // Four addresses: each login is admitted and hashed (one address may have only two
        // hashing at once).
        let times = at_once(4, move |i| {
            let mut c = Client::from_address(&url, IpAddr::V4(Ipv4Addr::new(127, 0, 1, i as u8)));
            let t = Instant::now();
            let r = c.post_json(
                "/login",
                &json!({ "login_id": format!("nobody-{i}"), "password": "not-a-password" }),
            );
            (r.status, t.elapsed())
        });
        for (status, took) in times {
            assert_eq!(status, 401, "fresh start {start}");
            // The old bug was a hang: the bound catches that without timing the machine
            // (four hashes on two busy cores can take a second).
            assert!(
                took < Duration::from_secs(15),
                "fresh start {start}: an unknown-user login took {took:?}"
            );
            slowest = slowest.max(took);
        }
    }
    println!("slowest of 200 unknown-user logins on 50 fresh servers: {slowest:?}");
}

/// Item 1: a concurrent burst of guesses is counted before hashing and mostly refused at once.
#[test]
fn a_concurrent_burst_of_guesses_is_refused_without_hashing() {
    let (_dir, server) = multiple();
    let url = server.url.clone();
    let statuses = at_once(100, move |_| {
        let mut c = Client::from_address(&url, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5)));
        c.post_json(
            "/login",
            &json!({ "login_id": "admin", "password": "guess-guess" }),
        )
        .status
    });
    let refused = statuses.iter().filter(|s| **s == 429).count();
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    println!("100 concurrent guesses: {refused} × 429, {wrong} × 401");
    assert_eq!(refused + wrong, 100, "{statuses:?}");
    assert!(
        refused >= 95,
        "only {refused} of 100 concurrent guesses were refused"
    );
}

/// Item 10: two logins of one user at once in single-session mode leave exactly one session.
#[test]
fn racing_single_session_logins_leave_exactly_one_session() {
    let (_dir, server) = single();
    let _ = bob(&server);
    let url = server.url.clone();
    let mut both_dead = 0;
    let mut both_alive = 0;
    for _ in 0..200 {
        let u = url.clone();
        // The same user on two computers at the same moment.
        let mut clients = at_once(2, move |i| {
            let mut c = Client::from_address(&u, IpAddr::V4(Ipv4Addr::new(127, 0, 3, 1 + i as u8)));
            c.login("bob", "bobs-password");
            c
        });
        let alive: Vec<bool> = clients
            .iter_mut()
            .map(|c| c.get("/api/session/time-remaining").status == 200)
            .collect();
        match (alive[0], alive[1]) {
            (false, false) => both_dead += 1,
            (true, true) => both_alive += 1,
            _ => {}
        }
    }
    assert_eq!(
        (both_dead, both_alive),
        (0, 0),
        "of 200 racing login pairs: {both_dead} left no session, {both_alive} left two"
    );
}
