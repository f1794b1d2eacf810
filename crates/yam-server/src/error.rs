//! Handler errors. Details are logged; clients get a plain sentence and never internals.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What a client hears when the sessions folder refuses writes (the folder is in the log).
pub const UNWRITABLE: &str = "Sessions cannot be saved right now: the server's sessions folder \
    refuses writes (read-only, no permission or disk full). Signed-in sessions keep working; \
    an administrator will find the folder named in the server's log.";

/// What a client hears when the shared session store (Redis) is not answering.
pub const STORE_UNAVAILABLE: &str = "Sessions cannot be checked right now: the session store \
    (Redis) is not answering. Nothing is lost; please try again in a few seconds.";

/// What a client hears when the shared users database (PostgreSQL) is not answering.
pub const USERS_UNAVAILABLE: &str = "Sign-in is not possible right now: the users database \
    is not answering. Please try again in a few seconds.";

/// The JSON every refusal and failure is answered with: `{"success": false, "message"}`.
pub fn failure(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "success": false, "message": message })),
    )
        .into_response()
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("session storage failed: {0}")]
    Store(#[from] yam_sessions::StoreError),
    #[error("user database failed: {0}")]
    Users(#[from] crate::users::UserError),
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            AppError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m.clone()),
            AppError::Store(e) if e.is_unwritable() => {
                tracing::error!(error = %self, "the sessions folder refuses writes");
                (StatusCode::SERVICE_UNAVAILABLE, UNWRITABLE.to_owned())
            }
            AppError::Store(e) if e.is_unavailable() => {
                tracing::warn!(error = %self, "the session store is not answering");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    STORE_UNAVAILABLE.to_owned(),
                )
            }
            AppError::Store(e) if e.is_users_unavailable() => {
                tracing::warn!(error = %self, "the users database is not answering");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    USERS_UNAVAILABLE.to_owned(),
                )
            }
            AppError::Users(e) if e.is_unavailable() => {
                tracing::warn!(error = %self, "the users database is not answering");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    USERS_UNAVAILABLE.to_owned(),
                )
            }
            AppError::Store(_) | AppError::Users(_) | AppError::Task(_) => {
                tracing::error!(error = %self, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The server could not complete the request; the error is in its log."
                        .to_owned(),
                )
            }
        };
        let retry_after = match &self {
            // Redis restarting or failing over is back within seconds.
            AppError::Store(e) if e.is_unavailable() => Some("5"),
            AppError::Users(e) if e.is_unavailable() => Some("5"),
            AppError::Store(e) if e.is_users_unavailable() => Some("5"),
            // The folder is usually fixed by a person; clients should not hammer meanwhile.
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some("30"),
            _ => None,
        };
        let mut response = failure(status, &message);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }
}
