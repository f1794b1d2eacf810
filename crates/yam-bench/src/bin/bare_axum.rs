//! The practical ceiling: a bare axum handler answering the same JSON shape as
//! `/api/session/time-remaining`, with no session lookup. Usage: yam-bench-axum PORT

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

async fn time_remaining() -> Json<Value> {
    Json(json!({
        "success": true, "session_healthy": true, "time_remaining_seconds": 14399,
        "time_remaining": 14399, "time_remaining_minutes": 239, "user_id": 1, "username": "admin",
        "last_activity": "2026-11-27T18:00:00.000Z", "expires_at": "2026-11-27T22:00:00.000Z",
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let app = Router::new()
        .route("/api/session/time-remaining", get(time_remaining))
        .route("/api/health", get(|| async { "ok" }));
    axum::serve(listener, app).await?;
    Ok(())
}
