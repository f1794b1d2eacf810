//! Sessions at the door (a YAM whose sessions are Flask's signed cookies): what reading and
//! following the cookie costs one request, and how soon a login through the door shows in the
//! supervisor's counts.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use yam_supervisor::door::{CookieRules, DoorSessions};
use yam_supervisor::readers::flask_cookie::Secrets;
use yam_supervisor::signins::Client;

use super::Plan;
use super::restarts::{python_settings, yam_folder};
use super::supervisor::{count_latency_row, launch, runtime};
use crate::procs::Bins;
use crate::report::Row;

/// A real cookie of the signed-cookie stand-in (Flask 3.1, its secret; compressed payload).
const COOKIE: &str =
    ".eJyrVoovLU4tis9MUbJSMlTSUYLzDCHsvMTcVKBUYkpuZp5SLQBtYw9T.axXpbA.OGALsiQ6zWAqAZ9PvpI6DhqFdCI";
const SECRET: &str = "yam-cookie-stand-in-secret";

/// Microseconds per request the door spends on the session: reading the request's cookies,
/// checking the signature, inflating and parsing the payload, following the sign-in, and
/// reading the answer's re-signed cookie.
fn cost_per_request(rounds: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let (sessions, _) = DoorSessions::open(CookieRules {
        session: "yam_session".into(),
        remember: "remember_token".into(),
        id_fields: vec!["_user_id".into(), "user_id".into()],
        name_field: "username".into(),
        secrets: Some(Secrets::new([SECRET])),
        lifetime_ms: 4 * 3_600_000,
        state_file: dir.path().join("door-sessions.json"),
    });
    let request_cookies = HeaderValue::from_str(&format!(
        "yam_session={COOKIE}; remember_token=1|abc; yam_tray_sid=0123456789abcdef0123456789abcdef"
    ))?;
    let answer_cookie = HeaderValue::from_str(&format!(
        "yam_session={COOKIE}; Expires=Wed, 06 Dec 2045 10:00:00 GMT; HttpOnly; Path=/"
    ))?;
    let client = Client {
        ip: Some("192.168.1.20".into()),
        user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64)".into()),
    };
    let once = || {
        let mut request = HeaderMap::new();
        request.insert(header::COOKIE, request_cookies.clone());
        let pending = sessions.on_request(&mut request, client.clone());
        let mut answer = HeaderMap::new();
        answer.insert(header::SET_COOKIE, answer_cookie.clone());
        sessions.on_answer(pending, &mut answer);
    };
    for _ in 0..1000 {
        once();
    }
    let started = Instant::now();
    for _ in 0..rounds {
        once();
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / rounds as f64)
}

/// Signs a browser in through the door (YAM's login form): its cookies, for logging out.
fn sign_in(url: &str) -> anyhow::Result<()> {
    let r = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(format!("{url}/login"))
        .form(&[("email", "admin@example.com"), ("password", "yam-password")])
        .send()?;
    anyhow::ensure!(r.status().as_u16() == 302, "login: {}", r.status());
    Ok(())
}

pub fn sessions_at_door(bins: &Bins, plan: Plan, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let rounds = if plan.rounds > 1 { 200_000 } else { 5_000 };
    let us = cost_per_request(rounds)?;
    rows.push(Row::new(
        "Reading a signed session cookie at the door and following its sign-in (per request)",
        format!("{us:.1} µs"),
        "—".into(),
        "—".into(),
        "< 20 µs",
        Some(us < 20.0),
    ));
    runtime()?.block_on(async {
        let dir = tempfile::tempdir()?;
        let yam = yam_folder(dir.path())?;
        let s = launch(
            bins,
            "bench-door-sessions",
            &python_settings(bins, &yam, ""),
        )
        .await?;
        let mut latencies = Vec::new();
        for i in 0..plan.logins.max(5) {
            let before = s.sup.status().sessions.live;
            let url = s.url.clone();
            let t = Instant::now();
            tokio::task::spawn_blocking(move || sign_in(&url)).await??;
            s.sup
                .wait_for(Duration::from_secs(5), |st| st.sessions.live == before + 1)
                .await
                .ok_or_else(|| anyhow::anyhow!("the count did not follow login {i}"))?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        rows.push(count_latency_row(
            "Signed-cookie YAM: a login through the door visible in the counts (p50 / max)",
            &mut latencies,
        ));
        s.shutdown().await;
        Ok::<(), anyhow::Error>(())
    })
}
