//! kill -9 during a burst of logins: every login that got its success answer survives the
//! restart, and no session file is corrupt.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

#[test]
fn kill_9_during_a_login_burst_loses_no_confirmed_login() {
    let dir = tempfile::tempdir().expect("tmp");
    // Hundreds of logins of one user: above the per-user cap, which would end the older ones.
    let b = builder(dir.path())
        .arg("--allow-multiple-sessions")
        .arg("--max-sessions-per-user")
        .arg("100000");
    let mut server = b.spawn();
    let password = server.admin_password();
    let confirmed = Arc::new(Mutex::new(Vec::<String>::new()));
    let attempts = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    // Eight computers logging in over and over (one address has one login checked at a time).
    let workers: Vec<_> = (0..8u8)
        .map(|i| {
            let (url, password) = (server.url.clone(), password.clone());
            let (confirmed, attempts, stop) = (confirmed.clone(), attempts.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) && attempts.fetch_add(1, Ordering::SeqCst) < 600
                {
                    let http = reqwest::blocking::Client::builder()
                        .local_address(std::net::IpAddr::from([127, 0, 2, 10 + i]))
                        .build()
                        .expect("client");
                    let sent = http
                        .post(format!("{url}/login"))
                        .json(&serde_json::json!({ "login_id": "admin", "password": password }))
                        .send();
                    let Ok(resp) = sent else { continue };
                    if resp.status().as_u16() != 200 {
                        continue;
                    }
                    let cookie = yam_testkit::set_session_cookie(resp.headers()).map(str::to_owned);
                    // Only a complete success answer counts as confirmed.
                    if let (Some(cookie), Ok(_body)) = (cookie, resp.text()) {
                        confirmed.lock().expect("lock").push(cookie);
                    }
                }
            })
        })
        .collect();

    assert!(
        wait_until(Duration::from_secs(180), || confirmed
            .lock()
            .expect("lock")
            .len()
            >= 200),
        "the burst did not reach 200 logins"
    );
    server.kill();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker");
    }
    let confirmed = confirmed.lock().expect("lock").clone();
    let tried = attempts.load(Ordering::SeqCst).min(600);
    println!(
        "logins attempted: {tried}, confirmed before kill -9: {}",
        confirmed.len()
    );

    let (_, report) = yam_sessions::FileStore::open(dir.path().join("sessions")).expect("scan");
    assert_eq!(report.damaged, 0, "corrupt session files after kill -9");
    assert!(report.sessions >= confirmed.len());

    let server = b.spawn();
    let mut lost = 0;
    for cookie in &confirmed {
        if Client::with_cookie(&server.url, cookie)
            .get("/api/session/time-remaining")
            .status
            != 200
        {
            lost += 1;
        }
    }
    assert_eq!(
        lost,
        0,
        "{lost} of {} confirmed logins lost",
        confirmed.len()
    );
}
