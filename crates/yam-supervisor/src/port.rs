//! Who listens on the server's port, decided before a start.

use std::net::TcpListener;

use crate::lock::Orphan;
use crate::procs::ProcessTable;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortCheck {
    Free,
    /// Our own server from a supervisor that is gone: safe to kill.
    OurOrphan {
        pid: u32,
    },
    /// Someone else: never killed.
    Busy {
        pid: Option<u32>,
        name: String,
    },
}

/// Processes listening on TCP `port`.
pub fn listeners_on(port: u16) -> Vec<u32> {
    match listeners::get_all() {
        Ok(all) => {
            let mut pids: Vec<u32> = all
                .into_iter()
                .filter(|l| {
                    l.protocol == listeners::Protocol::TCP
                        && l.state == listeners::SocketState::Listen
                        && l.socket.port() == port
                })
                .map(|l| l.process.pid)
                .collect();
            pids.sort_unstable();
            pids.dedup();
            pids
        }
        Err(e) => {
            tracing::debug!("cannot list listening sockets: {e}");
            Vec::new()
        }
    }
}

pub fn check(host: &str, port: u16, orphan: Option<Orphan>) -> PortCheck {
    let table = ProcessTable::snapshot();
    let pids = listeners_on(port);
    let ours = orphan.filter(|o| {
        pids.contains(&o.pid)
            && table
                .as_ref()
                .is_some_and(|t| t.is_same_process(o.pid, o.started))
    });
    if let Some(o) = ours {
        return PortCheck::OurOrphan { pid: o.pid };
    }
    if let Some(&pid) = pids.first() {
        let name = table
            .as_ref()
            .and_then(|t| t.name(pid))
            .unwrap_or_else(|| "an unknown program".into());
        return PortCheck::Busy {
            pid: Some(pid),
            name,
        };
    }
    // The socket table may be unreadable (permissions); binding tells the truth.
    let bind_host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    match TcpListener::bind((bind_host, port)) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => PortCheck::Busy {
            pid: None,
            name: "another program".into(),
        },
        _ => PortCheck::Free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_listener_is_busy_and_named() {
        let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = holder.local_addr().expect("addr").port();
        match check("127.0.0.1", port, None) {
            PortCheck::Busy { pid, name } => {
                assert_eq!(pid, Some(std::process::id()));
                assert!(!name.is_empty());
            }
            other => panic!("{other:?}"),
        }
        drop(holder);
        assert_eq!(check("127.0.0.1", port, None), PortCheck::Free);
    }
}
