//! Who may call admin endpoints: an admin's session, or the control token from this computer.

use std::net::SocketAddr;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use yam_sessions::{Access, Authenticated};

use crate::auth::{self, Check};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug)]
pub enum Caller {
    /// `Authorization: Bearer <control token>` from loopback.
    Token,
    Admin(Authenticated),
}

impl Caller {
    pub fn describe(&self) -> String {
        match self {
            Caller::Token => "control token".to_owned(),
            Caller::Admin(a) => format!("admin {}", a.user.username),
        }
    }

    pub fn session(&self) -> Option<&Authenticated> {
        match self {
            Caller::Admin(a) => Some(a),
            Caller::Token => None,
        }
    }
}

#[derive(Debug)]
pub enum Denied {
    NotLoggedIn(Check),
    NotAdmin,
    BadToken,
    TokenNotFromLoopback,
}

impl Denied {
    pub fn status(&self) -> StatusCode {
        match self {
            Denied::NotLoggedIn(_) | Denied::BadToken => StatusCode::UNAUTHORIZED,
            Denied::NotAdmin | Denied::TokenNotFromLoopback => StatusCode::FORBIDDEN,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Denied::NotLoggedIn(_) => {
                "Admin access needed: log in as an admin, or send 'Authorization: Bearer <token>' \
                 from this computer with the token from the control-token file in the server's \
                 data folder (the supervisor and 'yam-server force-logout' do this for you)."
            }
            Denied::NotAdmin => "Your account is not an admin; ask an admin to do this.",
            Denied::BadToken => {
                "Invalid control token: use the one in the control-token file of the running server's data folder."
            }
            Denied::TokenNotFromLoopback => {
                "The control token is accepted only from this computer (127.0.0.1 or ::1); from \
                 elsewhere, log in as an admin."
            }
        }
    }

    pub fn into_json(self) -> Response {
        let mut response = (
            self.status(),
            Json(json!({ "success": false, "message": self.message(), "redirect": "/login" })),
        )
            .into_response();
        if let Denied::NotLoggedIn(check) = &self
            && check.had_cookie()
        {
            response
                .headers_mut()
                .insert(header::SET_COOKIE, auth::clear_cookie());
        }
        response
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?;
    let value = value.to_str().unwrap_or("");
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Decides whether this request may act as an admin. Admin checks are probes: looking at the
/// sessions list does not count as activity on the admin's own session.
pub async fn admin_caller(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    access: Access,
) -> Result<Result<Caller, Denied>, AppError> {
    if let Some(offered) = bearer(headers) {
        if !peer.ip().is_loopback() {
            tracing::warn!(ip = %peer.ip(), "Refused the control token from a non-loopback address");
            return Ok(Err(Denied::TokenNotFromLoopback));
        }
        if !state.control_token.matches(offered) {
            tracing::warn!(ip = %peer.ip(), "Refused an invalid control token");
            return Ok(Err(Denied::BadToken));
        }
        return Ok(Ok(Caller::Token));
    }
    Ok(match auth::check(state, headers, access).await? {
        Check::Valid(a) if a.user.is_admin => Ok(Caller::Admin(a)),
        Check::Valid(_) => Err(Denied::NotAdmin),
        other => Err(Denied::NotLoggedIn(other)),
    })
}
