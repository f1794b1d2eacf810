//! Cross-site protection for cookie-authenticated state changes:
//! a foreign `Origin` is refused, JSON endpoints take only JSON (or no body), and HTML forms
//! carry a token bound to the session. No permissive CORS anywhere.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use yam_sessions::SessionKey;

use crate::error::failure;

/// Same origin: `Origin` absent (scripts, curl) or naming the host the request was sent to.
pub fn origin_allowed(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !authority.is_empty() && authority.eq_ignore_ascii_case(host)
}

/// Middleware for every route: unsafe methods from another site are refused.
pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && !origin_allowed(request.headers()) {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "Refused a cross-site request");
        return failure(
            StatusCode::FORBIDDEN,
            "Cross-site request refused: this action must come from YAM's own pages or a script.",
        );
    }
    next.run(request).await
}

/// Middleware for JSON endpoints: a body must be JSON. A request without a body (a script's
/// plain POST) is fine; a cross-site form always has a non-JSON content type.
pub async fn require_json_body(request: Request, next: Next) -> Response {
    let h = request.headers();
    let content_type = h.get(header::CONTENT_TYPE).map(|v| {
        v.to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let has_body = h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let ok = match content_type.as_deref() {
        Some("application/json") => true,
        Some(_) => false,
        None => !has_body,
    };
    if !ok {
        return failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This endpoint takes JSON: send Content-Type: application/json (or no body).",
        );
    }
    next.run(request).await
}

type FormMac = Hmac<Sha256>;
/// Bytes of the MAC a form carries (128 bits, hex in the form).
const TOKEN_BYTES: usize = 16;

fn form_mac(secret: &[u8; 32], session: &SessionKey) -> FormMac {
    let mut mac = FormMac::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"yam-csrf-v1:");
    mac.update(session.to_hex().as_bytes());
    mac
}

/// The token a form of this session must carry: HMAC-SHA256 of the session key under a
/// per-start secret. A form from another site cannot know it.
pub fn form_token(secret: &[u8; 32], session: &SessionKey) -> String {
    hex::encode(&form_mac(secret, session).finalize().into_bytes()[..TOKEN_BYTES])
}

/// Checks an offered token in constant time (the `hmac` crate's comparison).
pub fn form_token_valid(secret: &[u8; 32], session: &SessionKey, offered: &str) -> bool {
    match hex::decode(offered) {
        Ok(tag) if tag.len() == TOKEN_BYTES => form_mac(secret, session)
            .verify_truncated_left(&tag)
            .is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(&headers(&[("host", "127.0.0.1:5000")])));
        assert!(origin_allowed(&headers(&[
            ("host", "127.0.0.1:5000"),
            ("origin", "http://127.0.0.1:5000")
        ])));
        assert!(!origin_allowed(&headers(&[
            ("host", "127.0.0.1:5000"),
            ("origin", "http://evil.example")
        ])));
        assert!(!origin_allowed(&headers(&[
            ("host", "127.0.0.1:5000"),
            ("origin", "null")
        ])));
        assert!(!origin_allowed(&headers(&[
            ("host", "a"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(
            !origin_allowed(&headers(&[("origin", "http://127.0.0.1:5000")])),
            "no Host"
        );
    }

    #[test]
    fn form_tokens_are_bound_to_the_session() {
        let secret = [7u8; 32];
        let a = yam_sessions::SessionId::generate().expect("id").key();
        let b = yam_sessions::SessionId::generate().expect("id").key();
        let t = form_token(&secret, &a);
        assert!(form_token_valid(&secret, &a, &t));
        assert!(!form_token_valid(&secret, &b, &t));
        assert!(!form_token_valid(&[8u8; 32], &a, &t));
        assert!(!form_token_valid(&secret, &a, ""));
        assert!(!form_token_valid(&secret, &a, &t[..30]));
        assert!(!form_token_valid(&secret, &a, "zz"));
        assert_eq!(t.len(), 32);
    }
}
