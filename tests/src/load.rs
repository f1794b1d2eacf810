//! A steady load of logged-in clients for the restart tests: some open a new connection per
//! request, some keep one connection alive, and every request's outcome is recorded as it
//! happened (a plain HTTP/1.1 client over a socket: nothing retries, nothing is hidden).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A request that takes longer than this counts as hanging.
const HANG: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub addr: SocketAddr,
    /// What each client asks, over and over (`GET`).
    pub path: String,
    /// The `Cookie` header of a logged-in browser.
    pub cookie: String,
    /// Clients that open a new connection for every request.
    pub fresh: usize,
    /// Clients that keep their connection alive.
    pub keep_alive: usize,
    /// Pause between one client's requests.
    pub pause: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The connection was refused: nothing listened on the port.
    Refused,
    /// Connecting failed otherwise (timeout, reset).
    Connect(String),
    /// The connection broke before a complete answer.
    Broken(String),
    /// No answer within 30 s.
    Hang,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    /// When the connection that carried the request was opened.
    pub opened: Instant,
    pub started: Instant,
    pub ended: Instant,
    /// The status, or why there is none.
    pub result: Result<u16, Failure>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Vec<Outcome>>>,
}

impl Load {
    pub fn start(options: &LoadOptions) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..options.fresh + options.keep_alive)
            .map(|i| {
                let (options, stop) = (options.clone(), Arc::clone(&stop));
                let keep_alive = i >= options.fresh;
                std::thread::spawn(move || client(&options, keep_alive, &stop))
            })
            .collect();
        Self { stop, clients }
    }

    pub fn stop(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let outcomes = self
            .clients
            .into_iter()
            .flat_map(|c| c.join().unwrap_or_default())
            .collect();
        Report { outcomes }
    }
}

fn client(options: &LoadOptions, keep_alive: bool, stop: &AtomicBool) -> Vec<Outcome> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nAccept: application/json\r\n{}\r\n",
        options.path,
        options.addr,
        options.cookie,
        if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        }
    );
    let mut outcomes = Vec::new();
    let mut connection: Option<(BufReader<TcpStream>, Instant)> = None;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let (mut reader, opened) = match connection.take() {
            Some(c) => c,
            None => match connect(options.addr) {
                Ok(stream) => (BufReader::new(stream), started),
                Err(failure) => {
                    outcomes.push(Outcome {
                        opened: started,
                        started,
                        ended: Instant::now(),
                        result: Err(failure),
                    });
                    std::thread::sleep(options.pause);
                    continue;
                }
            },
        };
        let answer = exchange(&mut reader, request.as_bytes());
        outcomes.push(Outcome {
            opened,
            started,
            ended: Instant::now(),
            result: answer
                .as_ref()
                .map(|(status, _)| *status)
                .map_err(Clone::clone),
        });
        if let Ok((_, false)) = answer
            && keep_alive
        {
            connection = Some((reader, opened));
        }
        std::thread::sleep(options.pause);
    }
    outcomes
}

fn connect(addr: SocketAddr) -> Result<TcpStream, Failure> {
    match TcpStream::connect_timeout(&addr, HANG) {
        Ok(s) => {
            let _ = s.set_read_timeout(Some(HANG));
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(Failure::Refused),
        Err(e) => Err(Failure::Connect(e.to_string())),
    }
}

/// Sends `request` and reads one complete answer: its status and whether the server closes
/// the connection after it.
fn exchange(reader: &mut BufReader<TcpStream>, request: &[u8]) -> Result<(u16, bool), Failure> {
    let broken = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Failure::Hang,
        _ => Failure::Broken(e.to_string()),
    };
    reader.get_mut().write_all(request).map_err(broken)?;
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(broken)? == 0 {
        return Err(Failure::Broken("closed before an answer".into()));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::Broken(format!("not an HTTP answer: {line:?}")))?;
    let (mut length, mut chunked, mut close) = (0usize, false, line.starts_with("HTTP/1.0"));
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(broken)? == 0 {
            return Err(Failure::Broken("closed inside the headers".into()));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        let (name, value) = (name.to_ascii_lowercase(), value.trim().to_ascii_lowercase());
        match name.as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "transfer-encoding" => chunked = value.contains("chunked"),
            "connection" => close = value.contains("close"),
            _ => {}
        }
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(broken)?;
            let size = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| Failure::Broken("bad chunk".into()))?;
            skip(reader, size + 2).map_err(broken)?;
            if size == 0 {
                break;
            }
        }
    } else {
        skip(reader, length).map_err(broken)?;
    }
    Ok((status, close))
}

fn skip(reader: &mut BufReader<TcpStream>, n: usize) -> std::io::Result<()> {
    let copied = std::io::copy(&mut reader.by_ref().take(n as u64), &mut std::io::sink())?;
    if copied < n as u64 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed inside the body",
        ));
    }
    Ok(())
}

/// Every request's outcome, judged against the moments a server was killed.
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub ok: usize,
    pub refused: usize,
    /// Broken, hanging or 5xx requests that a kill does not explain.
    pub failed: usize,
    /// Broken or 502 requests that were inside a server when it was killed.
    pub lost_in_killed: usize,
    /// 401: the client was logged out.
    pub logged_out: usize,
    pub slowest: Duration,
    /// A few of the failures, for the message.
    pub examples: Vec<String>,
}

impl Report {
    /// `kills`: when servers were killed (`kill -9`): from just before the signal until the
    /// process was seen gone. A request counts as inside a killed server when it was under
    /// way then (a 502 from the door, or a broken connection), or it used a connection the
    /// killed server held (broken, opened before the kill).
    pub fn summary(&self, kills: &[(Instant, Instant)]) -> Summary {
        let mut s = Summary {
            total: self.outcomes.len(),
            ..Summary::default()
        };
        for o in &self.outcomes {
            s.slowest = s.slowest.max(o.ended - o.started);
            let under_way = kills
                .iter()
                .any(|(signal, gone)| o.started < *gone && *signal <= o.ended);
            let on_its_connection = kills
                .iter()
                .any(|(signal, gone)| o.opened < *gone && *signal <= o.ended);
            let problem = match &o.result {
                Ok(200..=399) => {
                    s.ok += 1;
                    continue;
                }
                Ok(401) => {
                    s.logged_out += 1;
                    continue;
                }
                Err(Failure::Refused) => {
                    s.refused += 1;
                    format!("refused at {:?}", o.started)
                }
                Ok(502) if under_way => {
                    s.lost_in_killed += 1;
                    continue;
                }
                Err(Failure::Broken(_)) if on_its_connection => {
                    s.lost_in_killed += 1;
                    continue;
                }
                other => {
                    s.failed += 1;
                    format!("{other:?}")
                }
            };
            if s.examples.len() < 5 {
                s.examples.push(problem);
            }
        }
        s
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests: {} ok, {} refused, {} failed, {} lost inside a killed server, {} logged out; slowest {} ms",
            self.total,
            self.ok,
            self.refused,
            self.failed,
            self.lost_in_killed,
            self.logged_out,
            self.slowest.as_millis()
        )?;
        if !self.examples.is_empty() {
            write!(f, "; e.g. {}", self.examples.join(" | "))?;
        }
        Ok(())
    }
}
