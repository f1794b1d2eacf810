//! `yamctl up`'s control API: loopback only, a token (Bearer header or the SameSite=Strict
//! cookie the dashboard gets for it), Host checked against DNS rebinding, JSON in and out,
//! Server-Sent Events for status, and the `ui/` files.

mod auth;
pub mod dashboard;
mod routes;
mod ui;
mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{delete, get, post};
use tower_http::services::ServeDir;

use crate::supervisor::Supervisor;

pub use auth::{Caller, cookie_name, host_is_loopback};
pub use routes::changes_of;

pub struct ControlState {
    pub supervisor: Supervisor,
    /// The control token (`Authorization: Bearer`), from the user-private file.
    pub token: String,
    /// The dashboard cookie's name (it carries the port).
    pub cookie_name: String,
    pub dashboard: parking_lot::Mutex<dashboard::DashboardSessions>,
}

impl ControlState {
    pub fn new(supervisor: Supervisor, token: String, port: u16) -> Self {
        Self {
            supervisor,
            token,
            cookie_name: cookie_name(port),
            dashboard: parking_lot::Mutex::new(dashboard::DashboardSessions::default()),
        }
    }
}

pub type SharedControl = Arc<ControlState>;

pub fn router(state: SharedControl, ui_dir: Option<PathBuf>) -> Router {
    let api = Router::new()
        .route("/api/status", get(routes::status))
        .route("/api/sessions", get(routes::sessions))
        .route("/api/sessions/{key}", delete(routes::revoke))
        .route("/api/logs", get(routes::logs))
        .route("/api/history", get(routes::history))
        .route("/api/events", get(routes::events))
        .route("/api/start", post(routes::start))
        .route("/api/stop", post(routes::stop))
        .route("/api/restart", post(routes::restart))
        .route("/api/force-logout", post(routes::force_logout))
        .route("/api/settings", post(routes::settings))
        .route("/api/multiple-sessions", post(routes::multiple_sessions))
        .route("/api/first-run-password", get(routes::first_run_password))
        .route(
            "/api/first-run-password/seen",
            post(routes::dismiss_first_run_password),
        )
        .route("/api/logout", post(routes::logout))
        .route("/api/yam-folder/check", post(routes::check_yam_folder))
        .route("/api/users", get(users::list).post(users::add))
        .route(
            "/api/users/{name}",
            axum::routing::patch(users::update).delete(users::remove),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ));
    let mut router = Router::new()
        .route("/api/login", post(routes::login))
        .merge(api)
        .fallback(ui::embedded);
    // A folder given with --ui (development) is served instead of the embedded files.
    if let Some(dir) = ui_dir.filter(|d| d.join("index.html").is_file()) {
        router = router.fallback_service(ServeDir::new(dir));
    }
    router
        .layer(middleware::from_fn(auth::guard_requests))
        .layer(middleware::map_response(page_policy))
        .with_state(state)
}

/// What a browser may do with the dashboard's pages: run and style only its own files (no
/// inline script, so an injected one would not run), talk only to this API, never be framed
/// (no clickjacking of Force logout), never send its address on as a referrer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn page_policy(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Refuses anything but a loopback address: the API can restart the server and log
/// everyone out.
pub fn check_listen(addr: &SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "refusing to listen on {addr}: the control API is for this computer only; use 127.0.0.1 or ::1"
        ))
    }
}
