//! Serving an axum `Router` over TCP with the limits `axum::serve` does not set: a connection
//! that does not send its request headers in time is closed (slowloris), connections are
//! capped below the open-files limit (and the cap is logged when reached), and the process's
//! soft open-files limit is raised to its hard one. Used by `yam-server` and `yamctl up`.

pub mod handover;
mod limits;
mod shares;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

pub use limits::{OpenFiles, connection_cap, raise_open_files_limit};
pub use shares::{Origin, Share, Shares};

/// The most a request's head (request line and headers) may take. hyper's default lets a
/// connection that never finishes its headers grow a 400 KB buffer (≈540 KB a connection
/// measured): 16,384 of them would be gigabytes. Real requests stay far below this — a
/// Flask session cookie is at most 4 KB — and a larger head is answered 431.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How a listener is served.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// For log lines: "YAM server", "control API".
    pub name: &'static str,
    /// A connection must send a request's complete headers within this time.
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    /// After the shutdown signal, requests in flight get this long.
    pub grace: Duration,
    /// After the shutdown signal, open connections get this long to send one more request,
    /// answered with `Connection: close`, before idle ones are closed. A keep-alive client
    /// then learns of the close from an answer instead of racing a closing socket (a request
    /// written just as the server closes an idle connection fails). Zero: close idle ones at
    /// once.
    pub linger: Duration,
    /// Connections one client address may hold (see [`Shares`]).
    pub per_address: usize,
    /// Addresses without a share limit: trusted reverse proxies.
    pub unshared: Vec<std::net::IpAddr>,
}

impl ServeOptions {
    /// Ten seconds for headers, the connection cap that fits `open_files`, a quarter of it per
    /// client address, ten seconds grace.
    pub fn new(name: &'static str, open_files: Option<OpenFiles>) -> Self {
        let max_connections = connection_cap(open_files);
        Self {
            name,
            header_read_timeout: Duration::from_secs(10),
            max_connections,
            grace: Duration::from_secs(10),
            linger: Duration::ZERO,
            per_address: per_address_share(max_connections),
            unshared: Vec::new(),
        }
    }
}

/// A quarter of the places, at least 16: a whole office behind one NAT address (six
/// connections a browser) fits, one script cannot take every place.
pub fn per_address_share(max_connections: usize) -> usize {
    (max_connections / 4).max(16)
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets requests
/// in flight finish (up to `grace`) and returns. Handlers can extract
/// `ConnectInfo<SocketAddr>`; connections may be upgraded (WebSocket).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    // Tells every connection to finish its request in flight and close.
    let (closing_tx, _) = tokio::sync::watch::channel(false);
    let places = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let draining = Arc::new(AtomicBool::new(false));
    let mut at_capacity = false;
    let mut accept_failing = false;
    let shares = Shares::new(options.per_address, options.unshared.clone());
    let mut share_warned: Option<std::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let place = match Arc::clone(&places).try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                if !at_capacity {
                    tracing::warn!(
                        "{}: connection limit ({}) reached; new connections wait until one \
                         closes (a connection that sends no complete request headers is closed \
                         after {:?})",
                        options.name,
                        options.max_connections,
                        options.header_read_timeout
                    );
                    at_capacity = true;
                }
                tokio::select! {
                    place = Arc::clone(&places).acquire_owned() => match place {
                        Ok(place) => place,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&options, &e, &mut accept_failing).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if at_capacity && places.available_permits() > options.max_connections / 10 {
            tracing::info!("{}: below the connection limit again", options.name);
            at_capacity = false;
        }
        accept_failing = false;
        let Some(share) = shares.take(peer.ip()) else {
            // Closed at once: its place goes back to everyone else.
            if share_warned.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(
                    "{}: {} holds its share of connections ({}); closing new ones from it",
                    options.name,
                    peer.ip(),
                    options.per_address
                );
                share_warned = Some(std::time::Instant::now());
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let closing = Arc::clone(&draining);
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            })
            .map_response(move |mut response: axum::response::Response| {
                if closing.load(Ordering::Relaxed) {
                    response.headers_mut().insert(
                        axum::http::header::CONNECTION,
                        axum::http::HeaderValue::from_static("close"),
                    );
                }
                response
            });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(options.header_read_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut close = closing_tx.subscribe();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = closed(&mut close) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(peer = %peer, "connection ended: {e}");
            }
            drop(share);
            drop(place);
        });
    }
    drop(listener);
    draining.store(true, Ordering::Relaxed);
    // Every place back = every connection closed.
    let all = u32::try_from(options.max_connections.max(1)).unwrap_or(u32::MAX);
    if !options.linger.is_zero() {
        // Meanwhile each answer says `Connection: close`.
        let _ = tokio::time::timeout(options.linger, places.acquire_many(all)).await;
    }
    let _ = closing_tx.send(true);
    if tokio::time::timeout(options.grace, places.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "{}: requests still running after {:?}; stopping anyway",
            options.name,
            options.grace
        );
    }
}

/// Resolves once the close signal is set (or its sender is gone).
async fn closed(close: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = close.wait_for(|closing| *closing).await;
}

/// Accepting failed. Out of file descriptors: say so once, wait a moment (connections close
/// meanwhile) and go on. A connection reset before it was accepted is nothing.
async fn accept_failed(options: &ServeOptions, e: &std::io::Error, failing: &mut bool) {
    if is_connection_error(e) {
        return;
    }
    if !*failing {
        tracing::error!(
            "{}: cannot accept connections ({e}); retrying. Too many open files means the \
             open-files limit is too low for the load",
            options.name
        );
        *failing = true;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
