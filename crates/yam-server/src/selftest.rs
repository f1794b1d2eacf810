//! `yam-server selftest`: YAM's scripts/test_multiple_sessions.py as assertions, one line per
//! check, non-zero exit on any failure.

use std::process::ExitCode;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::users::cli::read_password_line;

/// One browser: a session cookie, kept by hand so every answer is visible.
struct Tab {
    http: Client,
    base: String,
    cookie: Option<String>,
}

struct Answer {
    status: u16,
    body: Value,
}

impl Tab {
    fn new(http: &Client, base: &str) -> Self {
        Self {
            http: http.clone(),
            base: base.trim_end_matches('/').to_owned(),
            cookie: None,
        }
    }

    fn send(&mut self, req: RequestBuilder) -> Result<Answer, String> {
        let req = match &self.cookie {
            Some(c) => req.header("Cookie", format!("yam_session={c}")),
            None => req,
        };
        let resp: Response = req.send().map_err(|e| format!("request failed: {e}"))?;
        for set in resp.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap_or("");
            if let Some(rest) = set.strip_prefix("yam_session=") {
                let value = rest.split(';').next().unwrap_or("");
                self.cookie =
                    (!value.is_empty() && !set.contains("Max-Age=0")).then(|| value.to_owned());
            }
        }
        let status = resp.status().as_u16();
        let body = resp.json().unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    fn get(&mut self, path: &str) -> Result<Answer, String> {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req)
    }

    fn post(&mut self, path: &str, body: Value) -> Result<Answer, String> {
        let req = self.http.post(format!("{}{path}", self.base)).json(&body);
        self.send(req)
    }
}

struct Report {
    failures: usize,
}

impl Report {
    fn check(&mut self, name: &str, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => {
                println!("ok    {name}");
                true
            }
            Err(detail) => {
                println!("FAIL  {name}: {detail}");
                self.failures += 1;
                false
            }
        }
    }
}

fn expect_status(a: &Answer, want: u16) -> Result<(), String> {
    if a.status == want {
        Ok(())
    } else {
        Err(format!("HTTP {} (expected {want}): {}", a.status, a.body))
    }
}

fn healthy_session(a: &Answer) -> Result<(), String> {
    expect_status(a, 200)?;
    let secs = a.body["time_remaining_seconds"]
        .as_i64()
        .ok_or("no time_remaining_seconds")?;
    if a.body["session_healthy"] != json!(true) || secs <= 0 {
        return Err(format!("session not healthy: {}", a.body));
    }
    Ok(())
}

pub fn main(url: &str, user: &str) -> ExitCode {
    let password = match read_password_line(&format!("Password for {user}: ")) {
        Ok(Some(p)) => p,
        Ok(None) => {
            eprintln!("error: no password given on stdin");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let failures = run(url, user, &password);
    if failures == 0 {
        println!("selftest passed");
        ExitCode::SUCCESS
    } else {
        println!(
            "selftest FAILED: {failures_checks}",
            failures_checks = yam_sessions::words::count(failures, "check")
        );
        ExitCode::FAILURE
    }
}

/// Runs every check; returns how many failed.
pub fn run(url: &str, user: &str, password: &str) -> usize {
    let mut report = Report { failures: 0 };
    let http = match Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            report.check("http client", Err(e.to_string()));
            return report.failures;
        }
    };
    let mut anon = Tab::new(&http, url);
    let mut a = Tab::new(&http, url);
    let mut b = Tab::new(&http, url);
    let creds = json!({ "login_id": user, "password": password });

    report.check(
        "health",
        anon.get("/api/health").and_then(|r| expect_status(&r, 200)),
    );
    let mut lifetime = 0;
    report.check(
        "server info",
        anon.get("/api/server-info").and_then(|r| {
            expect_status(&r, 200)?;
            lifetime = r.body["session_lifetime_hours"]
                .as_i64()
                .ok_or("no session_lifetime_hours")?;
            Ok(())
        }),
    );
    let first = report.check(
        "first login",
        a.post("/login", creds.clone())
            .and_then(|r| expect_status(&r, 200)),
    );
    let second = report.check(
        "second login as the same user",
        b.post("/login", creds).and_then(|r| expect_status(&r, 200)),
    );
    if !(first && second) {
        return report.failures;
    }
    report.check(
        "the two sessions are distinct",
        if a.cookie != b.cookie {
            Ok(())
        } else {
            Err("same cookie twice".into())
        },
    );
    report.check(
        "first session still valid",
        a.get("/api/session/time-remaining")
            .and_then(|r| healthy_session(&r)),
    );
    report.check(
        "second session valid",
        b.get("/api/session/time-remaining")
            .and_then(|r| healthy_session(&r)),
    );
    report.check(
        "time remaining within the lifetime",
        a.get("/api/session/time-remaining").and_then(|r| {
            let secs = r.body["time_remaining_seconds"].as_i64().unwrap_or(-1);
            if secs > 0 && secs <= lifetime * 3600 {
                Ok(())
            } else {
                Err(format!("{secs} s left with a {lifetime} h lifetime"))
            }
        }),
    );
    report.check(
        "protected page with a session",
        a.get("/").and_then(|r| expect_status(&r, 200)),
    );
    report.check(
        "protected API refused without a session",
        anon.get("/api/session/time-remaining")
            .and_then(|r| expect_status(&r, 401)),
    );
    report.check(
        "server info knows the session",
        a.get("/api/server-info").and_then(|r| {
            expect_status(&r, 200)?;
            if r.body["authenticated"] == json!(true) {
                Ok(())
            } else {
                Err(format!("{}", r.body))
            }
        }),
    );
    report.check(
        "activity renews",
        a.post("/api/session/activity", json!({}))
            .and_then(|r| healthy_session(&r)),
    );
    let first_cookie = a.cookie.clone();
    report.check(
        "logout of the first session",
        a.post("/api/session/logout", json!({}))
            .and_then(|r| expect_status(&r, 200)),
    );
    report.check("first session ended", {
        // Replay the old cookie, as a second tab of the same browser would.
        a.cookie = first_cookie;
        a.get("/api/session/time-remaining")
            .and_then(|r| expect_status(&r, 401))
    });
    report.check(
        "second session survives the first's logout",
        b.get("/api/session/time-remaining")
            .and_then(|r| healthy_session(&r)),
    );
    report.check(
        "logout of the second session",
        b.post("/api/session/logout", json!({}))
            .and_then(|r| expect_status(&r, 200)),
    );
    report.failures
}
