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

impl AppError {
    /// A shared store (Redis, PostgreSQL) that is not answering: what the client hears. It
    /// passes by itself, so clients are asked to come back soon.
    fn not_answering(&self) -> Option<&'static str> {
        match self {
            AppError::Store(e) if e.is_unavailable() => Some(STORE_UNAVAILABLE),
            AppError::Store(e) if e.is_users_unavailable() => Some(USERS_UNAVAILABLE),
            AppError::Users(e) if e.is_unavailable() => Some(USERS_UNAVAILABLE),
            _ => None,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message, retry_after) = match &self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone(), None),
            AppError::UnsupportedMediaType(m) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, m.clone(), None)
            }
            // The folder is usually fixed by a person; clients should not hammer meanwhile.
            AppError::Store(e) if e.is_unwritable() => {
                tracing::error!(error = %self, "the sessions folder refuses writes");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    UNWRITABLE.to_owned(),
                    Some("30"),
                )
            }
            // Redis or PostgreSQL restarting or failing over is back within seconds.
            _ if let Some(message) = self.not_answering() => {
                tracing::warn!(error = %self, "a shared store is not answering");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    message.to_owned(),
                    Some("5"),
                )
            }
            AppError::Store(_) | AppError::Users(_) | AppError::Task(_) => {
                tracing::error!(error = %self, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The server could not complete the request; the error is in its log."
                        .to_owned(),
                    None,
                )
            }
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
