//! Sessions in Redis, users in PostgreSQL, instances behind nginx: what sharing costs and what
//! a second instance buys, against the folder store in the same run. Real redis-server,
//! PostgreSQL and nginx (yam-services), started in temp folders.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use yam_services::{Nginx, Postgres, Redis, free_port};
use yam_sessions::RedisStore;
use yam_testkit::{Client, ServerBuilder, ServerProcess};

use super::Plan;
use super::supervisor::{count_latency_row, launch, runtime};
use crate::procs::Bins;
use crate::report::{Row, median};
use crate::wrk;

const PATH: &str = "/api/session/time-remaining";
const CLIENTS: u32 = 32;

fn server(
    bins: &Bins,
    data: &std::path::Path,
    port: u16,
    extra: &[&str],
) -> anyhow::Result<ServerProcess> {
    let mut b = ServerBuilder::new(bins.path("yam-server"), data)
        .port(port)
        .arg("--allow-multiple-sessions")
        .env("YAM_LOG", "warn");
    for a in extra {
        b = b.arg(*a);
    }
    b.try_spawn()
        .map_err(|out| anyhow::anyhow!("yam-server did not start:\n{out}"))
}

fn login(url: &str, password: &str) -> String {
    let mut c = Client::new(url);
    c.login("admin", password);
    c.cookie.unwrap_or_default()
}

