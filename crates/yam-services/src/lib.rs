//! Real services for tests (redis-server, PostgreSQL, nginx), started from Debian's packages in temp folders: nothing is
//! mocked, and each one stops when its handle is dropped. `cargo xtask test` installs the
//! packages; run directly, a missing program is a clear failure naming the package.

mod frozen;
mod nginx;
mod postgres;
mod redis;

pub use frozen::Frozen;
pub use nginx::{FAIL_TIMEOUT, Nginx, balancer_config};
pub use postgres::Postgres;
pub use redis::{Redis, RedisOptions};

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The program's path on PATH (or in `extra_dirs`), or a panic that names the Debian package.
pub fn program(name: &str, package: &str, extra_dirs: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed: these tests run the real one. `cargo xtask test` \
                 installs it; by hand: apt-get install {package}"
            )
        })
}

/// Sends `signal` (`TERM`, `INT`, `KILL`, `9`…) to process `pid` with the system's `kill`,
/// as an admin or a service manager would; whether `kill` succeeded.
pub fn signal(pid: u32, signal: &str) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sends `signal` to `child` and waits up to 10 s for it to exit, then SIGKILL.
fn stop_child(mut child: std::process::Child, signal_name: &str) {
    signal(child.id(), signal_name);
    if !poll(Duration::from_secs(10), || {
        child.try_wait().ok().flatten().is_some()
    }) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A loopback port that was free a moment ago (bound on port 0, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// Polls `condition` every 50 ms until it holds or `deadline` passes.
pub fn poll(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
