//! The Flask + Flask-Session fixture (`session_driver.py`), driven line by line: each browser
//! logs in or out and the command answers once Flask-Session has written the session.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub struct FlaskDriver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl FlaskDriver {
    /// `target`: a sessions folder, or a redis:// URL for Flask-Session's Redis backend.
    pub async fn start(target: &str) -> Self {
        let python = tokio::task::spawn_blocking(yam_testkit::flask_python)
            .await
            .expect("venv");
        let mut child = Command::new(python)
            .arg(yam_testkit::fixture("flask_app/session_driver.py"))
            .arg(target)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// `login USER_ID` or `logout INDEX`; panics unless the driver answers "ok".
    pub fn send(&mut self, cmd: &str) {
        writeln!(self.stdin, "{cmd}").expect("write");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("read");
        assert!(answer.starts_with("ok"), "{cmd}: {answer}");
    }
}

impl Drop for FlaskDriver {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}
