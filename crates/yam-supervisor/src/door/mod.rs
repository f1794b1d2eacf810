//! The door: the supervisor's hold on the public port, for its whole life.
//!
//! - `Proxy` (Python YAM, custom commands): a small reverse proxy in front of the server's
//!   private loopback port. It forwards HTTP/1.1 and WebSocket upgrades, adds
//!   `X-Forwarded-For`/`-Proto`/`-Host`, streams bodies both ways, holds requests while no
//!   server is healthy (bounded by `hold_limit`, then 503 with `Retry-After`) and switches to
//!   a new server once it is healthy.
//! - `Handover` (the built-in server): the socket is handed to each server generation, which
//!   accepts on it directly (no hop). While no server accepts, the kernel's backlog holds new
//!   connections; the door answers them itself (503) only when no server is coming or none
//!   came within `hold_limit`.
//!
//! The seam for what comes next (HTTPS at the door, sessions read at the door): every request
//! of a proxied server passes through `forward::handle`.

mod at_door;
mod cookie_jar;
mod forward;
pub mod frames;
mod server_side;
mod sessions;
#[cfg(test)]
mod sessions_tests;
mod unavailable;
mod upstream;
mod websocket;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::lifecycle::{Gen, Route};
pub use at_door::AtDoor;
pub use server_side::{SIGHTINGS_FILE, ServerSideSessions, SidRules};
pub use sessions::{COMPANION, CookieRules, DoorSessions, SESSIONS_FILE, SecretCheck, now_ms};
pub use unavailable::Unavailable;
pub use upstream::Backend;

/// How the public port is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoorMode {
    Proxy,
    Handover,
}

/// What passed through the door since the supervisor started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorStats {
    pub mode: Option<DoorMode>,
    /// Requests a server answered through the door.
    pub forwarded: u64,
    /// Requests that waited for a server (a restart's gap, a crash).
    pub held: u64,
    pub longest_hold_ms: u64,
    /// Answered "unavailable" by the door (no server in time, or stopped).
    pub unavailable: u64,
    /// Lost inside a server that died while answering them.
    pub lost: u64,
    /// WebSockets relayed now.
    pub websockets_open: u64,
    /// Connections the door opened to the server that answers now (kept alive and reused).
    pub upstream_connections: u64,
}

#[derive(Default)]
struct Counters {
    forwarded: AtomicU64,
    held: AtomicU64,
    longest_hold_ms: AtomicU64,
    unavailable: AtomicU64,
    lost: AtomicU64,
    websockets_open: AtomicU64,
}

#[derive(Clone)]
struct Table {
    route: Route,
    /// When `route` last changed.
    since: Instant,
    backends: BTreeMap<Gen, Arc<Backend>>,
    /// Sessions read at the door (a Python YAM).
    sessions: Option<AtDoor>,
}

struct Shared {
    mode: DoorMode,
    table: watch::Sender<Table>,
    counters: Counters,
    hold_limit: Duration,
    listener: TcpListener,
}

pub struct Door {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Door {
    /// Starts serving `listener` (the public socket, already bound). Must run inside Tokio.
    pub fn open(
        listener: TcpListener,
        mode: DoorMode,
        hold_limit: Duration,
    ) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let (table, _) = watch::channel(Table {
            route: Route::Hold,
            since: Instant::now(),
            backends: BTreeMap::new(),
            sessions: None,
        });
        let shared = Arc::new(Shared {
            mode,
            table,
            counters: Counters::default(),
            hold_limit,
            listener,
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = match mode {
            DoorMode::Proxy => tokio::spawn(forward::serve(Arc::clone(&shared), stop_rx)),
            DoorMode::Handover => tokio::spawn(forward::fallback(Arc::clone(&shared), stop_rx)),
        };
        Ok(Self {
            shared,
            stop,
            task: Some(task),
        })
    }

    pub fn mode(&self) -> DoorMode {
        self.shared.mode
    }

    /// The public socket, for handing to a server.
    pub fn listener(&self) -> &TcpListener {
        &self.shared.listener
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.shared.listener.local_addr()
    }

    pub fn set_route(&self, route: Route) {
        self.shared.table.send_if_modified(|t| {
            if t.route == route {
                return false;
            }
            t.route = route;
            t.since = Instant::now();
            true
        });
    }

    /// Reads (or stops reading) sessions at the door.
    pub fn set_sessions(&self, sessions: Option<AtDoor>) {
        self.shared.table.send_modify(|t| t.sessions = sessions);
    }

    /// A server behind the door (proxy mode), reachable at `addr`.
    pub fn add_backend(&self, server: Gen, addr: SocketAddr) -> Arc<Backend> {
        let backend = Backend::new(server, addr);
        self.shared.table.send_modify(|t| {
            t.backends.insert(server, Arc::clone(&backend));
        });
        backend
    }

    pub fn backend(&self, server: Gen) -> Option<Arc<Backend>> {
        self.shared.table.borrow().backends.get(&server).cloned()
    }

    /// Forgets a server that has gone (its long responses end).
    pub fn remove_backend(&self, server: Gen) {
        let mut removed = None;
        self.shared
            .table
            .send_modify(|t| removed = t.backends.remove(&server));
        if let Some(b) = removed {
            b.close();
        }
    }

    pub fn stats(&self) -> DoorStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DoorStats {
            mode: Some(self.shared.mode),
            forwarded: get(&c.forwarded),
            held: get(&c.held),
            longest_hold_ms: get(&c.longest_hold_ms),
            unavailable: get(&c.unavailable),
            lost: get(&c.lost),
            websockets_open: get(&c.websockets_open),
            upstream_connections: {
                let t = self.shared.table.borrow();
                match t.route {
                    Route::To(g) => t.backends.get(&g).map_or(0, |b| b.connections() as u64),
                    Route::Hold | Route::Closed => 0,
                }
            },
        }
    }

    /// Stops serving; the port closes when this returns.
    pub async fn close(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
