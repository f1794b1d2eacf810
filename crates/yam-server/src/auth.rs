//! The `yam_session` cookie and what a request's session check means for the response.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
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

/// At most this many `yam_session` cookies of one request are looked at.
const MAX_SESSION_COOKIES: usize = 8;

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn set_cookie(id: &SessionId) -> HeaderValue {
    header_value(
        &Cookie::build((COOKIE_NAME, id.as_str()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .build(),
    )
}

pub fn clear_cookie() -> HeaderValue {
    let mut cookie = Cookie::build((COOKIE_NAME, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .build();
    cookie.make_removal();
    header_value(&cookie)
}

/// Every `yam_session` value in the request's Cookie headers, parsed by the `cookie` crate:
/// `yam_session_x` or `my_yam_session` belong to other applications on the same host.
fn cookie_values(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value_trimmed().to_owned())
        .take(MAX_SESSION_COOKIES)
        .collect()
}

/// Checks the request's session. A known, valid session is answered from memory on the
/// async worker; anything that touches storage (reading a changed file, ending or repairing
/// a session, looking up a user) runs on a blocking thread.
pub async fn check(
    state: &AppState,
    headers: &HeaderMap,
    access: Access,
) -> Result<Check, AppError> {
    let values = cookie_values(headers);
    if values.is_empty() {
        return Ok(Check::Anonymous);
    }
    let mut last = EndReason::Unknown;
    let mut valid = Vec::new();
    for value in values {
        let mut outcome = state.sessions.authenticate_in_memory(&value, access)?;
        if outcome.is_none() {
            // A shared store (Redis) reads on this worker without blocking it.
            outcome = state
                .sessions
                .authenticate_without_blocking(&value, access)
                .await?;
        }
        let outcome = match outcome {
            Some(outcome) => outcome,
            None => {
                let sessions = Arc::clone(&state.sessions);
                tokio::task::spawn_blocking(move || sessions.authenticate(&value, access)).await??
            }
        };
        match outcome {
            AuthOutcome::Valid(auth) => valid.push(auth),
            AuthOutcome::Rejected(reason) => last = reason,
        }
    }
    match pick_session(valid) {
        Picked::One(auth) => Ok(Check::Valid(auth)),
        Picked::None => Ok(Check::Ended(last)),
        Picked::Ambiguous(keys) => {
            let sessions = Arc::clone(&state.sessions);
            tokio::task::spawn_blocking(move || {
                for key in &keys {
                    sessions.end(key, EndReason::Ambiguous)?;
                }
                Ok::<_, yam_sessions::StoreError>(())
            })
            .await??;
            Ok(Check::Ended(EndReason::Ambiguous))
        }
    }
}

/// Which of a request's valid sessions it is served as.
#[derive(Debug)]
enum Picked {
    None,
    One(Authenticated),
    /// Sessions of different users: never serve one person as another.
    Ambiguous(Vec<yam_sessions::SessionKey>),
}

/// A browser sends two `yam_session` cookies only when one was set for another path or
/// domain — by someone else, since this server sets one cookie on `/`. Sessions of one user
/// (a stale login and a fresh one): the newest. Sessions of different users: none, and both
/// end, so a planted cookie neither serves the victim as the attacker nor lives on.
fn pick_session(valid: Vec<Authenticated>) -> Picked {
    let mut valid = valid.into_iter();
    let Some(first) = valid.next() else {
        return Picked::None;
    };
    let mut newest = first;
    let mut keys = vec![newest.key];
    let mut mixed = false;
    for auth in valid {
        if auth.key == newest.key {
            continue;
        }
        mixed |= auth.record.user_id != newest.record.user_id;
        keys.push(auth.key);
        if auth.record.created > newest.record.created {
            newest = auth;
        }
    }
    if mixed {
        Picked::Ambiguous(keys)
    } else {
        Picked::One(newest)
    }
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
        for other in [
            "yam_session_x=1",
            "my_yam_session=1",
            "yam_sessionx=1; x=yam_session",
        ] {
            h.insert(header::COOKIE, HeaderValue::from_static(other));
            assert!(cookie_values(&h).is_empty(), "{other}");
        }
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("yam_session=\"q\""),
        );
        assert_eq!(cookie_values(&h), vec!["q"]);
    }

    #[test]
    fn cookies_we_set() {
        let set = set_cookie(&SessionId::parse(&"A".repeat(43)).expect("id"));
        let set = set.to_str().expect("ascii");
        assert!(
            set.starts_with(&format!("yam_session={}", "A".repeat(43))),
            "{set}"
        );
        for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        let clear = clear_cookie();
        let clear = clear.to_str().expect("ascii");
        assert!(
            clear.starts_with("yam_session=;") && clear.contains("Max-Age=0"),
            "{clear}"
        );
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
