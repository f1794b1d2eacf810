//! `/api/users`: the embedded server's users through the supervisor. Anyone with the
//! dashboard may read the list; adding, changing and removing users need the control token
//! (an admin account made with a leaked cookie would open YAM itself).

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::SharedControl;
use super::auth::{Caller, owner_only};
use super::routes::failed;
use crate::users::{NewUser, UserChanged, UserPatch};

fn changed(
    result: Result<UserChanged, crate::supervisor::ActionError>,
    status: StatusCode,
) -> Response {
    match result {
        Ok(c) => (status, Json(json!({ "ok": true, "result": c }))).into_response(),
        Err(e) => failed(&e),
    }
}

pub async fn list(State(s): State<SharedControl>) -> Response {
    match s.supervisor.users().await {
        Ok(users) => Json(json!({ "ok": true, "users": users })).into_response(),
        Err(e) => failed(&e),
    }
}

pub async fn add(
    State(s): State<SharedControl>,
    Extension(caller): Extension<Caller>,
    Json(user): Json<NewUser>,
) -> Response {
    if caller == Caller::Dashboard {
        return owner_only("Adding a user");
    }
    changed(s.supervisor.add_user(&user).await, StatusCode::CREATED)
}

pub async fn update(
    State(s): State<SharedControl>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(patch): Json<UserPatch>,
) -> Response {
    if caller == Caller::Dashboard {
        return owner_only("Changing a user");
    }
    changed(
        s.supervisor.update_user(&name, &patch).await,
        StatusCode::OK,
    )
}

pub async fn remove(
    State(s): State<SharedControl>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    if caller == Caller::Dashboard {
        return owner_only("Removing a user");
    }
    changed(s.supervisor.remove_user(&name).await, StatusCode::OK)
}
