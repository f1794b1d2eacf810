//! A real `redis-server` on a loopback port, its data in a temp folder.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{Frozen, free_port, poll, program};

#[derive(Clone, Copy, Debug, Default)]
pub struct RedisOptions {
    /// Append-only persistence (`appendfsync always`): a restart loses no write.
    pub aof: bool,
    /// `notify-keyspace-events` for expirations and generic commands (`Egx`).
    pub keyspace_events: bool,
}

pub struct Redis {
    dir: tempfile::TempDir,
    port: u16,
    options: RedisOptions,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Self {
        Self::start_with(RedisOptions::default())
    }

    pub fn start_with(options: RedisOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("yam-redis-")
            .tempdir()
            .expect("temp folder for redis");
        let mut redis = Self {
            dir,
            port: 0,
            options,
            child: None,
        };
        redis.launch();
        redis
    }

    /// `redis://127.0.0.1:<port>/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server as a crash would (SIGKILL); [`Redis::restart`] brings it back on
    /// the same port with the same data folder.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Makes the server hang until the guard is dropped.
    pub fn freeze(&self) -> Frozen {
        Frozen::stop(self.pid().expect("redis-server is running"))
    }

    /// Sends one command (inline protocol) and returns the raw reply.
    pub fn command(&self, words: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut line = words.join(" ");
        line.push_str("\r\n");
        stream.write_all(line.as_bytes())?;
        let mut reply = vec![0u8; 64 * 1024];
        let n = stream.read(&mut reply)?;
        Ok(String::from_utf8_lossy(&reply[..n]).into_owned())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn launch(&mut self) {
        let bin = program("redis-server", "redis-server", &[]);
        // The port is kept across restarts; a first start retries if another took it.
        let keep_port = self.port != 0;
        for _ in 0..5 {
            if !keep_port {
                self.port = free_port();
            }
            let mut cmd = Command::new(&bin);
            cmd.arg("--port")
                .arg(self.port.to_string())
                .args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
                .arg("--dir")
                .arg(self.dir.path())
                .arg("--logfile")
                .arg(self.log_path());
            if self.options.aof {
                cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
            }
            if self.options.keyspace_events {
                cmd.args(["--notify-keyspace-events", "Egx"]);
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            self.child = Some(child);
            if poll(Duration::from_secs(10), || {
                self.command(&["PING"])
                    .is_ok_and(|r| r.starts_with("+PONG"))
            }) {
                return;
            }
            self.kill();
        }
        panic!(
            "redis-server did not answer on 127.0.0.1:{}; its log:\n{}",
            self.port,
            std::fs::read_to_string(self.log_path()).unwrap_or_default()
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
