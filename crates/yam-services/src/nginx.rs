//! A real nginx balancing round-robin over loopback servers, from a config in a temp folder.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, poll, program, stop_child};

pub struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

/// How long nginx skips a server after one failed attempt (`fail_timeout`).
pub const FAIL_TIMEOUT: Duration = Duration::from_secs(2);

/// The configuration the multi-instance test uses (and the README shows): round-robin, a
/// request that could not reach one server goes to the next, keep-alive to the servers.
pub fn balancer_config(dir: &Path, port: u16, servers: &[u16]) -> String {
    let upstreams: String = servers
        .iter()
        .map(|p| {
            format!(
                "        server 127.0.0.1:{p} max_fails=1 fail_timeout={}s;\n",
                FAIL_TIMEOUT.as_secs()
            )
        })
        .collect();
    let d = dir.display();
    format!(
        "worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream yam {{
{upstreams}        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://yam;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A server that is down (refused, reset) is skipped, POSTs included: a login or
            # logout sent again is harmless.
            proxy_next_upstream error timeout http_502 non_idempotent;
            proxy_connect_timeout 2s;
            proxy_buffering off;
        }}
    }}
}}
"
    )
}

impl Nginx {
    pub fn start(servers: &[u16]) -> Self {
        let bin = program("nginx", "nginx-light", &["/usr/sbin"]);
        let dir = tempfile::Builder::new()
            .prefix("yam-nginx-")
            .tempdir()
            .expect("temp folder for nginx");
        let mut nginx = Self {
            dir,
            port: 0,
            child: None,
        };
        for _ in 0..5 {
            nginx.port = free_port();
            let conf = nginx.dir.path().join("nginx.conf");
            std::fs::write(
                &conf,
                balancer_config(nginx.dir.path(), nginx.port, servers),
            )
            .expect("write nginx.conf");
            let child = Command::new(&bin)
                .arg("-p")
                .arg(nginx.dir.path())
                .arg("-e")
                .arg(nginx.dir.path().join("error.log"))
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx");
            nginx.child = Some(child);
            let port = nginx.port;
            if poll(Duration::from_secs(10), || {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            }) {
                return nginx;
            }
            nginx.stop();
        }
        panic!(
            "nginx did not listen; its log:\n{}",
            std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default()
        );
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// A quick shutdown (SIGTERM to the master, which stops its workers).
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child, "TERM");
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
