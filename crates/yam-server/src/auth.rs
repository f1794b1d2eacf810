//! The `yam_session` cookie and what a request's session check means for the response.

use std::net::SocketAddr;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use yam_sessions::{Access, AuthOutcome, Authenticated, ClientInfo, EndReason, SessionId};

use crate::error::AppError;
use crate::state::AppState;

pub const COOKIE_NAME: &str = "yam_session";

/// The outcome of looking at a request's cookie.
#[derive(Debug)]
pub enum Check {
    Valid(Authenticated),
    /// No session cookie at all.
    Anonymous,
    /// A cookie that is no longer (or never was) a session.
    Ended(EndReason),
}

impl Check {
    pub fn had_cookie(&self) -> bool {
        !matches!(self, Check::Anonymous)
    }
}

pub fn set_cookie(id: &SessionId) -> HeaderValue {
    let value = format!(
        "{COOKIE_NAME}={}; HttpOnly; SameSite=Lax; Path=/",
        id.as_str()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "yam_session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax; Path=/",
    )
}

/// Every `yam_session` value in the request's Cookie headers.
fn cookie_values(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .collect()
}

fn has_cookie_header_with_name(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .any(|v| String::from_utf8_lossy(v.as_bytes()).contains(COOKIE_NAME))
}

/// Checks the request's session. The fast path is in memory; repairing a damaged session
/// touches the disk, which is rare enough to do inline.
pub fn check(state: &AppState, headers: &HeaderMap, access: Access) -> Result<Check, AppError> {
    let values = cookie_values(headers);
    if values.is_empty() {
        return Ok(if has_cookie_header_with_name(headers) {
            Check::Ended(EndReason::Unknown)
        } else {
            Check::Anonymous
        });
    }
    let mut last = EndReason::Unknown;
    for value in values {
        match state.sessions.authenticate(value, access)? {
            AuthOutcome::Valid(auth) => return Ok(Check::Valid(auth)),
            AuthOutcome::Rejected(reason) => last = reason,
        }
    }
    Ok(Check::Ended(last))
}

/// The one clean answer an API caller without a valid session gets.
pub fn api_unauthorized(check: &Check) -> Response {
    let (reason, message) = match check {
        Check::Ended(r) => (r.as_str(), r.message()),
        _ => ("no_session", "You are not logged in."),
    };
    let body = Json(json!({
        "success": false,
        "message": message,
        "reason": reason,
        "session_healthy": false,
        "redirect": "/login",
    }));
    let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
    if check.had_cookie() {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, clear_cookie());
    }
    response
}

/// Pages send the visitor to the login form once, clearing a stale cookie so it cannot loop.
pub fn page_redirect(check: &Check, next: &str) -> Response {
    let mut target = String::from("/login");
    let mut sep = '?';
    if next != "/" {
        target.push_str(&format!("?next={}", urlencode(next)));
        sep = '&';
    }
    if let Check::Ended(reason) = check {
        target.push_str(&format!("{sep}reason={}", reason.as_str()));
    }
    let mut response = found(&target);
    if check.had_cookie() {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, clear_cookie());
    }
    response
}

/// `302 Found`, the redirect browsers and YAM's clients expect after a form post.
pub fn found(location: &str) -> Response {
    let location =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// Only same-site paths: `/x`, never `//evil.example`, `/\evil`, or an absolute URL.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2048
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

pub fn client_info(addr: SocketAddr, headers: &HeaderMap) -> ClientInfo {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    ClientInfo::new(Some(addr.ip().to_string()), ua)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_limited_to_same_site_paths() {
        assert_eq!(safe_next(Some("/reports?x=1")), "/reports?x=1");
        for bad in [
            "//evil.example",
            "/\\evil",
            "https://evil.example",
            "javascript:alert(1)",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; yam_session=abc; b=2"),
        );
        assert_eq!(cookie_values(&h), vec!["abc"]);
        h.insert(header::COOKIE, HeaderValue::from_static("yam_session_x=1"));
        assert!(cookie_values(&h).is_empty());
    }

    #[test]
    fn redirects_carry_next_and_reason() {
        let r = page_redirect(&Check::Ended(EndReason::Expired), "/a b");
        assert_eq!(
            r.headers()[header::LOCATION],
            "/login?next=%2Fa+b&reason=expired"
        );
        assert!(r.headers().contains_key(header::SET_COOKIE));
        let r = page_redirect(&Check::Anonymous, "/");
        assert_eq!(r.headers()[header::LOCATION], "/login");
        assert!(!r.headers().contains_key(header::SET_COOKIE));
    }
}
