//! Control API handlers: thin calls into the supervisor handle.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::WatchStream;

use super::SharedControl;
use super::auth::{Caller, cookie_value, owner_only, token_matches};
use crate::supervisor::ActionError;

fn ok(message: impl Into<String>) -> Response {
    Json(json!({ "ok": true, "message": message.into() })).into_response()
}

pub(super) fn failed(e: &ActionError) -> Response {
    let status = match e {
        ActionError::NotSupported(_) => StatusCode::NOT_IMPLEMENTED,
        ActionError::InvalidInput(_) => StatusCode::BAD_REQUEST,
        ActionError::Failed(_) => StatusCode::BAD_GATEWAY,
        ActionError::Gone => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(json!({ "ok": false, "error": e }))).into_response()
}

fn reply(result: Result<String, ActionError>) -> Response {
    match result {
        Ok(m) => ok(m),
        Err(e) => failed(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClearBody {
    clear: bool,
}

fn clear_of(body: Option<Json<ClearBody>>) -> bool {
    body.is_some_and(|Json(b)| b.clear)
}

pub async fn status(State(s): State<SharedControl>) -> Response {
    Json(s.supervisor.status()).into_response()
}

pub async fn sessions(State(s): State<SharedControl>) -> Response {
    match s.supervisor.sessions().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => failed(&e),
    }
}

pub async fn revoke(State(s): State<SharedControl>, Path(key): Path<String>) -> Response {
    reply(s.supervisor.revoke(&key).await)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogsQuery {
    since: u64,
}

pub async fn logs(State(s): State<SharedControl>, Query(q): Query<LogsQuery>) -> Response {
    Json(json!({ "lines": s.supervisor.log().since(q.since) })).into_response()
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    span: Option<crate::history::Span>,
}

/// The load history for the chart: `?span=day` (default, a point a minute) or `week` (a point
/// an hour).
pub async fn history(State(s): State<SharedControl>, Query(q): Query<HistoryQuery>) -> Response {
    let span = q.span.unwrap_or(crate::history::Span::Day);
    match s.supervisor.history(span).await {
        Ok(series) => Json(series).into_response(),
        Err(e) => failed(&e),
    }
}

/// One `status` event now and one per change.
pub async fn events(
    State(s): State<SharedControl>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let stream = WatchStream::new(s.supervisor.subscribe()).map(|status| {
        Ok(Event::default()
            .event("status")
            .json_data(&status)
            .unwrap_or_else(|_| Event::default().comment("unserialisable status")))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

pub async fn start(State(s): State<SharedControl>, body: Option<Json<ClearBody>>) -> Response {
    let clear = clear_of(body);
    reply(
        s.supervisor
            .start(clear)
            .await
            .map(|()| "Starting the server…".into()),
    )
}

pub async fn stop(State(s): State<SharedControl>) -> Response {
    reply(
        s.supervisor
            .stop()
            .await
            .map(|()| "Stopping the server…".into()),
    )
}

pub async fn restart(State(s): State<SharedControl>, body: Option<Json<ClearBody>>) -> Response {
    let clear = clear_of(body);
    let message = if clear {
        "Restarting and logging everyone out…"
    } else {
        "Restarting the server…"
    };
    reply(s.supervisor.restart(clear).await.map(|()| message.into()))
}

pub async fn force_logout(State(s): State<SharedControl>) -> Response {
    reply(s.supervisor.force_logout().await)
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A JSON object's values as the text `Settings::set` takes.
pub fn changes_of(body: &Value) -> Option<Vec<(String, String)>> {
    Some(
        body.as_object()?
            .iter()
            .map(|(k, v)| (k.clone(), as_text(v)))
            .collect(),
    )
}

/// Body: an object of settings to change, e.g. `{"port": 5001, "debug": true}`. What
/// decides the command the supervisor runs needs the control token.
pub async fn settings(
    State(s): State<SharedControl>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<Value>,
) -> Response {
    let Some(changes) = changes_of(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({ "ok": false, "errors": [{ "field": "body", "message": "send a JSON object of settings" }] }))).into_response();
    };
    let current = s.supervisor.settings();
    let (next, errors) =
        current.apply_changes(changes.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let owner_only_keys = current.owner_only_differences(&next);
    if caller == Caller::Dashboard && !owner_only_keys.is_empty() {
        tracing::warn!(keys = ?owner_only_keys, "Refused a settings change from a dashboard cookie");
        return owner_only(&format!("Changing {}", owner_only_keys.join(", ")));
    }
    if !errors.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "ok": false, "errors": errors })),
        )
            .into_response();
    }
    match s.supervisor.save_settings(next).await {
        Ok(saved) => {
            Json(json!({ "ok": true, "message": saved.message, "restarted": saved.restarted }))
                .into_response()
        }
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "ok": false, "errors": errors })),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct MultipleBody {
    on: bool,
}

