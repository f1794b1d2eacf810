//! A browser as far as cookies go: it keeps what answers set (and drops what they clear),
//! sends them back, and never follows a redirect by itself, so a test sees each one.

use std::collections::BTreeMap;

use reqwest::blocking::{Client, RequestBuilder};

/// One answer: status, where it redirects, the body.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

pub struct Browser {
    base: String,
    http: Client,
    jar: BTreeMap<String, String>,
    pub user_agent: String,
}

impl Browser {
    pub fn new(base: &str, user_agent: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            jar: BTreeMap::new(),
            user_agent: user_agent.to_owned(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    /// Puts a cookie in the jar as a page's script (or an attacker) could.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.into(), value.into());
    }

    pub fn forget(&mut self, name: &str) {
        self.jar.remove(name);
    }

    /// The whole jar, to replay later.
    pub fn jar(&self) -> BTreeMap<String, String> {
        self.jar.clone()
    }

    pub fn restore(&mut self, jar: BTreeMap<String, String>) {
        self.jar = jar;
    }

    fn send(&mut self, req: RequestBuilder) -> Page {
        let mut req = req.header("User-Agent", &self.user_agent);
        if !self.jar.is_empty() {
            let header: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("Cookie", header.join("; "));
        }
        let r = req.send().expect("request");
        for value in r.headers().get_all("set-cookie") {
            let Some(c) = value
                .to_str()
                .ok()
                .and_then(|t| cookie::Cookie::parse(t.to_owned()).ok())
            else {
                continue;
            };
            let gone = c.value().is_empty()
                || c.max_age().is_some_and(|a| a.whole_seconds() <= 0)
                || c.expires_datetime().is_some_and(|t| {
                    t.unix_timestamp() <= 0 || t < cookie::time::OffsetDateTime::now_utc()
                });
            if gone {
                self.jar.remove(c.name());
            } else {
                self.jar.insert(c.name().to_owned(), c.value().to_owned());
            }
        }
        Page {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: r.text().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req)
    }

    pub fn post_json(&mut self, path: &str, body: &serde_json::Value) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).json(body);
        self.send(req)
    }

    pub fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req)
    }
}
