//! Hostile input: every answer is a 4xx (never a 5xx), the server stays up, and nothing is
//! written outside the data and sessions folders.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use yam_testkit::raw_request;

fn host(url: &str) -> &str {
    url.trim_start_matches("http://")
}

fn raw_status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"))
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("ls").flatten() {
        let path = entry.path();
        if path.is_dir() {
            all_files(&path, out);
        }
        out.push(path);
    }
}

#[test]
fn hostile_requests_get_4xx_and_write_nothing_outside_the_folders() {
    let root = tempfile::tempdir().expect("tmp");
    let (data, cwd) = (root.path().join("data"), root.path().join("cwd"));
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let server = builder(&data)
        .arg("--allow-multiple-sessions")
        .current_dir(&cwd)
        .spawn();
    let _real_user = admin(&server);
    let token = server.control_token();
    let h = host(&server.url).to_owned();
    let mut statuses: Vec<(String, u16)> = Vec::new();
    let mut record = |what: &str, status: u16| statuses.push((what.to_owned(), status));

    // Cookies.
    let long = "A".repeat(10 * 1024);
    let many = (0..100)
        .map(|i| format!("yam_session=v{i}"))
        .collect::<Vec<_>>()
        .join("; ");
    for (name, cookie) in [
        ("dotdot cookie", "yam_session=../../etc/passwd".to_owned()),
        (
            "encoded dotdot cookie",
            "yam_session=..%2F..%2F..%2Fusers.db".to_owned(),
        ),
        ("10 KB cookie", format!("yam_session={long}")),
        (
            "43 chars with slashes",
            format!("yam_session={}", "../".repeat(14) + "a"),
        ),
        ("empty cookie", "yam_session=".to_owned()),
        ("100 session cookies", many),
    ] {
        for path in ["/api/session/time-remaining", "/"] {
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: {h}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
            );
            let status = raw_status(&raw_request(&server.url, req.as_bytes()));
            let expected = if path == "/" { 302 } else { 401 };
            assert_eq!(status, expected, "{name} on {path}");
            record(name, status);
        }
    }
    for (name, bytes) in [
        ("NUL in cookie", b"GET /api/session/time-remaining HTTP/1.1\r\nHost: x\r\nCookie: yam_session=ab\0cd\r\nConnection: close\r\n\r\n".to_vec()),
        ("non-UTF-8 cookie", b"GET /api/session/time-remaining HTTP/1.1\r\nHost: x\r\nCookie: yam_session=\xff\xfe\xfd\r\nConnection: close\r\n\r\n".to_vec()),
        ("10 KB bearer token", format!("GET /api/admin/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {long}\r\nConnection: close\r\n\r\n").into_bytes()),
        ("bare request line", b"GARBAGE\r\n\r\n".to_vec()),
    ] {
        let status = raw_status(&raw_request(&server.url, &bytes));
        assert!((400..500).contains(&status), "{name}: {status}");
        record(name, status);
    }

    // Bodies: 10 MB announced, 10 MB chunked, and malformed content.
    for path in ["/login", "/api/session/activity", "/force-logout"] {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {h}\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\nConnection: close\r\n\r\n{{\"a\":\""
        );
        let status = raw_status(&raw_request(&server.url, req.as_bytes()));
        assert_eq!(status, 413, "10 MB announced to {path}");
        record("10 MB body", status);
    }
    let mut chunked = format!("POST /login HTTP/1.1\r\nHost: {h}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").into_bytes();
    for _ in 0..3 {
        chunked.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        chunked.extend(std::iter::repeat_n(b'x', 64 * 1024));
        chunked.extend_from_slice(b"\r\n");
    }
    let status = raw_status(&raw_request(&server.url, &chunked));
    assert_eq!(status, 413, "chunked body over the limit");
    record("chunked 192 KB body", status);

    let nested = "[".repeat(100_000);
    let big_password = format!(
        "{{\"login_id\":\"admin\",\"password\":\"{}\"}}",
        "p".repeat(60_000)
    );
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "bad percent-encoding",
            "application/x-www-form-urlencoded",
            b"login_id=%ZZ&password=%".to_vec(),
        ),
        (
            "non-UTF-8 form",
            "application/x-www-form-urlencoded",
            b"login_id=\xff\xfe&password=\xc3\x28".to_vec(),
        ),
        (
            "wrong JSON types",
            "application/json",
            br#"{"login_id": 5, "password": []}"#.to_vec(),
        ),
        ("JSON array", "application/json", b"[]".to_vec()),
        (
            "deeply nested JSON",
            "application/json",
            nested.into_bytes(),
        ),
        (
            "non-UTF-8 JSON",
            "application/json",
            b"{\"login_id\":\"\xff\xff\"}".to_vec(),
        ),
        (
            "60 KB password",
            "application/json",
            big_password.into_bytes(),
        ),
        (
            "multipart",
            "multipart/form-data; boundary=x",
            b"--x\r\n\r\n--x--".to_vec(),
        ),
        ("XML", "application/xml", b"<login/>".to_vec()),
    ];
    for (name, content_type, body) in cases {
        let status = Client::new(&server.url)
            .post_raw("/login", content_type, body)
            .status;
        assert!((400..500).contains(&status), "{name}: {status}");
        record(name, status);
    }

    // Paths and queries.
    let mut admin_token = with_token(&server, &token);
    for (name, path) in [
        (
            "dotdot key",
            "/api/admin/sessions/..%2F..%2Fusers.db".to_owned(),
        ),
        (
            "uppercase key",
            format!("/api/admin/sessions/{}", "AB".repeat(32)),
        ),
        (
            "65-char key",
            format!("/api/admin/sessions/{}", "a".repeat(65)),
        ),
        ("NUL key", "/api/admin/sessions/%00".to_owned()),
    ] {
        let status = admin_token.delete(&path).status;
        assert!((400..500).contains(&status), "{name}: {status}");
        record(name, status);
    }
    for (name, path) in [
        ("negative page", "/api/admin/sessions?page=-1"),
        (
            "huge per_page",
            "/api/admin/sessions?per_page=999999999999999999999999",
        ),
        ("dotdot path", "/%2e%2e/%2e%2e/etc/passwd"),
        ("unknown API", "/api/../../etc/passwd"),
    ] {
        let status = admin_token.get(path).status;
        assert!((400..500).contains(&status), "{name}: {status}");
        record(name, status);
    }
    let r = Client::new(&server.url).get("/login?next=%00%0d%0aSet-Cookie:x");
    assert_eq!(r.status, 200);
    assert!(r.session_cookie().is_none());
    record("header injection in next", r.status);

    let total = statuses.len();
    assert!(total >= 35, "only {total} hostile inputs");
    println!("hostile inputs tried: {total}; statuses: {statuses:?}");
    assert!(statuses.iter().all(|(_, s)| *s < 500));
    assert_eq!(
        Client::new(&server.url).get("/api/health").status,
        200,
        "server died"
    );
    assert!(!server.output().contains("panicked"), "{}", server.output());

    // Nothing outside the data folder; the working folder stays empty.
    let mut files = Vec::new();
    all_files(root.path(), &mut files);
    for f in &files {
        assert!(
            f.starts_with(&data) || f == &cwd,
            "written outside the folders: {}",
            f.display()
        );
    }
    let allowed = [
        "users.db",
        "users.db-wal",
        "users.db-shm",
        "initial-admin-password.txt",
        "control-token",
        "server_startup_marker.txt",
        "sessions",
    ];
    for entry in std::fs::read_dir(&data).expect("ls").flatten() {
        let name = entry.file_name().into_string().expect("utf8");
        assert!(
            allowed.contains(&name.as_str()),
            "unexpected file in the data folder: {name}"
        );
    }
    for f in session_files(&server.sessions_dir()) {
        yam_sessions::SessionRecord::from_json(&std::fs::read(f).expect("read"))
            .expect("valid session file");
    }
}

