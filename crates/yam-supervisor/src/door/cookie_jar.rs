//! The cookie work both session views at the door share: reading a request's cookies and an
//! answer's `Set-Cookie`s, taking cookies out of a request and clearing them in an answer.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::Cookie;

use crate::signins::user_key;

/// A header's bytes as text, one char per byte (Latin-1, as WSGI servers read them): a byte
/// over 0x7F must not hide a cookie from the door while YAM still reads it.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text made by `latin1` (or plain ASCII), back to its bytes.
fn latin1_bytes(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// The request's cookies, in order (every `Cookie` header).
pub fn request_cookies(headers: &HeaderMap) -> Vec<Cookie<'static>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| {
            Cookie::split_parse(latin1(v.as_bytes()))
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whom a Flask-Login remember cookie (`user_id|digest`, split at the last `|` as Flask-Login
/// does) names, as `user_key` keeps users; `None` when it names no one (Flask-Login would not
/// sign anyone in with it either).
pub fn remember_user(value: &str) -> Option<String> {
    let (user, _digest) = value.rsplit_once('|')?;
    (!user.is_empty()).then(|| user_key(user))
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
        .into_iter()
        .filter(|c| !names.contains(&c.name()))
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty()
        && let Ok(v) = HeaderValue::from_bytes(&latin1_bytes(&kept.join("; ")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(bytes: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_bytes(bytes).expect("obs-text is a valid header value"),
        );
        h
    }

    #[test]
    fn a_byte_over_0x7f_hides_no_cookie() {
        let mut h = with_cookie(b"remember_token=1|abc; z=\xe9t\xe9; yam_session=s1");
        let names: Vec<String> = request_cookies(&h)
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        assert_eq!(names, vec!["remember_token", "z", "yam_session"]);
        strip(&mut h, &["remember_token", "yam_session"]);
        assert_eq!(
            h.get(header::COOKIE).map(HeaderValue::as_bytes),
            Some(&b"z=\xe9t\xe9"[..]),
            "the other cookie's bytes pass unchanged"
        );
    }

    #[test]
    fn reads_whom_a_remember_cookie_names() {
        assert_eq!(remember_user("1|digest").as_deref(), Some("1"));
        // Flask-Login splits at the last '|'.
        assert_eq!(remember_user("a|b|digest").as_deref(), Some("a|b"));
        let long = "t".repeat(200);
        let key = remember_user(&format!("{long}|digest")).expect("a long id is still someone");
        assert!(key.starts_with("sha256:") && key.len() == 7 + 64, "{key}");
        assert_eq!(remember_user("no-digest"), None);
        assert_eq!(remember_user("|digest"), None);
    }
}
