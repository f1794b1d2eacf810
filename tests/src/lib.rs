//! Helpers for tests that run the real binaries: start a server on port 0 in a temp folder,
//! talk to it with a cookie-keeping client, poll for conditions instead of sleeping.

mod client;
mod python;
mod server;

pub use client::{Client, Reply, raw_request};
pub use python::{ensure_venv, fixture, flask_python, requirements_file};
pub use server::{ServerBuilder, ServerProcess, binary};

use std::time::{Duration, Instant};

/// Polls `condition` every 50 ms until it holds or `deadline` passes.
pub fn wait_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
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
