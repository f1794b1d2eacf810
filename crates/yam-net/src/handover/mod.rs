//! Listening sockets handed from a supervisor to the servers it starts, so the public port
//! stays open across restarts and crashes: the supervisor binds it once and every server
//! generation accepts on the same socket (no proxy hop; the client's address is kept).
//!
//! Two sockets per server: `public` (shared by every generation) and `control` (a private
//! loopback socket of this generation, for the supervisor's health checks and admin calls).
//!
//! - Unix: inherited file descriptors 3 and 4, announced with `LISTEN_FDS=2` and
//!   `LISTEN_FDNAMES=public:control` (systemd's socket-activation convention, as `listenfd`
//!   and `systemfd` use it; `LISTEN_PID` is left out because the pid is not known before the
//!   fork, which `listenfd` accepts too).
//! - Windows: `WSADuplicateSocketW` for the child's pid, the protocol information written to
//!   the child's standard input (a pipe only it holds), rebuilt there with
//!   `WSASocketW(FROM_PROTOCOL_INFO)`; `YAM_LISTEN_SOCKETS=stdin` tells the child to read it.
//!
//! Every other socket of the supervisor is created close-on-exec / non-inheritable, so the
//! control API's sockets never leak into a server.

use std::io;
use std::net::{SocketAddr, TcpListener};

#[cfg(unix)]
pub mod unix;
#[cfg(windows)]
pub mod windows;

/// The names, in hand-over order.
pub const NAMES: [&str; 2] = ["public", "control"];
/// How many connections may wait to be accepted while no server accepts (a crash, a
/// restart's gap). The system may cap it lower (Linux: `net.core.somaxconn`, 4096 by
/// default).
pub const BACKLOG: i32 = 4096;

/// The sockets a server was handed.
#[derive(Debug)]
pub struct Sockets {
    pub public: TcpListener,
    pub control: TcpListener,
}

/// Server side: the sockets this process was handed, or `None` when it was started without
/// (then it binds its own, as a standalone server). Removes the announcing variables so a
/// child of this process does not take them for its own.
pub fn inherited() -> io::Result<Option<Sockets>> {
    #[cfg(unix)]
    {
        unix::inherited()
    }
    #[cfg(windows)]
    {
        windows::inherited()
    }
}

/// Supervisor side: binds the public address for the supervisor's whole life. On Windows
/// with `SO_EXCLUSIVEADDRUSE` (no other program may bind the port beside it); on Unix with
/// `SO_REUSEADDR` only (connections of an earlier run in TIME_WAIT do not block it, a live
/// listener does).
pub fn bind_public(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    #[cfg(windows)]
    windows::exclusive_address_use(&socket)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Supervisor side: a fresh private loopback socket for one server generation.
pub fn bind_control() -> io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_socket_refuses_a_second_listener_and_queues_connections() {
        let public = bind_public("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = public.local_addr().expect("addr");
        assert!(TcpListener::bind(addr).is_err(), "the port is ours");
        // Nobody accepts, yet connecting succeeds: the backlog holds it.
        let _waiting = std::net::TcpStream::connect(addr).expect("queued, not refused");
        let (_, peer) = public.accept().expect("accept");
        assert!(peer.ip().is_loopback());
    }
}
