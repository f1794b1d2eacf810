//! A stranger's HTTP listener: answers every request with 200 `{}` and keeps the headers it
//! was sent, so a test can say whether a command line tool handed it a token.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

pub struct Stranger {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Stranger {
    /// Listens on `ip` (port 0) until the test ends.
    pub fn listen(ip: std::net::IpAddr) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind stranger");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let keep = keep.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => head.push_str(&line),
                        }
                    }
                    keep.lock().expect("seen").push(head);
                    let _ = (&stream).write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                          content-length: 2\r\nconnection: close\r\n\r\n{}",
                    );
                });
            }
        });
        Self { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request head it was sent that carries `secret`.
    pub fn heard(&self, secret: &str) -> Vec<String> {
        self.seen
            .lock()
            .expect("seen")
            .iter()
            .filter(|h| h.contains(secret))
            .cloned()
            .collect()
    }

    pub fn requests(&self) -> usize {
        self.seen.lock().expect("seen").len()
    }
}

/// This machine's address on its network, if it has one (to be a non-loopback peer).
pub fn lan_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:80").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback()).then_some(ip)
}
