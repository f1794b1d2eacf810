//! `GET /`: who you are, how long your session has, and a logout link.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use yam_sessions::Access;

use crate::auth::{self, Check};
use crate::error::AppError;
use crate::html::{self, HomeView};
use crate::state::SharedState;

pub async fn home(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let auth = match auth::check(&state, &headers, Access::Activity).await? {
        Check::Valid(a) => a,
        other => return Ok(auth::page_redirect(&other, "/")),
    };
    let policy = state.sessions.policy();
    let view = HomeView {
        username: &auth.user.username,
        is_admin: auth.user.is_admin,
        minutes_left: state.sessions.time_remaining(&auth.record).as_secs() / 60,
        expires_at: &auth.record.expires_at.to_local_words(),
        mode_words: policy.mode.describe(),
        lifetime_hours: policy.lifetime().as_secs() / 3600,
    };
    Ok(Html(html::home_page(&view)).into_response())
}
