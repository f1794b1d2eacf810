//! Authenticated GET throughput against the peers (interleaved A, B, A, B…), login latency,
//! and GET latency while others log in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::Plan;
use crate::procs::{self, Bins};
use crate::report::{Row, median, quantile};
use crate::wrk;

const PATH: &str = "/api/session/time-remaining";
const CLIENTS: u32 = 32;

fn fmt_rps(v: f64) -> String {
    format!("{v:.0} req/s")
}

pub fn throughput(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ours = procs::yam_server(bins, &dir.path().join("yam"))?;
    let cookie = procs::yam_login(&ours);
    let flask_dir = dir.path().join("flask");
    let gunicorn = procs::gunicorn(bins, &flask_dir)?;
    let flask_cookie = procs::flask_login(&gunicorn.url)?;
    let axum = procs::bare_axum(bins)?;
    let dev = procs::flask_dev(bins, &dir.path().join("flask-dev"))?;
    let dev_cookie = procs::flask_login(&dev.url)?;

    let (mut a, mut g, mut x, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.rounds {
        a.push(
            wrk::run(
                &format!("{}{PATH}", ours.url),
                Some(&cookie),
                CLIENTS,
                plan.run,
            )?
            .rps,
        );
        g.push(
            wrk::run(
                &format!("{}{PATH}", gunicorn.url),
                Some(&flask_cookie),
                CLIENTS,
                plan.run,
            )?
            .rps,
        );
        a.push(
            wrk::run(
                &format!("{}{PATH}", ours.url),
                Some(&cookie),
                CLIENTS,
                plan.run,
            )?
            .rps,
        );
        x.push(wrk::run(&format!("{}{PATH}", axum.url), None, CLIENTS, plan.run)?.rps);
        d.push(
            wrk::run(
                &format!("{}{PATH}", dev.url),
                Some(&dev_cookie),
                CLIENTS,
                plan.run,
            )?
            .rps,
        );
    }
    let (a, g, x, d) = (
        median(&mut a),
        median(&mut g),
        median(&mut x),
        median(&mut d),
    );
    rows.push(Row::new(
        "Authenticated GET /api/session/time-remaining: ours / Flask-Session on gunicorn (2 workers)",
        fmt_rps(a), fmt_rps(g), format!("{:.1}×", a / g), "≥ 40×", Some(a / g >= 40.0),
    ));
    rows.push(Row::new(
        "Same: ours / bare axum JSON handler (ceiling)",
        fmt_rps(a),
        fmt_rps(x),
        format!("{:.2}", a / x),
        "≥ 0.6",
        Some(a / x >= 0.6),
    ));
    rows.push(Row::new(
        "Same: ours / Flask dev server (what server.py runs)",
        fmt_rps(a),
        fmt_rps(d),
        format!("{:.1}×", a / d),
        "—",
        None,
    ));
    Ok(())
}

fn login_once(http: &reqwest::blocking::Client, url: &str, password: &str) -> anyhow::Result<f64> {
    let t = Instant::now();
    let resp = http
        .post(format!("{url}/login"))
        .json(&serde_json::json!({ "login_id": "admin", "password": password }))
        .send()?;
    anyhow::ensure!(
        resp.status().as_u16() == 200,
        "login failed: {}",
        resp.status()
    );
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

pub fn logins(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = procs::yam_server(bins, dir.path())?;
    let password = server.admin_password();
    let http = reqwest::blocking::Client::new();
    let mut times = Vec::new();
    for _ in 0..plan.logins {
        times.push(login_once(&http, &server.url, &password)?);
    }
    let p50 = median(&mut times);
    rows.push(Row::new(
        "Login p50 latency (argon2id m=19 MiB t=2 — OWASP minimum — in p=2 lanes)",
        format!("{p50:.1} ms"),
        "—".into(),
        "—".into(),
        "≤ 30 ms",
        Some(p50 <= 30.0),
    ));

    let cookie = procs::yam_login(&server);
    let url = format!("{}{PATH}", server.url);
    let mut idle = Vec::new();
    let mut loaded = Vec::new();
    for _ in 0..plan.rounds {
        idle.push(wrk::run(&url, Some(&cookie), 8, plan.run)?.p99_ms);
        let stop = Arc::new(AtomicBool::new(false));
        // Eight computers: one address has one login checked at a time (throttle.rs).
        let loggers: Vec<_> = (0..8u8)
            .map(|i| {
                let (stop, url, password) = (stop.clone(), server.url.clone(), password.clone());
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::builder()
                        .local_address(std::net::IpAddr::from([127, 0, 4, 10 + i]))
                        .build()
                        .unwrap_or_default();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        if login_once(&http, &url, &password).is_ok() {
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        loaded.push(wrk::run(&url, Some(&cookie), 8, plan.run)?.p99_ms);
        stop.store(true, Ordering::Relaxed);
        let n: usize = loggers.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        anyhow::ensure!(n > 0, "no login completed during the load run");
    }
    let (i, l) = (median(&mut idle), median(&mut loaded));
    rows.push(Row::new(
        "Authenticated GET p99 while 8 clients log in continuously / p99 idle",
        format!("{l:.2} ms"),
        format!("{i:.2} ms idle"),
        format!("{:.2}×", l / i),
        "≤ 2×",
        Some(l / i <= 2.0),
    ));
    let _ = quantile(&mut times, 0.99);
    Ok(())
}

/// Throughput as the number of live sessions grows.
pub fn growth(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let sizes = if plan.big >= 100_000 {
        vec![1_000, 10_000, 100_000]
    } else {
        vec![100, plan.big]
    };
    let label = |n: usize| {
        if n >= 1000 {
            format!("{}k", n / 1000)
        } else {
            n.to_string()
        }
    };
    let metric = format!(
        "Authenticated GET req/s at {} live sessions",
        sizes
            .iter()
            .map(|&n| label(n))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    let mut cells = Vec::new();
    for n in sizes {
        let dir = tempfile::tempdir()?;
        crate::fixtures::yam_sessions(&dir.path().join("sessions"), n, 50)?;
        let server = procs::yam_server(bins, dir.path())?;
        let cookie = procs::yam_login(&server);
        let mut r = Vec::new();
        for _ in 0..plan.rounds {
            r.push(
                wrk::run(
                    &format!("{}{PATH}", server.url),
                    Some(&cookie),
                    CLIENTS,
                    plan.run,
                )?
                .rps,
            );
        }
        cells.push(format!("{}: {:.0}", label(n), median(&mut r)));
    }
    rows.push(Row::info(&metric, cells.join(" · ")));
    Ok(())
}
