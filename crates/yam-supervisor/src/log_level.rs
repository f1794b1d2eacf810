//! The level of a server's log line, read from the line itself: our own tracing output,
//! Python's logging formats, Werkzeug's request lines and Python tracebacks. Which stream a
//! line came on says nothing: Python writes everything to stderr.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::logs::Stream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// A level word standing alone near the start of a line: `2026-… INFO yam_server: …`,
/// `INFO:werkzeug:…`, `[2026-…] WARNING in app: …`, `… - yam - ERROR - …`.
static LEVEL_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[\s\[(|:-])(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)(?:$|[\s\])|:-])",
    )
    .expect("level regex")
});
/// Werkzeug's request line: `127.0.0.1 - - [date] "GET / HTTP/1.1" 500 -`.
static REQUEST_STATUS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"" ([1-5])\d\d (?:-|\d+)"#).expect("status regex"));
static ANSI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\x1b\[[0-9;]*[A-Za-z]").expect("ansi regex"));

/// Only the start of a line is searched for a level word (a message may mention "ERROR"):
/// the first 80 characters, and at most six words before it (date, time, logger name…).
const LEVEL_WITHIN: usize = 80;
const WORDS_BEFORE: usize = 6;

fn level_word(word: &str) -> Level {
    match word {
        "TRACE" | "DEBUG" => Level::Debug,
        "INFO" => Level::Info,
        "WARN" | "WARNING" => Level::Warn,
        _ => Level::Error,
    }
}

/// The level a line states by itself, if any.
pub fn stated_level(text: &str) -> Option<Level> {
    let plain = ANSI.replace_all(text, "");
    let head = match plain.char_indices().nth(LEVEL_WITHIN) {
        Some((i, _)) => &plain[..i],
        None => &plain,
    };
    if let Some(c) = LEVEL_WORD.captures(head) {
        let word = c.get(1).expect("group 1");
        if head[..word.start()].split_whitespace().count() <= WORDS_BEFORE {
            return Some(level_word(word.as_str()));
        }
    }
    if let Some(c) = REQUEST_STATUS.captures(&plain) {
        return Some(match &c[1] {
            "5" => Level::Error,
            "4" => Level::Warn,
            _ => Level::Info,
        });
    }
    None
}

/// Reads levels line by line, remembering a traceback in progress per stream: its indented
/// lines and the exception line that ends it are errors too.
#[derive(Debug, Default)]
pub struct Classifier {
    in_traceback: [bool; 3],
}

fn slot(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
        Stream::Supervisor => 2,
    }
}

impl Classifier {
    pub fn classify(&mut self, stream: Stream, text: &str) -> Level {
        let tb = &mut self.in_traceback[slot(stream)];
        if text.starts_with("Traceback (most recent call last)") {
            *tb = true;
            return Level::Error;
        }
        if *tb {
            if text.starts_with([' ', '\t']) || text.is_empty() {
                return Level::Error;
            }
            // The exception line (`ValueError: …`) ends it.
            *tb = false;
            return Level::Error;
        }
        stated_level(text).unwrap_or(Level::Info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_the_formats_yam_servers_write() {
        let cases = [
            // yam-server (tracing, no colours in a pipe, and with them)
            (
                "2026-12-03T09:41:00.123456Z  INFO yam_server::serve: listening on http://0.0.0.0:5000",
                Level::Info,
            ),
            (
                "2026-12-03T09:41:00.123456Z  WARN yam_server: session file damaged",
                Level::Warn,
            ),
            (
                "\x1b[2m2026-12-03T09:41:00Z\x1b[0m \x1b[31mERROR\x1b[0m yam_server: boom",
                Level::Error,
            ),
            (
                "2026-12-03T09:41:00Z DEBUG yam_sessions: read",
                Level::Debug,
            ),
            // Python logging: basicConfig, Flask's default, a custom format
            ("INFO:werkzeug:Press CTRL+C to quit", Level::Info),
            (
                "WARNING: This is a development server. Do not use it in a production deployment.",
                Level::Warn,
            ),
            (
                "[2026-12-03 09:41:00,123] ERROR in app: Exception on /login [POST]",
                Level::Error,
            ),
            (
                "2026-12-03 09:41:00,123 - yam.sessions - CRITICAL - disk full",
                Level::Error,
            ),
            // Werkzeug request lines carry no level: the status says it
            (
                r#"127.0.0.1 - - [03/Dec/2026 09:41:00] "GET /api/health HTTP/1.1" 200 -"#,
                Level::Info,
            ),
            (
                r#"127.0.0.1 - - [03/Dec/2026 09:41:00] "POST /login HTTP/1.1" 401 -"#,
                Level::Warn,
            ),
            (
                r#"127.0.0.1 - - [03/Dec/2026 09:41:00] "GET / HTTP/1.1" 500 12"#,
                Level::Error,
            ),
            // Plain lines are information, whatever the stream
            (" * Running on http://127.0.0.1:5000", Level::Info),
            ("Serving Flask app 'server'", Level::Info),
            // A level word deep inside a message is not the line's level
            (
                "user alice searched for the words that say ERROR somewhere far beyond the start of the line",
                Level::Info,
            ),
            // Words that merely contain a level are not one
            ("INFORMATION: nothing", Level::Info),
            ("ERRORS: none", Level::Info),
        ];
        let mut c = Classifier::default();
        for (text, want) in cases {
            assert_eq!(c.classify(Stream::Stderr, text), want, "{text}");
        }
    }

    #[test]
    fn a_traceback_is_an_error_to_its_exception_line() {
        let mut c = Classifier::default();
        let lines = [
            ("Traceback (most recent call last):", Level::Error),
            (
                "  File \"app/server.py\", line 12, in <module>",
                Level::Error,
            ),
            ("    main()", Level::Error),
            ("ValueError: bad", Level::Error),
            ("INFO:werkzeug:back", Level::Info),
            ("next plain line", Level::Info),
        ];
        for (text, want) in lines {
            assert_eq!(c.classify(Stream::Stderr, text), want, "{text}");
        }
        // Each stream has its own traceback.
        c.classify(Stream::Stderr, "Traceback (most recent call last):");
        assert_eq!(c.classify(Stream::Stdout, "hello"), Level::Info);
    }
}
