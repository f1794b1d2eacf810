//! The cookie work both session views at the door share: reading a request's cookies and an
//! answer's `Set-Cookie`s, taking cookies out of a request and clearing them in an answer.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::Cookie;

/// The request's cookies, as (name, value) pairs, in order.
pub fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'_>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|text| Cookie::split_parse(text).flatten())
}

/// The user a Flask-Login remember cookie (`user_id|digest`) names, when it looks like one.
pub fn remember_user(value: &str) -> Option<&str> {
    let user = value.split('|').next().unwrap_or("");
    (!user.is_empty() && user.len() <= 64).then_some(user)
}

/// What an answer did to one cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetCookie {
    /// Set it: its value, and its own expiry (Unix seconds) when it has one.
    Set {
        value: String,
        expires: Option<u64>,
    },
    Cleared,
}

/// The answer's first `Set-Cookie` for `name`, `now` in Unix seconds.
pub fn answered(headers: &HeaderMap, name: &str, now: u64) -> Option<SetCookie> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| Cookie::parse(v.to_str().ok()?).ok())
        .find(|c| c.name() == name)
        .map(|c| {
            let expires = c
                .expires_datetime()
                .map(|t| u64::try_from(t.unix_timestamp()).unwrap_or(0));
            let cleared = c.value().is_empty()
                || c.max_age().is_some_and(|a| a.whole_seconds() <= 0)
                || expires.is_some_and(|e| e <= now);
            if cleared {
                SetCookie::Cleared
            } else {
                SetCookie::Set {
                    value: c.value().to_owned(),
                    expires,
                }
            }
        })
}

/// A `Set-Cookie` that clears `name`.
fn clearing(name: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax"
    ))
    .ok()
}

/// Appends a `Set-Cookie` that clears `name`.
pub fn clear(headers: &mut HeaderMap, name: &str) {
    if let Some(v) = clearing(name) {
        headers.append(header::SET_COOKIE, v);
    }
}

/// Takes the cookies named in `names` out of a request.
pub fn strip(headers: &mut HeaderMap, names: &[&str]) {
    let kept: Vec<String> = request_cookies(headers)
        .filter(|c| !names.contains(&c.name()))
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty()
        && let Ok(v) = HeaderValue::from_str(&kept.join("; "))
    {
        headers.insert(header::COOKIE, v);
    }
}

/// Clears the cookies named in `names` in an answer (replacing whatever it set for them).
pub fn clear_all(headers: &mut HeaderMap, names: &[&str]) {
    let kept: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter(|v| {
            let name = v
                .to_str()
                .ok()
                .and_then(|t| t.split('=').next())
                .unwrap_or("")
                .trim();
            !names.contains(&name)
        })
        .cloned()
        .collect();
    headers.remove(header::SET_COOKIE);
    for v in kept {
        headers.append(header::SET_COOKIE, v);
    }
    for name in names {
        clear(headers, name);
    }
}
