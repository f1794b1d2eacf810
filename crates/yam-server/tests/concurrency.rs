//! Many requests on one session at once: no error, no lost or corrupt session.

mod common;

use common::*;

#[test]
fn fifty_concurrent_requests_on_one_session() {
    let (_dir, server) = multiple();
    let c = admin(&server);
    let cookie = c.cookie.clone().expect("cookie");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (url, cookie) = (server.url.clone(), cookie.clone());
                scope.spawn(move || {
                    let mut tab = Client::with_cookie(&url, &cookie);
                    match i % 3 {
                        0 => tab.post("/api/session/activity").status,
                        1 => tab.post("/api/session/extend").status,
                        _ => tab.get("/api/session/time-remaining").status,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let mut tab = Client::with_cookie(&server.url, &cookie);
    assert_eq!(tab.get("/api/session/time-remaining").status, 200);
    let files = session_files(&server.sessions_dir());
    assert_eq!(files.len(), 1);
    yam_sessions::SessionRecord::from_json(&std::fs::read(&files[0]).expect("read"))
        .expect("intact");
    let leftovers = std::fs::read_dir(server.sessions_dir())
        .expect("ls")
        .count();
    assert_eq!(leftovers, 1, "temp files left behind");
}

#[test]
fn logout_during_a_burst_is_never_undone() {
    let (_dir, server) = multiple();
    let c = admin(&server);
    let cookie = c.cookie.clone().expect("cookie");
    std::thread::scope(|scope| {
        for _ in 0..20 {
            let (url, cookie) = (server.url.clone(), cookie.clone());
            scope.spawn(move || {
                let mut tab = Client::with_cookie(&url, &cookie);
                for _ in 0..5 {
                    let s = tab.post("/api/session/extend").status;
                    assert!(s == 200 || s == 401, "{s}");
                }
            });
        }
        let (url, cookie) = (server.url.clone(), cookie.clone());
        scope.spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert_eq!(
                Client::with_cookie(&url, &cookie)
                    .post("/api/session/logout")
                    .status,
                200
            );
        });
    });
    let mut tab = Client::with_cookie(&server.url, &cookie);
    assert_eq!(tab.get("/api/session/time-remaining").status, 401);
    assert!(
        session_files(&server.sessions_dir()).is_empty(),
        "a logged-out session came back"
    );
}
