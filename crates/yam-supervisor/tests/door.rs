//! What the supervisor's hold on the port means beyond plain requests: a WebSocket through
//! the door is closed properly by a restart and reconnects at once; an event stream ends
//! cleanly; requests wait for a crashed server and get a clear 503 (with `Retry-After`) when
//! none comes in time — never a refused connection; a stopped server's port answers at once;
//! stop-first ("hold") restarts refuse nothing either.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::steps::{kill_9, load, restart};
use common::yam_python::{Stand, python_harness, python_login};
use common::*;
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

/// Reads WebSocket messages until a text one; its text.
fn next_text(ws: &mut tungstenite::WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().expect("read") {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

fn open_ws(port: u16) -> (tungstenite::WebSocket<TcpStream>, String) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let (mut ws, response) =
        tungstenite::client(format!("ws://127.0.0.1:{port}/ws"), stream).expect("handshake");
    assert_eq!(response.status().as_u16(), 101);
    let hello = next_text(&mut ws);
    (ws, hello)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_websocket_through_the_door_closes_cleanly_on_a_restart_and_reconnects_at_once() {
    let h = python_harness(Stand::SignedCookie, |_| {}).await;
    h.running().await;
    let port = h.port;
    let (ws, hello) = tokio::task::spawn_blocking(move || {
        let (mut ws, hello) = open_ws(port);
        ws.send(Message::text("ping")).expect("send");
        assert_eq!(next_text(&mut ws), "ping", "echoed through the door");
        (ws, hello)
    })
    .await
    .expect("join");
    assert!(hello.starts_with("hello from "), "{hello}");
    h.wait("the WebSocket counted at the door", |s| {
        s.door.is_some_and(|d| d.websockets_open == 1)
    })
    .await;
    restart(&h).await;
    let (closed, again) = tokio::task::spawn_blocking(move || {
        let mut ws = ws;
        let closed = loop {
            match ws.read() {
                Ok(Message::Close(frame)) => break frame.map(|f| f.code),
                Ok(_) => {}
                Err(e) => panic!("the WebSocket broke instead of closing: {e}"),
            }
        };
        (closed, open_ws(port).1)
    })
    .await
    .expect("join");
    assert_eq!(
        closed,
        Some(CloseCode::Restart),
        "1012: the service restarts"
    );
    assert!(
        again.starts_with("hello from ") && again != hello,
        "{again} vs {hello}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_stream_through_the_door_ends_cleanly_when_its_server_retires() {
    let h = python_harness(Stand::SignedCookie, |o| {
        o.policy.drain = Duration::from_secs(1);
    })
    .await;
    h.running().await;
    let url = format!("http://127.0.0.1:{}/events", h.port);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut response = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client")
            .get(&url)
            .send()
            .expect("events");
        let mut buf = [0u8; 4096];
        loop {
            match response.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    });
    let first = tokio::task::spawn_blocking(move || {
        let first = rx.recv_timeout(Duration::from_secs(10)).expect("an event");
        (first, rx)
    })
    .await
    .expect("join");
    assert!(first.0.starts_with("data: "), "{}", first.0);
    restart(&h).await;
    let ended = tokio::task::spawn_blocking(move || reader.join().expect("reader"))
        .await
        .expect("join");
    assert_eq!(ended, Ok(()), "the stream ended as a complete response");
    h.stop().await;
}

/// GET `path` on a new connection: (status, Retry-After, body, how long it took). A refused
/// connection fails the test.
fn get_fresh(port: u16, path: &str) -> (u16, Option<String>, String, Duration) {
    let started = Instant::now();
    let r = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = r.status().as_u16();
    (
        status,
        retry,
        r.text().unwrap_or_default(),
        started.elapsed(),
    )
}

/// A server that does not come back in time: requests wait `hold`, then a 503 that says so;
/// stopped: a 503 at once that says that.
async fn held_then_told(h: Harness, hold: Duration) {
    h.running().await;
    let port = h.port;
    let pid = h.supervisor.status().pid.expect("pid");
    assert!(yam_testkit::signal(pid, "KILL"));
    h.wait("crashed", |s| !s.phase.has_process()).await;
    let (status, retry, body, took) =
        tokio::task::spawn_blocking(move || get_fresh(port, "/api/health"))
            .await
            .expect("join");
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("5"));
    assert!(
        body.contains("restarting and did not answer in time"),
        "{body}"
    );
    assert!(took >= hold - Duration::from_millis(100), "held {took:?}");

    h.supervisor.stop().await.expect("stop");
    let (status, retry, body, _) =
        tokio::task::spawn_blocking(move || get_fresh(port, "/api/health"))
            .await
            .expect("join");
    assert_eq!((status, retry.as_deref()), (503, Some("30")), "{body}");
    assert!(body.contains("YAM is stopped"), "{body}");
    let (status, _, page, _) = tokio::task::spawn_blocking(move || get_fresh(port, "/"))
        .await
        .expect("join");
    assert_eq!(status, 503);
    assert!(page.contains("<h1>YAM is unavailable</h1>"), "{page}");
    h.stop().await;
}

/// Restarts after a crash only after a minute: long enough to outlast the hold.
fn slow_recovery(o: &mut yam_supervisor::supervisor::Options) {
    o.policy.base_delay = Duration::from_secs(60);
    o.policy.max_delay = Duration::from_secs(60);
    o.hold_limit = Duration::from_secs(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_built_in_server_port_holds_requests_then_answers_503_never_refuses() {
    let h = harness_tuned(
        "",
        free_port(),
        tempfile::tempdir().expect("tmp"),
        slow_recovery,
    );
    held_then_told(h, Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_door_holds_requests_then_answers_503_never_refuses() {
    let h = python_harness(Stand::FlaskSession, slow_recovery).await;
    held_then_told(h, Duration::from_secs(2)).await;
}

async fn hold_restarts_refuse_nothing(h: Harness, cookie: String) {
    h.running().await;
    let load = load(h.port, "/api/session/time-remaining", cookie);
    tokio::time::sleep(Duration::from_millis(300)).await;
    restart(&h).await;
    let switched = h.supervisor.status().last_switch.expect("switch");
    assert!(switched.held && !switched.after_crash, "{switched:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = kill_9(&h).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = h.supervisor.status();
    let summary = tokio::task::spawn_blocking(move || load.stop().summary(&[killed]))
        .await
        .expect("join");
    println!("{summary}; last switch {:?}", status.last_switch);
    assert_eq!(
        (summary.refused, summary.failed, summary.logged_out),
        (0, 0, 0),
        "{summary}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stop_first_restarts_hold_requests_and_refuse_nothing() {
    let h = harness("restart_mode = \"hold\"\n");
    h.running().await;
    let cookie = format!("yam_session={}", h.login().await);
    hold_restarts_refuse_nothing(h, cookie).await;

    let h = python_harness(Stand::SignedCookie, |_| {}).await;
    h.supervisor
        .save_changes(vec![("restart_mode".into(), "hold".into())])
        .await
        .expect("hold");
    h.running().await;
    let cookie = python_login(h.port, Stand::SignedCookie).await;
    hold_restarts_refuse_nothing(h, cookie).await;
}

/// A custom command with `{port}` sits behind the door too; a server that keeps connections
/// alive (here yam-server itself) gets its connections reused. (Werkzeug, YAM's server, closes
/// each one: `Connection: close`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_custom_server_behind_the_door_gets_its_connections_reused() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("custom-data");
    let settings = format!(
        "profile = \"custom\"\ncustom_command = '\"{}\" --port {{port}} --data-dir \"{}\"'\ncustom_health_url = \"http://127.0.0.1:{{port}}/api/health\"\n",
        binary("yam-server").display(),
        data.display()
    );
    let h = harness_with(&settings, Default::default(), free_port(), dir);
    let s = h.running().await;
    assert_eq!(
        s.door.and_then(|d| d.mode),
        Some(yam_supervisor::door::DoorMode::Proxy),
        "a command with {{port}} is put behind the door"
    );
    let port = h.port;
    tokio::task::spawn_blocking(move || {
        let client = reqwest::blocking::Client::new();
        for _ in 0..50 {
            let r = client
                .get(format!("http://127.0.0.1:{port}/api/server-info"))
                .send()
                .expect("get");
            assert_eq!(r.status().as_u16(), 200);
        }
    })
    .await
    .expect("join");
    let s = h
        .wait("door stats", |s| s.door.is_some_and(|d| d.forwarded >= 50))
        .await;
    let door = s.door.expect("door");
    assert!(
        door.upstream_connections <= 3,
        "50 requests one after the other took {} connections to the server",
        door.upstream_connections
    );
    h.stop().await;
}
