//! The router: routes, limits and headers. `main` only binds and serves it.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::csrf;
use crate::error::failure;
use crate::html;
use crate::routes::{admin, debug, force_logout, home, info, login, session_api, users};
use crate::state::SharedState;

/// Larger bodies are refused with 413 before a handler sees them.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Names the server that answered, when several share one deployment (`--instance`).
pub const INSTANCE_HEADER: &str = "x-yam-instance";

pub fn app(state: SharedState) -> Router {
    // Endpoints that change state and take JSON (or no body) only.
    let json_actions = Router::new()
        .route("/api/session/activity", post(session_api::activity))
        .route("/api/session/extend", post(session_api::extend))
        .route("/api/session/logout", post(session_api::logout))
        .route("/admin/clear-sessions", post(admin::clear_sessions))
        .route("/api/admin/sessions/{key}", delete(admin::revoke_session))
        .route("/api/admin/sessions", delete(admin::end_user_sessions))
        .route("/api/admin/users", post(users::add))
        .route(
            "/api/admin/users/{name}",
            patch(users::update).delete(users::remove),
        )
        .route("/api/admin/shutdown", post(admin::shutdown))
        .route_layer(middleware::from_fn(csrf::require_json_body));
    // Everything that reads a body or changes state: cross-site checks and a time limit.
    // The read-only probes skip both, which keeps the hottest path short.
    let guarded = Router::new()
        .route("/login", get(login::login_page).post(login::login_submit))
        .route(
            "/logout",
            get(login::logout_page).post(login::logout_submit),
        )
        .route(
            "/force-logout",
            get(force_logout::confirm_page).post(force_logout::submit),
        )
        .merge(json_actions)
        .route_layer(middleware::from_fn(csrf::reject_cross_site))
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));

    let mut router = Router::new()
        .route("/", get(home::home))
        .route("/session-status", get(session_api::session_status))
        .route("/api/health", get(info::health))
        .route("/favicon.ico", get(info::favicon))
        .route("/api/server-info", get(info::server_info))
        .route(
            "/api/session/time-remaining",
            get(session_api::time_remaining),
        )
        .route("/api/admin/sessions", get(admin::list_sessions))
        .route("/api/admin/stats", get(admin::stats))
        .route("/api/admin/users", get(users::list))
        .merge(guarded);
    if state.facts.debug {
        router = router.route("/debug/session", get(debug::session));
    }
    if let Some(name) = state
        .facts
        .instance
        .as_deref()
        .and_then(|n| HeaderValue::from_str(n).ok())
    {
        router = router.layer(middleware::map_response(move |mut r: Response| {
            let name = name.clone();
            async move {
                r.headers_mut().insert(INSTANCE_HEADER, name);
                r
            }
        }));
    }
    let proxies = state.facts.trusted_proxies.clone();
    if !proxies.is_empty() {
        router = router.layer(middleware::from_fn_with_state(
            proxies,
            crate::forwarded::resolve_client,
        ));
    }
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// Every answer is per-user and dynamic: never cached, never sniffed; pages also never
/// framed and locked down by a CSP (JSON answers skip the page-only headers: fewer bytes on
/// the hottest path).
async fn security_headers(mut response: Response) -> Response {
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_page {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    response
}

async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        failure(StatusCode::NOT_FOUND, "No such API endpoint.")
    } else {
        (
            StatusCode::NOT_FOUND,
            Html(html::message_page(
                "Not found",
                "There is no page at this address.",
                ("/", "YAM"),
            )),
        )
            .into_response()
    }
}
