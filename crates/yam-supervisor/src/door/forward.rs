//! Serving the door: forwarding each request to the server the route names (holding it while
//! none is ready), and the built-in server's fallback answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use tokio::sync::watch;

use super::upstream::{Backend, SendError};
use super::{Shared, Unavailable, websocket};
use crate::lifecycle::Route;
use crate::signins::Client;

/// A request that found its server gone before it reached it waits this long for the route
/// to change before it tries again.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

fn listener_for_tokio(shared: &Shared) -> std::io::Result<tokio::net::TcpListener> {
    let listener = shared.listener.try_clone()?;
    listener.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(listener)
}

fn options(name: &'static str) -> yam_net::ServeOptions {
    yam_net::ServeOptions::new(name, yam_net::raise_open_files_limit())
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Proxy mode: the door serves the public port for the supervisor's whole life.
pub(super) async fn serve(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let listener = match listener_for_tokio(&shared) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("the door cannot serve the public port: {e}");
            return;
        }
    };
    let app = Router::new().fallback(handle).with_state(shared);
    yam_net::serve(listener, app, options("door"), async move {
        stopped(&mut stop).await;
    })
    .await;
}

/// Handover mode: answers only while no server is coming, or none came in time.
pub(super) async fn fallback(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut table = shared.table.subscribe();
    loop {
        let why = loop {
            let (route, since) = {
                let t = table.borrow_and_update();
                (t.route, t.since)
            };
            let wake = match route {
                Route::Closed => break Unavailable::Stopped,
                Route::Hold if since.elapsed() >= shared.hold_limit => {
                    break Unavailable::NotInTime;
                }
                Route::Hold => Some(since + shared.hold_limit),
                Route::To(_) => None,
            };
            tokio::select! {
                changed = table.changed() => if changed.is_err() { return },
                () = sleep_until(wake) => {}
                () = stopped(&mut stop) => return,
            }
        };
        let listener = match listener_for_tokio(&shared) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("the door cannot answer on the public port: {e}");
                return;
            }
        };
        let counters = Arc::clone(&shared);
        let app = Router::new().fallback(move |request: Request| {
            let counters = Arc::clone(&counters);
            async move {
                counters
                    .counters
                    .unavailable
                    .fetch_add(1, Ordering::Relaxed);
                // The table may have moved on while this connection was accepted (a stop
                // answered just now): a stopped door says so, not "restarting".
                let why = match counters.table.borrow().route {
                    Route::Closed => Unavailable::Stopped,
                    _ => why,
                };
                why.respond(wants_json(request.uri().path(), request.headers()))
            }
        });
        let mut until = table.clone();
        let mut stop_here = stop.clone();
        yam_net::serve(listener, app, options("door (no server)"), async move {
            tokio::select! {
                _ = until.changed() => {}
                () = stopped(&mut stop_here) => {}
            }
        })
        .await;
        if *stop.borrow() {
            return;
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Whether the client wants JSON (`/api/…`, as YAM's API answers, or an Accept of JSON).
fn wants_json(path: &str, headers: &HeaderMap) -> bool {
    path.starts_with("/api/")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let json = wants_json(request.uri().path(), request.headers());
    let upgrade = is_upgrade(request.headers());
    let client_side = upgrade.then(|| hyper::upgrade::on(&mut request));
    prepare(&mut request, peer, upgrade);
    let sessions = shared.table.borrow().sessions.clone();
    let noted = sessions.as_ref().map(|s| {
        let client = Client {
            ip: Some(peer.ip().to_canonical().to_string()),
            user_agent: request
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(256).collect()),
        };
        s.on_request(request.headers_mut(), client)
    });
    let started = Instant::now();
    let deadline = started + shared.hold_limit;
    let mut waited = false;
    loop {
        let backend = match pick(&shared, deadline, &mut waited).await {
            Ok(b) => b,
            Err(why) => {
                shared.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                return why.respond(json);
            }
        };
        let sent = if upgrade {
            backend.open_upgrade(request).await
        } else {
            backend.send(request).await
        };
        match sent {
            Ok(mut response) => {
                let c = &shared.counters;
                c.forwarded.fetch_add(1, Ordering::Relaxed);
                if waited {
                    c.held.fetch_add(1, Ordering::Relaxed);
                    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    c.longest_hold_ms.fetch_max(ms, Ordering::Relaxed);
                }
                let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
                strip_hop_by_hop(response.headers_mut(), switching);
                if let (Some(s), Some(noted)) = (&sessions, noted) {
                    s.on_answer(noted, response.headers_mut());
                }
                if let (true, Some(client_side)) = (switching, client_side) {
                    relay(
                        Arc::clone(&shared),
                        client_side,
                        hyper::upgrade::on(&mut response),
                    );
                }
                return response;
            }
            Err(SendError::NotSent(unsent)) => {
                // The server went away before it got this request: wait for the next one.
                request = *unsent;
                waited = true;
                let mut table = shared.table.subscribe();
                let pause = Instant::now() + RETRY_PAUSE;
                let _ = tokio::time::timeout_at(pause.min(deadline).into(), table.changed()).await;
            }
            Err(SendError::Lost(e)) => {
                tracing::debug!(server = %backend.server, "request lost in the server: {e}");
                shared.counters.lost.fetch_add(1, Ordering::Relaxed);
                return Unavailable::Lost.respond(json);
            }
        }
    }
}

/// The server the route names, waiting (until `deadline`) while it says "hold".
async fn pick(
    shared: &Shared,
    deadline: Instant,
    waited: &mut bool,
) -> Result<Arc<Backend>, Unavailable> {
    let mut table = shared.table.subscribe();
    loop {
        {
            let t = table.borrow_and_update();
            match t.route {
                Route::To(server) => {
                    if let Some(b) = t.backends.get(&server) {
                        return Ok(Arc::clone(b));
                    }
                }
                Route::Hold => {}
                Route::Closed => return Err(Unavailable::Stopped),
            }
        }
        *waited = true;
        match tokio::time::timeout_at(deadline.into(), table.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Unavailable::Stopped),
            Err(_) => return Err(Unavailable::NotInTime),
        }
    }
}

