//! `GET/POST /login` (form or JSON) and `GET /logout`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use yam_sessions::{Access, EndReason, UserInfo};

use super::ok_with_session;
use crate::auth::{self, Check};
use crate::error::AppError;
use crate::html;
use crate::state::SharedState;
use crate::throttle::{Attempt, Refusal};
use crate::users::passwords;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    next: Option<String>,
    reason: Option<String>,
}

/// Credentials in any of the shapes YAM's clients send.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginRequest {
    login_id: Option<String>,
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

impl LoginRequest {
    fn login(&self) -> &str {
        [&self.login_id, &self.email, &self.username]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .unwrap_or("")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
}

fn body_kind(headers: &HeaderMap) -> Option<BodyKind> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(BodyKind::Json),
        "application/x-www-form-urlencoded" => Some(BodyKind::Form),
        _ => None,
    }
}

pub async fn login_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AppError> {
    let next = auth::safe_next(query.next.as_deref());
    let check = auth::check(&state, &headers, Access::Probe).await?;
    if let Check::Valid(_) = check {
        return Ok(auth::found(&next));
    }
    let notice = html::reason_from_query(query.reason.as_deref());
    let mut response = Html(html::login_page(None, notice, &next, "")).into_response();
    // A stale cookie is cleared here without another redirect: no loop is possible.
    if check.had_cookie() {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, auth::clear_cookie());
    }
    Ok(response)
}

fn failure(kind: BodyKind, status: StatusCode, message: &str, request: &LoginRequest) -> Response {
    match kind {
        BodyKind::Json => crate::error::failure(status, message),
        BodyKind::Form => {
            let next = auth::safe_next(request.next.as_deref());
            (
                status,
                Html(html::login_page(
                    Some(message),
                    None,
                    &next,
                    request.login(),
                )),
            )
                .into_response()
        }
    }
}

