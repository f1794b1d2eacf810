//! `GET /force-logout` asks for confirmation (it never acts); `POST /force-logout` ends every
//! session: from the confirmation form (CSRF token) or as JSON (admin session or control token).

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use yam_sessions::Access;

use super::admin::{SOON, end_all_sessions};
use crate::admin_auth::{Caller, Denied, admin_caller};
use crate::auth;
use crate::csrf::{form_token, form_token_valid};
use crate::error::AppError;
use crate::html;
use crate::state::SharedState;

fn denied_page(denied: Denied) -> Response {
    match denied {
        Denied::NotLoggedIn(check) => auth::page_redirect(&check, "/force-logout"),
        Denied::NotAdmin => (
            StatusCode::FORBIDDEN,
            Html(html::message_page(
                "Not allowed",
                denied.message(),
                ("/", "Back"),
            )),
        )
            .into_response(),
        other => other.into_json(),
    }
}

pub async fn confirm_page(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let caller = match admin_caller(&state, &headers, peer, Access::Probe).await? {
        Ok(c) => c,
        Err(denied) => return Ok(denied_page(denied)),
    };
    let counts = super::blocking(&state, |s| s.sessions.counts(SOON)).await??;
    let Caller::Admin(admin) = caller else {
        return Ok(Json(json!({
            "success": true,
            "sessions": counts.live,
            "users": counts.users,
            "message": "Nothing was done. POST /force-logout to end these sessions.",
        }))
        .into_response());
    };
    let token = form_token(&state.form_secret, &admin.key);
    let page = html::force_logout_confirm_page(counts.live, counts.users, &token);
    Ok(Html(page).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfirmForm {
    csrf_token: String,
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_TYPE).map(|v| {
        v.to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

pub async fn submit(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let ct = content_type(&headers);
    let is_form = ct.as_deref() == Some("application/x-www-form-urlencoded");
    let is_json = ct.as_deref() == Some("application/json") || (ct.is_none() && body.is_empty());
    if !is_form && !is_json {
        return Err(AppError::UnsupportedMediaType(
            "Send the confirmation form, or JSON (Content-Type: application/json), or no body."
                .into(),
        ));
    }
    let caller = match admin_caller(&state, &headers, peer, Access::Probe).await? {
        Ok(c) => c,
        Err(denied) if is_form => return Ok(denied_page(denied)),
        Err(denied) => return Ok(denied.into_json()),
    };
    if is_form {
        let Caller::Admin(admin) = &caller else {
            return Err(AppError::BadRequest(
                "Forms need an admin session; scripts send JSON.".into(),
            ));
        };
        let form: ConfirmForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        if !form_token_valid(&state.form_secret, &admin.key, &form.csrf_token) {
            tracing::warn!(admin = %admin.user.username, "Refused a force-logout form without a valid CSRF token");
            let page = html::message_page(
                "This form has expired",
                "Nothing was done. Open Force logout again.",
                ("/force-logout", "Force logout"),
            );
            return Ok((StatusCode::FORBIDDEN, Html(page)).into_response());
        }
        let ended = end_all_sessions(&state, &caller).await?;
        let page = html::message_page(
            "Everyone is logged out",
            &format!(
                "{ended_sessions} ended.",
                ended_sessions = yam_sessions::words::count(ended, "session")
            ),
            ("/login", "Log in again"),
        );
        return Ok(([(header::SET_COOKIE, auth::clear_cookie())], Html(page)).into_response());
    }
    let ended = end_all_sessions(&state, &caller).await?;
    Ok(Json(json!({
        "success": true,
        "sessions_ended": ended,
        "message": format!("Ended {ended_sessions}; everyone must log in again.", ended_sessions = yam_sessions::words::count(ended, "session")),
    }))
    .into_response())
}