#[test]
fn a_planted_session_cookie_of_another_user_is_never_served() {
    let (_dir, server) = multiple();
    let victim = admin(&server).cookie.expect("victim");
    let planted = bob(&server).cookie.expect("attacker");
    let second = admin(&server).cookie.expect("second");

    // A stale cookie (ended) next to a valid one: the valid one, as before.
    let mut stale = admin(&server);
    let stale_cookie = stale.cookie.clone().expect("stale");
    assert_eq!(stale.post("/api/session/logout").status, 200);
    let reply = Client::with_cookie(
        &server.url,
        &format!("{stale_cookie}; yam_session={victim}"),
    )
    .get("/api/admin/sessions");
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Two logins of the same user: served as that user.
    let reply = Client::with_cookie(&server.url, &format!("{second}; yam_session={victim}"))
        .get("/api/admin/sessions");
    assert_eq!(reply.status, 200, "{}", reply.body);

    // The attacker's cookie first (a more specific path is sent first), the victim's after:
    // never served as either, and both sessions end.
    let reply = Client::with_cookie(&server.url, &format!("{planted}; yam_session={victim}"))
        .get("/api/session/time-remaining");
    assert_eq!(reply.status, 401, "served as someone: {}", reply.body);
    assert_eq!(
        reply.json()["reason"],
        "ambiguous_session",
        "{}",
        reply.body
    );
    for cookie in [&planted, &victim] {
        let reply = Client::with_cookie(&server.url, cookie).get("/api/session/time-remaining");
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    // The victim logs in again and is themselves.
    assert_eq!(admin(&server).get("/api/admin/sessions").status, 200);
}