/// Successful logins per second from 8 client addresses during `run`.
fn login_rate(url: &str, password: &str, run: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8u8)
        .map(|i| {
            let (stop, done, url, password) = (
                stop.clone(),
                done.clone(),
                url.to_owned(),
                password.to_owned(),
            );
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .local_address(std::net::IpAddr::from([127, 0, 5, 10 + i]))
                    .build()
                    .unwrap_or_default();
                while !stop.load(Ordering::Relaxed) {
                    let ok = http
                        .post(format!("{url}/login"))
                        .json(&serde_json::json!({ "login_id": "admin", "password": password }))
                        .send()
                        .is_ok_and(|r| r.status().as_u16() == 200);
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The machine's (idle, total) CPU time so far, from /proc/stat (Linux).
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    Some((
        fields.get(3)? + fields.get(4).unwrap_or(&0),
        fields.iter().sum(),
    ))
}

fn rps(v: f64) -> String {
    format!("{v:.0} req/s")
}

pub fn redis_and_instances(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let redis = Redis::start();
    let postgres = Postgres::start();
    let database = postgres.create_database("yam");

    // One instance each: the folder store, and Redis (users in PostgreSQL, as deployed).
    let folder = server(bins, &dir.path().join("folder"), free_port(), &[])?;
    let folder_cookie = login(&folder.url, &folder.admin_password());
    let secret = "bench-form-secret-of-at-least-32-characters";
    let shared_args = [
        "--store",
        &redis.url(),
        "--database",
        &database,
        "--form-secret",
        secret,
        "--trusted-proxy",
        "127.0.0.1",
    ];
    let one = server(bins, &dir.path().join("one"), free_port(), &shared_args)?;
    let password = one.admin_password();
    let two = server(bins, &dir.path().join("two"), free_port(), &shared_args)?;
    let redis_cookie = login(&one.url, &password);
    let port_of = |s: &ServerProcess| {
        s.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    };
    let nginx_one = Nginx::start(&[port_of(&one)]);
    let nginx_two = Nginx::start(&[port_of(&one), port_of(&two)]);

    let (mut f, mut r, mut n1, mut n2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut f50, mut r50, mut idle): (Vec<f64>, Vec<f64>, Vec<f64>) =
        (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.rounds {
        let a = wrk::run(
            &format!("{}{PATH}", folder.url),
            Some(&folder_cookie),
            CLIENTS,
            plan.run,
        )?;
        let b = wrk::run(
            &format!("{}{PATH}", one.url),
            Some(&redis_cookie),
            CLIENTS,
            plan.run,
        )?;
        f.push(a.rps);
        r.push(b.rps);
        f50.push(a.p50_ms);
        r50.push(b.p50_ms);
        let before = cpu_times();
        n1.push(
            wrk::run(
                &format!("{}{PATH}", nginx_one.url()),
                Some(&redis_cookie),
                CLIENTS,
                plan.run,
            )?
            .rps,
        );
        if let (Some((i0, t0)), Some((i1, t1))) = (before, cpu_times()) {
            idle.push((i1 - i0) as f64 / (t1 - t0).max(1) as f64 * 100.0);
        }
        n2.push(
            wrk::run(
                &format!("{}{PATH}", nginx_two.url()),
                Some(&redis_cookie),
                CLIENTS,
                plan.run,
            )?
            .rps,
        );
    }
    let (f, r, n1, n2) = (
        median(&mut f),
        median(&mut r),
        median(&mut n1),
        median(&mut n2),
    );
    let (f50, r50) = (median(&mut f50), median(&mut r50));
    rows.push(Row::new(
        "Authenticated GET, one instance: sessions in Redis / in the folder",
        rps(r),
        rps(f),
        format!("{:.2}", r / f),
        "≥ 0.5",
        Some(r / f >= 0.5),
    ));
    let idle = median(&mut idle);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let metric = format!(
        "Authenticated GET behind nginx: two instances / one instance (Redis + PostgreSQL; the \
         machine was {idle:.0}% idle during the one-instance run: {cores} cores shared by wrk, \
         nginx, Redis and the servers)"
    );
    rows.push(Row::new(
        &metric,
        rps(n2),
        rps(n1),
        format!("{:.2}×", n2 / n1),
        "≥ 1.3×",
        Some(n2 / n1 >= 1.3),
    ));

    // What one Redis round trip costs: a GET of the change mark, and the GET latency.
    let store = RedisStore::open(&redis.url(), "yam:", yam_sessions::RecordSeal::Unchecked)?;
    let mut trips = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        store.change_mark()?;
        trips.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let trip = median(&mut trips);
    rows.push(Row::info(
        "One Redis round trip (p50), and authenticated GET p50 latency with Redis / folder",
        format!("{trip:.0} µs; {r50:.2} ms / {f50:.2} ms"),
    ));

    let folder_logins = login_rate(&folder.url, &folder.admin_password(), plan.run);
    let redis_logins = login_rate(&one.url, &password, plan.run);
    rows.push(Row::new(
        "Logins per second (8 client addresses): Redis + PostgreSQL / folder + SQLite",
        format!("{redis_logins:.0}/s"),
        format!("{folder_logins:.0}/s"),
        format!("{:.2}", redis_logins / folder_logins.max(f64::MIN_POSITIVE)),
        "—",
        None,
    ));
    let behind_one = login_rate(&nginx_one.url(), &password, plan.run);
    let behind_two = login_rate(&nginx_two.url(), &password, plan.run);
    rows.push(Row::new(
        "Logins per second behind nginx: two instances / one instance (argon2id bound)",
        format!("{behind_two:.0}/s"),
        format!("{behind_one:.0}/s"),
        format!("{:.2}×", behind_two / behind_one.max(f64::MIN_POSITIVE)),
        "—",
        None,
    ));
    drop((nginx_one, nginx_two, one, two, folder));
    count_latency(bins, plan, &redis, rows)
}

/// From a login's answer to the supervisor's count, sessions in Redis.
fn count_latency(
    bins: &Bins,
    plan: Plan,
    redis: &Redis,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let settings =
            format!("session_store = \"{}\"\nsession_key_prefix = \"count:\"\n", redis.url());
        let supervised = launch(bins, "bench-redis", &settings).await?;
        let mut latencies = Vec::new();
        for i in 0..plan.logins.max(5) {
            let before = supervised.sup.status().sessions.live;
            let (u, p) = (supervised.url.clone(), supervised.password.clone());
            let cookie = tokio::task::spawn_blocking(move || login(&u, &p)).await?;
            let t = Instant::now();
            supervised
                .sup
                .wait_for(Duration::from_secs(5), |s| s.sessions.live == before + 1)
                .await
                .ok_or_else(|| anyhow::anyhow!("the count did not follow login {i}"))?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            // Logged out again: the server keeps at most 30 sessions a user, so a 31st
            // login would end the oldest and the count would not move.
            let u = supervised.url.clone();
            tokio::task::spawn_blocking(move || {
                let mut c = Client::new(&u);
                c.cookie = Some(cookie);
                c.post("/api/session/logout")
            })
            .await?;
            supervised
                .sup
                .wait_for(Duration::from_secs(5), |s| s.sessions.live == before)
                .await
                .ok_or_else(|| anyhow::anyhow!("the count did not follow logout {i}"))?;
        }
        rows.push(count_latency_row(
            "Session count from Redis after a login's answer (p50 / max; 100 ms poll of a change counter)",
            &mut latencies,
        ));
        supervised.shutdown().await;
        Ok::<(), anyhow::Error>(())
    })
}