fn relay(
    shared: Arc<Shared>,
    client: hyper::upgrade::OnUpgrade,
    server: hyper::upgrade::OnUpgrade,
) {
    tokio::spawn(async move {
        let (Ok(client), Ok(server)) = tokio::join!(client, server) else {
            return;
        };
        shared
            .counters
            .websockets_open
            .fetch_add(1, Ordering::Relaxed);
        websocket::relay(client, server).await;
        shared
            .counters
            .websockets_open
            .fetch_sub(1, Ordering::Relaxed);
    });
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Headers meant for one hop only (RFC 9110 §7.6.1), and those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<String> = connection_tokens(headers).collect();
    for name in named {
        if let Ok(name) = HeaderName::try_from(name.as_str())
            && !(keep_upgrade && name == header::UPGRADE)
        {
            headers.remove(name);
        }
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

/// Readies a client's request for the server: one-hop headers out, `X-Forwarded-*` in.
fn prepare(request: &mut Request, peer: SocketAddr, upgrade: bool) {
    let headers = request.headers_mut();
    strip_hop_by_hop(headers, upgrade);
    let ip = peer.ip().to_canonical().to_string();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) if !earlier.trim().is_empty() => format!("{earlier}, {ip}"),
        _ => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
        headers.insert("x-forwarded-for", v);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.insert("x-forwarded-host", host);
    }
    // The server gets the origin form (`/path?query`), whatever the client wrote.
    if let Some(pq) = request.uri().path_and_query().cloned() {
        *request.uri_mut() = pq.as_str().parse().unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hop_headers_go_and_the_client_address_is_added() {
        let mut request = Request::builder()
            .uri("http://example.test/a?b=1")
            .header(header::HOST, "yam.local:5000")
            .header(header::CONNECTION, "keep-alive, x-secret")
            .header("x-secret", "drop me")
            .header("keep-alive", "timeout=5")
            .header("x-forwarded-for", "10.0.0.9")
            .body(axum::body::Body::empty())
            .expect("request");
        prepare(
            &mut request,
            "192.168.1.20:5555".parse().expect("addr"),
            false,
        );
        let h = request.headers();
        assert!(!h.contains_key("x-secret") && !h.contains_key("keep-alive"));
        assert!(!h.contains_key(header::CONNECTION));
        assert_eq!(h["x-forwarded-for"], "10.0.0.9, 192.168.1.20");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "yam.local:5000");
        assert_eq!(request.uri(), "/a?b=1");
    }

    #[test]
    fn an_upgrade_keeps_its_upgrade_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade(&headers));
        strip_hop_by_hop(&mut headers, true);
        assert_eq!(headers[header::UPGRADE], "websocket");
        assert_eq!(headers[header::CONNECTION], "upgrade");
        strip_hop_by_hop(&mut headers, false);
        assert!(!headers.contains_key(header::UPGRADE));
    }
}
