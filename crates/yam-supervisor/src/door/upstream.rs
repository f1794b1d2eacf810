//! One server behind the door (a generation on its private loopback port): a small pool of
//! HTTP/1.1 connections to it, the count of requests in flight (a retiring server is stopped
//! once it reaches zero), and a signal that ends its long responses cleanly.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::lifecycle::Gen;

/// Idle connections kept per server (each holds one of a threaded Werkzeug's threads).
const MAX_IDLE: usize = 32;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a request did not get an answer from this server.
pub enum SendError {
    /// It never reached the server (nothing listens, or the connection was closed before
    /// the request was written): safe to send elsewhere.
    NotSent(Box<Request<Body>>),
    /// It reached the server, which failed to answer (it died while answering).
    Lost(hyper::Error),
}

pub struct Backend {
    pub server: Gen,
    pub addr: SocketAddr,
    idle: Mutex<Vec<SendRequest<Body>>>,
    in_flight: AtomicUsize,
    /// Connections opened to it so far (a reused one is not counted again).
    connections: AtomicUsize,
    /// Set when it retires: no request starts here any more.
    retired: AtomicBool,
    quiet: Notify,
    /// Set when the server retires and its drain time is over: long responses end.
    closing: CancellationToken,
}

impl Backend {
    pub fn new(server: Gen, addr: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            server,
            addr,
            idle: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            retired: AtomicBool::new(false),
            quiet: Notify::new(),
            closing: CancellationToken::new(),
        })
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Takes no new request from now on (a request that picked this server a moment ago
    /// goes elsewhere) and resolves when none is in flight (upgrades do not count).
    pub async fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
        self.drained().await;
    }

    /// Resolves when no request is in flight here (upgraded connections do not count).
    async fn drained(&self) {
        loop {
            let notified = self.quiet.notified();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Ends the responses still streaming from this server (cleanly, as a finished body)
    /// and keeps no connection to it.
    pub fn close(&self) {
        self.closing.cancel();
        self.idle.lock().clear();
    }

    /// Sends `request` over a pooled or a new connection. A request without a body that
    /// fails before any answer on a reused connection (the server closed it, or died, just
    /// as it was sent) is sent again on another, as browsers do; after a failure on a new
    /// connection (the server died with it in its queue) once more.
    pub async fn send(
        self: &Arc<Self>,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, SendError> {
        let guard = InFlight::enter(self);
        // Counted first, then checked: `retire` sets the flag, then waits for the count.
        if self.retired.load(Ordering::SeqCst) {
            return Err(SendError::NotSent(Box::new(request)));
        }
        let replay = Replay::of(&request);
        let mut fresh_failures = 0;
        loop {
            let pooled = self.idle.lock().pop();
            let reused = pooled.is_some();
            let mut sender = match pooled {
                // Ready once it has finished with its last answer; an error: it closed.
                Some(mut s) => match s.ready().await {
                    Ok(()) => s,
                    Err(_) => continue,
                },
                None => match self.connect().await {
                    Ok(s) => s,
                    Err(()) => return Err(SendError::NotSent(Box::new(request))),
                },
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let closing = self.closing.clone().cancelled_owned();
                    // A server that closes after this answer (Werkzeug always does) leaves no
                    // connection to reuse: waiting for it to close would only cost time.
                    let reuse = (!closes_after(&response)).then(|| (sender, Arc::clone(self)));
                    return Ok(
                        response.map(|inner| Body::new(Tracked::new(inner, reuse, guard, closing)))
                    );
                }
                Err(mut e) => match (e.take_message(), &replay) {
                    // Closed before it was written: another connection may take it.
                    (Some(unsent), _) => request = unsent,
                    (None, Some(replay)) if reused || fresh_failures == 0 => {
                        fresh_failures += usize::from(!reused);
                        request = replay.rebuild();
                    }
                    (None, _) => return Err(SendError::Lost(e.into_error())),
                },
            }
        }
    }

    /// Sends an upgrade request (WebSocket) over a connection of its own, which becomes the
    /// relayed stream when the server agrees (101). Not counted in flight: a long-lived
    /// WebSocket must not hold up a restart; it ends when its server goes away.
    pub async fn open_upgrade(&self, request: Request<Body>) -> Result<Response<Body>, SendError> {
        let Ok(stream) = self.stream().await else {
            return Err(SendError::NotSent(Box::new(request)));
        };
        let Ok((mut sender, connection)) = http1::handshake(TokioIo::new(stream)).await else {
            return Err(SendError::NotSent(Box::new(request)));
        };
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        });
        match sender.try_send_request(request).await {
            Ok(response) => Ok(response.map(Body::new)),
            Err(mut e) => match e.take_message() {
                Some(unsent) => Err(SendError::NotSent(Box::new(unsent))),
                None => Err(SendError::Lost(e.into_error())),
            },
        }
    }

    async fn stream(&self) -> Result<tokio::net::TcpStream, ()> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(self.addr)).await
        {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
            Ok(Err(_)) | Err(_) => Err(()),
        }
    }

    /// A new connection; `Err` when nothing answers there.
    async fn connect(&self) -> Result<SendRequest<Body>, ()> {
        let stream = self.stream().await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| ())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn give_back(&self, sender: SendRequest<Body>) {
        if self.closing.is_cancelled() {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

/// What it takes to send a bodiless, idempotent request again.
struct Replay {
    method: hyper::Method,
    uri: hyper::Uri,
    headers: hyper::HeaderMap,
}

impl Replay {
    fn of(request: &Request<Body>) -> Option<Self> {
        let idempotent = matches!(
            *request.method(),
            hyper::Method::GET | hyper::Method::HEAD | hyper::Method::OPTIONS
        );
        (idempotent && request.body().size_hint().exact() == Some(0)).then(|| Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: request.headers().clone(),
        })
    }

    fn rebuild(&self) -> Request<Body> {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Counts a request in flight from its start until its response body has ended.
struct InFlight(Arc<Backend>);

impl InFlight {
    fn enter(backend: &Arc<Backend>) -> Self {
        backend.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(backend))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.quiet.notify_waiters();
        }
    }
}

/// A response body from the server: returns the connection to the pool when it ends, and
/// ends early (cleanly) when the server retires for good.
struct Tracked {
    inner: Incoming,
    reuse: Option<(SendRequest<Body>, Arc<Backend>)>,
    _guard: InFlight,
    closing: Pin<Box<WaitForCancellationFutureOwned>>,
}

/// Whether the server closes the connection after this answer.
fn closes_after(response: &Response<Incoming>) -> bool {
    let close = response
        .headers()
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
    close || response.version() == hyper::Version::HTTP_10
}

impl Tracked {
    fn new(
        inner: Incoming,
        reuse: Option<(SendRequest<Body>, Arc<Backend>)>,
        guard: InFlight,
        closing: WaitForCancellationFutureOwned,
    ) -> Self {
        let mut body = Self {
            inner,
            reuse,
            _guard: guard,
            closing: Box::pin(closing),
        };
        if body.inner.is_end_stream() {
            body.release();
        }
        body
    }

    /// The whole answer was read: its connection can take the next request.
    fn release(&mut self) {
        if let Some((sender, backend)) = self.reuse.take() {
            backend.give_back(sender);
        }
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.release();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.reuse = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                // hyper stops polling a body that says it has ended: the connection is free
                // now, not at a final `None` that may never be asked for.
                if this.inner.is_end_stream() {
                    this.release();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.closing.as_mut().poll(cx) {
                // The server is going away: finish the body here (an event stream's client
                // sees a normal end and reconnects). The half-read connection is not reused.
                Poll::Ready(()) => {
                    this.reuse = None;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
