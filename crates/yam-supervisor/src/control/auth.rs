//! Who may use the control API and from where.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::Cookie;
use serde_json::json;
use std::time::Instant;
use subtle::ConstantTimeEq;

use super::SharedControl;

/// The dashboard cookie's name for the control API on `port`: cookies ignore ports, so two
/// dashboards on one computer would otherwise overwrite each other's.
pub fn cookie_name(port: u16) -> String {
    format!("yamctl_session_{port}")
}

/// Who is calling, as the middleware found out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The control token (`Authorization: Bearer`): the `yamctl` CLI on this account, or the
    /// dashboard with the token re-entered. May do everything.
    Owner,
    /// A dashboard session cookie: everything but changing the command the supervisor runs
    /// and reading the admin's first-run password.
    Dashboard,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "ok": false, "error": { "kind": "refused", "message": message } })),
    )
        .into_response()
}

/// `localhost`, `127.x.x.x` or `[::1]`, with any port. Anything else may be a DNS-rebinding
/// page that resolved its own name to 127.0.0.1.
pub fn host_is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .strip_prefix("http://")
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// Every request: a loopback Host; state changes from this origin only, as JSON or no body.
pub async fn guard_requests(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_is_loopback(host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "This dashboard answers only to localhost, 127.0.0.1 or [::1].",
        );
    }
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe {
        if !same_origin(headers) {
            return refuse(StatusCode::FORBIDDEN, "Cross-site request refused.");
        }
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            });
        let has_body = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v != "0")
            || headers.contains_key(header::TRANSFER_ENCODING);
        if json == Some(false) || (json.is_none() && has_body) {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send JSON (Content-Type: application/json).",
            );
        }
    }
    next.run(request).await
}

pub fn token_matches(expected: &str, offered: &str) -> bool {
    !offered.is_empty() && bool::from(expected.as_bytes().ct_eq(offered.as_bytes()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name` in the request, parsed by the `cookie` crate.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
}

/// Every API call: the control token makes the caller the owner, a live dashboard session
/// cookie a dashboard; anything else is refused.
pub async fn require_caller(
    State(state): State<SharedControl>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let caller = if let Some(token) = bearer(headers) {
        if !token_matches(&state.token, token) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "Wrong token: open the dashboard with the link `yamctl up` printed.",
            );
        }
        Caller::Owner
    } else {
        let session = cookie_value(headers, &state.cookie_name);
        let live = session
            .as_deref()
            .is_some_and(|s| state.dashboard.lock().check(s, Instant::now()));
        if !live {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "Open the dashboard with the link `yamctl up` printed (it carries the token).",
            );
        }
        Caller::Dashboard
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The refusal a dashboard gets for what only the control token may do.
pub fn owner_only(what: &str) -> Response {
    refuse(
        StatusCode::FORBIDDEN,
        &format!(
            "{what} needs the control token, which a dashboard cookie does not carry: use              `yamctl` on this computer, the tray window, or enter the token from the              control-token file in the settings folder."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "localhost:7878",
            "127.0.0.1:7878",
            "127.1.2.3",
            "[::1]:7878",
            "[::1]",
        ] {
            assert!(host_is_loopback(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:7878",
            "192.168.1.2:7878",
            "localhost.evil.example",
            "",
            "[::2]:1",
        ] {
            assert!(!host_is_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn callers_come_from_the_bearer_header_or_our_own_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc ".parse().expect("value"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().expect("value"));
        assert_eq!(bearer(&h), None);
        h.insert(
            header::COOKIE,
            "yamctl_session_1=a; yamctl_session_7878=b; yamctl_session_78780=c"
                .parse()
                .expect("value"),
        );
        assert_eq!(cookie_value(&h, &cookie_name(7878)).as_deref(), Some("b"));
        assert_eq!(cookie_value(&h, &cookie_name(9)), None);
    }
}
