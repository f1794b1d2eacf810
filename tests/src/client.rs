//! A small blocking HTTP client that keeps the `yam_session` cookie like a browser would
//! and never follows redirects, so tests see every answer.

use reqwest::blocking::{Client as Http, RequestBuilder};
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::Value;

/// The value of the `yam_session` cookie a response sets, if it sets one (for code that talks
/// to a server with its own reqwest client).
pub fn set_session_cookie(headers: &HeaderMap) -> Option<&str> {
    session_set_cookie(headers).map(|set| {
        set["yam_session=".len()..]
            .split(';')
            .next()
            .unwrap_or_default()
    })
}

/// The whole `Set-Cookie` header for `yam_session`, if any.
fn session_set_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("yam_session="))
}

#[derive(Clone)]
pub struct Client {
    http: Http,
    base: String,
    pub cookie: Option<String>,
    /// Sent as `Authorization: Bearer …` when set.
    pub bearer: Option<String>,
    /// Sent as `Origin` when set (to play a foreign site).
    pub origin: Option<String>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` header for `yam_session`, if any.
    pub fn session_cookie(&self) -> Option<&str> {
        session_set_cookie(&self.headers)
    }

    pub fn clears_cookie(&self) -> bool {
        self.session_cookie()
            .is_some_and(|c| c.contains("Max-Age=0"))
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self::build(base, None)
    }

    /// A client whose connections come from `source` (any 127.x address works on Linux), to
    /// play several machines.
    pub fn from_address(base: &str, source: std::net::IpAddr) -> Self {
        Self::build(base, Some(source))
    }

    fn build(base: &str, source: Option<std::net::IpAddr>) -> Self {
        let http = Http::builder()
            .redirect(Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .local_address(source)
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) yam-testkit")
            .build()
            .expect("http client");
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            cookie: None,
            bearer: None,
            origin: None,
        }
    }

    /// A client carrying the same session cookie (a second tab).
    pub fn with_cookie(base: &str, cookie: &str) -> Self {
        let mut c = Self::new(base);
        c.cookie = Some(cookie.to_owned());
        c
    }

    fn send(&mut self, req: RequestBuilder) -> Reply {
        let mut req = match &self.cookie {
            Some(c) => req.header("Cookie", format!("yam_session={c}")),
            None => req,
        };
        if let Some(token) = &self.bearer {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(origin) = &self.origin {
            req = req.header("Origin", origin);
        }
        let resp = req.send().expect("request failed");
        let reply = Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().unwrap_or_default(),
        };
        if let Some(value) = set_session_cookie(&reply.headers) {
            self.cookie = if reply.clears_cookie() || value.is_empty() {
                None
            } else {
                Some(value.to_owned())
            };
        }
        reply
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&mut self, path: &str) -> Reply {
        let req = self.http.get(self.url(path));
        self.send(req)
    }

    pub fn delete(&mut self, path: &str) -> Reply {
        let req = self.http.delete(self.url(path));
        self.send(req)
    }

    /// A POST without a body or content type, as `curl -X POST` or `requests.post(url)` send.
    pub fn post_empty(&mut self, path: &str) -> Reply {
        let req = self.http.post(self.url(path));
        self.send(req)
    }

    pub fn patch_json(&mut self, path: &str, body: &Value) -> Reply {
        let req = self.http.patch(self.url(path)).json(body);
        self.send(req)
    }

    pub fn post_json(&mut self, path: &str, body: &Value) -> Reply {
        let req = self.http.post(self.url(path)).json(body);
        self.send(req)
    }

    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let req = self.http.post(self.url(path)).form(fields);
        self.send(req)
    }

    pub fn post_raw(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let req = self
            .http
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body);
        self.send(req)
    }

    /// A POST the way scripts send one: JSON body `{}`.
    pub fn post(&mut self, path: &str) -> Reply {
        self.post_json(path, &serde_json::json!({}))
    }

    /// Logs in with JSON; panics unless it succeeds.
    pub fn login(&mut self, user: &str, password: &str) -> Reply {
        let reply = self.post_json(
            "/login",
            &serde_json::json!({ "login_id": user, "password": password }),
        );
        assert_eq!(reply.status, 200, "login failed: {}", reply.body);
        assert!(self.cookie.is_some(), "no session cookie after login");
        reply
    }
}

/// Sends raw bytes over TCP and returns whatever comes back (for requests a normal client
/// refuses to build: NUL bytes, non-UTF-8 headers, lying Content-Length).
pub fn raw_request(url: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(authority).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
