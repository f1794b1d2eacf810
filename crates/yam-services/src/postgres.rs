//! A real PostgreSQL cluster (`initdb` + `postgres`) in a temp folder on a loopback port.
//! PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user the
//! Debian package creates (`setpriv`), its folder handed to that user.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{Frozen, free_port, poll, program, stop_child};

/// Where Debian puts the server programs (not on PATH).
fn bin_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("bin").display().to_string())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by_key(|d| std::cmp::Reverse(version_of(d)));
    dirs
}

fn version_of(dir: &str) -> u32 {
    dir.split('/')
        .filter_map(|part| part.parse().ok())
        .next()
        .unwrap_or(0)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    as_postgres_user: bool,
    child: Option<Child>,
}

impl Postgres {
    /// A new cluster with a superuser `yam` (trust authentication on loopback only).
    pub fn start() -> Self {
        let dirs = bin_dirs();
        let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
        // Through any symlink on PATH to the folder that holds pg_isready and psql too.
        let initdb = program("initdb", "postgresql", &dirs);
        let initdb = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        let bin = initdb.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = tempfile::Builder::new()
            .prefix("yam-postgres-")
            .tempdir()
            .expect("temp folder for postgres");
        let as_postgres_user = is_root();
        if as_postgres_user {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster folder to postgres");
        }
        let mut pg = Self {
            dir,
            port: 0,
            bin,
            as_postgres_user,
            child: None,
        };
        let out = pg
            .command(&initdb)
            .arg("-D")
            .arg(pg.data())
            .args([
                "-U",
                "yam",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        pg.launch();
        pg
    }

    /// `postgres://yam@127.0.0.1:<port>/<db>`
    pub fn url(&self, db: &str) -> String {
        format!("postgres://yam@127.0.0.1:{}/{db}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a database (e.g. one per test); its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// Runs SQL with psql (`-v ON_ERROR_STOP=1`); its output, or a panic with psql's error.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let psql = self.bin.join("psql");
        let out = Command::new(psql)
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "yam",
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops the server as a crash would ("immediate shutdown", SIGQUIT: no checkpoint,
    /// recovery at the next start), and waits until its backends are gone too: after a
    /// SIGKILL of the postmaster alone, a backend may still answer its open connection for a
    /// moment. [`Postgres::restart`] brings it back.
    pub fn kill(&mut self) {
        self.stop_with("QUIT");
    }

    /// Sends `signal` to the postmaster and waits up to 10 s for it (it waits for its
    /// backends), then SIGKILL.
    fn stop_with(&mut self, signal: &str) {
        if let Some(child) = self.child.take() {
            stop_child(child, signal);
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Makes the server hang (postmaster and backends stopped) until the guard is dropped.
    pub fn freeze(&self) -> Frozen {
        Frozen::stop(self.child.as_ref().expect("postgres is running").id())
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_postgres_user {
            let mut cmd = Command::new("setpriv");
            cmd.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--clear-groups",
                "--",
            ])
            .arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn launch(&mut self) {
        let keep_port = self.port != 0;
        let log = self.dir.path().join("postgres.log");
        for _ in 0..5 {
            if !keep_port {
                self.port = free_port();
            }
            let log_file = std::fs::File::create(&log).expect("postgres log");
            let child = self
                .command(&self.bin.join("postgres"))
                .arg("-D")
                .arg(self.data())
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .arg("-k")
                .arg(self.dir.path())
                .args(["-c", "fsync=off", "-c", "max_connections=200"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("start postgres");
            self.child = Some(child);
            if poll(Duration::from_secs(30), || self.answers()) {
                return;
            }
            self.kill();
        }
        panic!(
            "postgres did not answer on 127.0.0.1:{}; its log:\n{}",
            self.port,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn answers(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Command::new(self.bin.join("pg_isready"))
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "yam",
                ])
                .status()
                .is_ok_and(|s| s.success())
    }
}

impl Drop for Postgres {
    /// A fast shutdown (SIGINT), so no server process outlives the test.
    fn drop(&mut self) {
        self.stop_with("INT");
    }
}