/// 429 with `Retry-After`: the password is not even checked while an address or user waits,
/// or while too many attempts of it are being checked already.
fn throttled(kind: BodyKind, refusal: Refusal, request: &LoginRequest) -> Response {
    let wait = refusal.retry_after();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let message = match refusal {
        Refusal::Wait(_) => format!("Too many failed logins. Try again in {secs} second(s)."),
        Refusal::Busy => format!(
            "Too many logins are being checked for this address or user. Try again in {secs} second(s)."
        ),
    };
    let mut response = failure(kind, StatusCode::TOO_MANY_REQUESTS, &message, request);
    if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// An admitted login attempt; its in-flight places are given back when it is dropped, also
/// when the client disconnects in the middle of the hash.
struct AdmittedAttempt {
    state: SharedState,
    attempt: Attempt,
}

impl Drop for AdmittedAttempt {
    fn drop(&mut self) {
        self.state.throttle.lock().release(&self.attempt);
    }
}

pub async fn login_submit(
    State(state): State<SharedState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    via: Option<axum::Extension<crate::forwarded::ViaProxy>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let Some(kind) = body_kind(&headers) else {
        return Err(AppError::UnsupportedMediaType(
            "Send the login as application/json or as a form (application/x-www-form-urlencoded)."
                .into(),
        ));
    };
    let parsed = match kind {
        BodyKind::Json => serde_json::from_slice::<LoginRequest>(&body).map_err(|e| e.to_string()),
        BodyKind::Form => {
            serde_urlencoded::from_bytes::<LoginRequest>(&body).map_err(|e| e.to_string())
        }
    };
    let request = match parsed {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("The login request could not be read ({e}).");
            return Ok(failure(
                kind,
                StatusCode::BAD_REQUEST,
                &msg,
                &LoginRequest::default(),
            ));
        }
    };
    let login = request.login().to_owned();
    let password = request.password.clone().unwrap_or_default();
    if login.is_empty() || password.is_empty() {
        let msg = "Enter your username (or email) and your password.";
        return Ok(failure(kind, StatusCode::BAD_REQUEST, msg, &request));
    }

    let proxy = via.map(|axum::Extension(crate::forwarded::ViaProxy(p))| p);
    let admitted = state
        .throttle
        .lock()
        .begin_via(addr.ip(), proxy, &login, state.sessions.now());
    let attempt = match admitted {
        Ok(attempt) => AdmittedAttempt {
            state: Arc::clone(&state),
            attempt,
        },
        Err(refusal) => return Ok(throttled(kind, refusal, &request)),
    };
    let user = match verify(&state, &login, password).await? {
        Verdict::Ok(user) => {
            let now = state.sessions.now();
            state.throttle.lock().succeeded(&attempt.attempt, now);
            user
        }
        Verdict::Wrong => {
            tracing::info!(ip = %addr.ip(), "Failed login");
            return Ok(failure(
                kind,
                StatusCode::UNAUTHORIZED,
                "Invalid username or password.",
                &request,
            ));
        }
        Verdict::Disabled => {
            return Ok(failure(
                kind,
                StatusCode::FORBIDDEN,
                "This account is disabled. Ask an administrator of this YAM to enable it.",
                &request,
            ));
        }
    };

    let client = auth::client_info(addr, &headers);
    let sessions = state.sessions.clone();
    let login_user = user.clone();
    let users = Arc::clone(&state.users);
    let started = tokio::task::spawn_blocking(move || {
        // The database just vouched for this user: the session's next request finds it in
        // memory even before the next refresh (and while the database is briefly away).
        users.remember(&login_user);
        let started = sessions.login(&login_user, client)?;
        // Shown in the admin's users list; a failure here must not fail the login.
        if let Err(e) = users.record_login(login_user.id, sessions.now().as_secs()) {
            tracing::warn!("could not record the login time: {e}");
        }
        Ok::<_, yam_sessions::StoreError>(started)
    })
    .await??;
    tracing::info!(
        user = %user.username, ip = %addr.ip(), session = %started.key.short(), displaced = started.displaced,
        "User logged in ({})", state.sessions.policy().mode.describe()
    );
    let next = auth::safe_next(request.next.as_deref());
    let cookie = auth::set_cookie(&started.id);
    Ok(match kind {
        BodyKind::Json => {
            let body = ok_with_session(
                &state.sessions,
                &started.record,
                json!({
                    "message": "Login successful",
                    "user": { "id": user.id, "username": user.username, "is_admin": user.is_admin },
                    "redirect": next,
                    "displaced_sessions": started.displaced,
                }),
            );
            ([(header::SET_COOKIE, cookie)], Json(body)).into_response()
        }
        BodyKind::Form => {
            let mut response = auth::found(&next);
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
    })
}

enum Verdict {
    Ok(UserInfo),
    Wrong,
    Disabled,
}

async fn verify(state: &SharedState, login: &str, password: String) -> Result<Verdict, AppError> {
    let users = state.users.clone();
    let login = login.to_owned();
    let row = tokio::task::spawn_blocking(move || users.find_by_login(&login)).await??;
    let hash = row.as_ref().map(|r| r.password_hash.clone());
    if !state.passwords.verify(password.clone(), hash).await {
        return Ok(Verdict::Wrong);
    }
    if let Some(r) = row
        .as_ref()
        .filter(|r| passwords::needs_rehash(&r.password_hash))
    {
        // Upgrade the stored hash in the background; the login does not wait for it.
        let (state, id) = (Arc::clone(state), r.info.id);
        tokio::spawn(async move {
            if let Some(new_hash) = state.passwords.hash(password).await {
                let users = Arc::clone(&state.users);
                let _ = tokio::task::spawn_blocking(move || users.set_hash(id, &new_hash)).await;
            }
        });
    }
    Ok(match row {
        Some(r) if r.info.is_active => Verdict::Ok(r.info),
        Some(_) => Verdict::Disabled,
        None => Verdict::Wrong,
    })
}

/// `GET /logout` acts only for the user's own click or typed address (`Sec-Fetch-Site`
/// same-origin or none); a link from another site (or a browser that does not say) gets a
/// page that asks, so no other site can log anyone out.
pub async fn logout_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let own_navigation = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("same-origin") || v.eq_ignore_ascii_case("none"));
    if !own_navigation {
        return Ok(Html(html::logout_confirm_page()).into_response());
    }
    end_session_and_go_to_login(&state, &headers).await
}

/// `POST /logout` (the page's button; cross-site posts are refused by the Origin check).
pub async fn logout_submit(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    end_session_and_go_to_login(&state, &headers).await
}

async fn end_session_and_go_to_login(
    state: &SharedState,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let check = auth::check(state, headers, Access::Probe).await?;
    if let Check::Valid(a) = &check {
        let sessions = state.sessions.clone();
        let key = a.key;
        tokio::task::spawn_blocking(move || sessions.end(&key, EndReason::LoggedOut)).await??;
        tracing::info!(user = %a.user.username, session = %a.key.short(), "User logged out");
    }
    let mut response = auth::found("/login?reason=logged_out");
    if check.had_cookie() {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, auth::clear_cookie());
    }
    Ok(response)
}
