//! Who may use the control API and from where.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::SharedControl;

pub const COOKIE_NAME: &str = "yamctl_token";

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

fn offered_token(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return auth.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_owned())
}

pub async fn require_token(
    State(state): State<SharedControl>,
    request: Request,
    next: Next,
) -> Response {
    match offered_token(request.headers()) {
        Some(t) if token_matches(&state.token, &t) => next.run(request).await,
        Some(_) => refuse(
            StatusCode::UNAUTHORIZED,
            "Wrong token: open the dashboard with the link `yamctl up` printed.",
        ),
        None => refuse(
            StatusCode::UNAUTHORIZED,
            "A token is needed: open the dashboard with the link `yamctl up` printed (it carries the token).",
        ),
    }
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
}
