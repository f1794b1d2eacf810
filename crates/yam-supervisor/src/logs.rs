//! Server output: a ring buffer of recent lines (for status and the UI) and a size-rotated
//! log file in the data folder.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use yam_sessions::{Clock, SystemClock};

use crate::log_level::{Classifier, Level};

pub const RING_LINES: usize = 2000;
/// The ring also holds at most this many bytes of text (each line is capped at
/// [`crate::log_lines::MAX_LINE_BYTES`] on the way in).
pub const RING_BYTES: usize = 2 * 1024 * 1024;
pub const ROTATE_BYTES: u64 = 5 * 1024 * 1024;
pub const KEEP_ROTATED: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
    /// Lines written by the supervisor itself ("Starting…", "Exited with code 1").
    Supervisor,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Increases by one per line, so a client can ask for what it has not seen.
    pub seq: u64,
    pub at: String,
    pub stream: Stream,
    /// Read from the text (see [`crate::log_level`]); not from the stream.
    pub level: Level,
    pub text: String,
}

struct Inner {
    lines: VecDeque<LogLine>,
    /// Bytes of text in `lines`.
    bytes: usize,
    next_seq: u64,
    file: Option<RotatingFile>,
    levels: Classifier,
}

/// Cloneable handle to the log of one supervisor.
#[derive(Clone)]
pub struct ServerLog {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<watch::Sender<u64>>,
    path: Option<PathBuf>,
}