pub async fn multiple_sessions(
    State(s): State<SharedControl>,
    Json(body): Json<MultipleBody>,
) -> Response {
    match s.supervisor.set_multiple_sessions(body.on).await {
        Ok(saved) => {
            Json(json!({ "ok": true, "message": saved.message, "restarted": saved.restarted }))
                .into_response()
        }
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "ok": false, "errors": errors })),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    token: String,
}

fn session_cookie(name: &str, value: &str, remove: bool) -> String {
    let mut cookie = cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .build();
    if remove {
        cookie.make_removal();
    }
    cookie.to_string()
}

/// Trades the token from the dashboard link's fragment for a dashboard session: a new random
/// secret in a SameSite=Strict cookie. The cookie never carries the token itself (cookies
/// reach every port of 127.0.0.1, other programs' included).
pub async fn login(State(s): State<SharedControl>, Json(body): Json<LoginBody>) -> Response {
    if !token_matches(&s.token, body.token.trim()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "ok": false, "error": { "kind": "refused", "message": "Wrong token: open the dashboard with the link `yamctl up` printed." } }))).into_response();
    }
    let secret = match s.dashboard.lock().open(std::time::Instant::now()) {
        Ok(secret) => secret,
        Err(e) => return failed(&ActionError::Failed(format!("no OS randomness: {e}"))),
    };
    let cookie = session_cookie(&s.cookie_name, &secret, false);
    ([(header::SET_COOKIE, cookie)], Json(json!({ "ok": true }))).into_response()
}

/// Ends this browser's dashboard session.
pub async fn logout(State(s): State<SharedControl>, headers: axum::http::HeaderMap) -> Response {
    if let Some(secret) = cookie_value(&headers, &s.cookie_name) {
        s.dashboard.lock().revoke(&secret);
    }
    let cookie = session_cookie(&s.cookie_name, "", true);
    (
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "ok": true, "message": "Logged out of the dashboard." })),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct FolderBody {
    path: String,
}

/// "Connect my YAM": what the tray could do with a folder, before anything is saved. Owner
/// only: it runs the Python it finds in that folder.
pub async fn check_yam_folder(
    State(s): State<SharedControl>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<FolderBody>,
) -> Response {
    if caller == Caller::Dashboard {
        return owner_only("Checking a YAM folder (it runs that folder's Python)");
    }
    let python = s.supervisor.status().settings.python;
    let report =
        crate::yam_folder::check(std::path::Path::new(body.path.trim()), python.as_deref()).await;
    Json(json!({ "ok": true, "check": report })).into_response()
}

/// The first-run admin password, until the admin confirms they saved it. Owner only: a
/// cookie that leaked to another local program must not yield the server's admin password.
pub async fn first_run_password(
    State(s): State<SharedControl>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if caller == Caller::Dashboard {
        return owner_only("Reading the first-run password");
    }
    let data_dir = s.supervisor.status().data_dir;
    match crate::first_run::read(&data_dir) {
        Some(password) => Json(json!({ "ok": true, "username": "admin", "password": password })).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "ok": false, "error": { "kind": "not_found", "message": "There is no first-run password to show." } }))).into_response(),
    }
}

pub async fn dismiss_first_run_password(State(s): State<SharedControl>) -> Response {
    let data_dir = s.supervisor.status().data_dir;
    match crate::first_run::dismiss(&data_dir) {
        Ok(()) => {
            s.supervisor.refresh().await;
            ok("The first-run password will not be shown again.")
        }
        Err(e) => failed(&ActionError::Failed(format!("cannot record it: {e}"))),
    }
}