impl ServerLog {
    /// Lines also go to `file` (rotated) when given.
    pub fn new(file: Option<PathBuf>) -> Self {
        let rotating = file.as_deref().and_then(|p| match RotatingFile::open(p) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(file = %p.display(), "cannot write the server log file: {e}");
                None
            }
        });
        let (changed, _) = watch::channel(0);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                lines: VecDeque::with_capacity(RING_LINES),
                bytes: 0,
                next_seq: 1,
                file: rotating,
                levels: Classifier::default(),
            })),
            changed: Arc::new(changed),
            path: file,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A line from the server; its level is read from the text.
    pub fn push(&self, stream: Stream, text: &str) {
        self.push_at(stream, None, text);
    }

    fn push_at(&self, stream: Stream, level: Option<Level>, text: &str) {
        // Werkzeug colours its lines for a terminal: the window and the file get the text.
        let plain = anstream::adapter::strip_str(text).to_string();
        let text = crate::log_lines::cap_line(
            plain.trim_end_matches(['\r', '\n']),
            crate::log_lines::MAX_LINE_BYTES,
        )
        .into_owned();
        let at = SystemClock.now();
        let seq = {
            let mut inner = self.inner.lock();
            let seq = inner.next_seq;
            inner.next_seq += 1;
            let level = level.unwrap_or_else(|| inner.levels.classify(stream, &text));
            if let Some(file) = inner.file.as_mut() {
                file.write_line(&format!(
                    "{} [{}] {}",
                    at.to_rfc3339(),
                    stream_tag(stream),
                    text
                ));
            }
            inner.bytes += text.len();
            while inner.lines.len() >= RING_LINES
                || (inner.bytes > RING_BYTES && !inner.lines.is_empty())
            {
                let Some(old) = inner.lines.pop_front() else {
                    break;
                };
                inner.bytes -= old.text.len();
            }
            inner.lines.push_back(LogLine {
                seq,
                at: at.to_rfc3339(),
                stream,
                level,
                text,
            });
            seq
        };
        self.changed.send_replace(seq);
    }

    /// A line of the supervisor's own (information).
    pub fn supervisor(&self, text: &str) {
        self.supervisor_at(Level::Info, text);
    }

    pub fn supervisor_at(&self, level: Level, text: &str) {
        match level {
            Level::Error => tracing::error!("{text}"),
            Level::Warn => tracing::warn!("{text}"),
            Level::Info => tracing::info!("{text}"),
            Level::Debug => tracing::debug!("{text}"),
        }
        self.push_at(Stream::Supervisor, Some(level), text);
    }

    /// The last `n` lines.
    pub fn tail(&self, n: usize) -> Vec<LogLine> {
        let inner = self.inner.lock();
        inner
            .lines
            .iter()
            .skip(inner.lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// Lines after `seq`.
    pub fn since(&self, seq: u64) -> Vec<LogLine> {
        self.inner
            .lock()
            .lines
            .iter()
            .filter(|l| l.seq > seq)
            .cloned()
            .collect()
    }

    /// Changes whenever a line is added (the value is the newest `seq`).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

fn stream_tag(s: Stream) -> &'static str {
    match s {
        Stream::Stdout => "out",
        Stream::Stderr => "err",
        Stream::Supervisor => "yam",
    }
}

struct RotatingFile {
    path: PathBuf,
    file: File,
    written: u64,
}

impl RotatingFile {
    fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            // Server output can carry user names and addresses: owner only.
            yam_sessions::private::private_dir(dir)?;
        }
        let file = open_private_append(path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            written,
        })
    }

    fn write_line(&mut self, line: &str) {
        if self.written >= ROTATE_BYTES
            && let Err(e) = self.rotate()
        {
            tracing::warn!("cannot rotate the server log: {e}");
        }
        if writeln!(self.file, "{line}").is_ok() {
            self.written += line.len() as u64 + 1;
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        let _ = fs::remove_file(numbered(KEEP_ROTATED));
        for n in (1..KEEP_ROTATED).rev() {
            let _ = fs::rename(numbered(n), numbered(n + 1));
        }
        fs::rename(&self.path, numbered(1))?;
        self.file = open_private_append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

/// Opens a log file for appending, created owner-only (0600) and narrowed to it if it was
/// not (a log written by an older version).
fn open_private_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    yam_sessions::private::restrict_to_owner(path, 0o600)?;
    Ok(file)
}

/// The supervisor's own log (yamctl, yam-tray): `YAM_LOG` filter (default `info`) to stderr,
/// colours only on a terminal.
pub fn init_process_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("YAM_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Werkzeug's coloured lines, as YAM prints them when it thinks it has a terminal.
    #[test]
    fn terminal_colours_are_taken_out() {
        let log = ServerLog::new(None);
        log.push(
            Stream::Stderr,
            "\u{1b}[31m\u{1b}[1mWARNING: This is a development server.\u{1b}[0m",
        );
        log.push(
            Stream::Stderr,
            "127.0.0.1 - - \"\u{1b}[32mGET / HTTP/1.1\u{1b}[0m\" 302 -",
        );
        let tail = log.tail(2);
        assert_eq!(tail[0].text, "WARNING: This is a development server.");
        assert_eq!(tail[1].text, "127.0.0.1 - - \"GET / HTTP/1.1\" 302 -");
        assert_eq!(tail[0].level, Level::Warn);
    }

    #[test]
    fn ring_keeps_the_newest_lines_in_order() {
        let log = ServerLog::new(None);
        for i in 0..(RING_LINES + 5) {
            log.push(Stream::Stdout, &format!("line {i}\n"));
        }
        let tail = log.tail(3);
        assert_eq!(
            tail.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            vec!["line 2002", "line 2003", "line 2004"]
        );
        assert_eq!(log.since(tail[1].seq).len(), 1);
        assert_eq!(*log.subscribe().borrow(), tail[2].seq);
    }

    #[test]
    fn the_ring_is_bounded_in_bytes_and_each_line_in_length() {
        let log = ServerLog::new(None);
        let url = format!("GET /{} HTTP/1.1", "a".repeat(60 * 1024));
        for _ in 0..RING_LINES {
            log.push(Stream::Stderr, &url);
        }
        let tail = log.tail(RING_LINES);
        let bytes: usize = tail.iter().map(|l| l.text.len()).sum();
        assert!(bytes <= RING_BYTES, "{bytes}");
        assert!(tail.len() > 200, "{}", tail.len());
        assert!(tail[0].text.len() < crate::log_lines::MAX_LINE_BYTES + 64);
        assert!(
            tail[0].text.ends_with("more bytes not kept]"),
            "{}",
            &tail[0].text[8000..]
        );
    }

    #[test]
    fn lines_carry_their_level_not_their_stream() {
        let log = ServerLog::new(None);
        log.push(Stream::Stderr, "INFO:werkzeug:Press CTRL+C to quit");
        log.push(
            Stream::Stdout,
            "[2026-12-03 09:41:00,123] ERROR in app: boom",
        );
        log.supervisor_at(Level::Warn, "The server stopped answering");
        let levels: Vec<Level> = log.tail(3).iter().map(|l| l.level).collect();
        assert_eq!(levels, vec![Level::Info, Level::Error, Level::Warn]);
    }

    #[test]
    fn the_file_rotates_by_size() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("logs/server.log");
        let log = ServerLog::new(Some(path.clone()));
        let line = "x".repeat(8000);
        for _ in 0..1500 {
            log.push(Stream::Stderr, &line);
        }
        assert!(path.is_file());
        assert!(dir.path().join("logs/server.log.1").is_file());
        assert!(!dir.path().join("logs/server.log.4").exists());
        assert!(fs::metadata(&path).expect("meta").len() <= ROTATE_BYTES + 2 * 1024 * 1024);
    }
}
