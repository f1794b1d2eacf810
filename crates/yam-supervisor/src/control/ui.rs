//! The dashboard's files (`ui/`), embedded in the binary at build time so a copied `yamctl`
//! or `yam-tray` serves them from anywhere; `--ui DIR` serves a folder instead (development).

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../ui/"]
struct Assets;

/// Serves the embedded file at the request's path (`/` is `index.html`).
pub async fn embedded(uri: Uri) -> Response {
    let path = match uri.path().trim_start_matches('/') {
        "" => "index.html",
        p => p,
    };
    match Assets::get(path) {
        Some(file) => {
            let mime = HeaderValue::from_str(file.metadata.mimetype())
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    (
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    ),
                ],
                file.data.into_owned(),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "Not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_dashboard_is_inside_the_binary() {
        let index = embedded(Uri::from_static("/")).await;
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(index.headers()[header::CONTENT_TYPE], "text/html");
        let js = embedded(Uri::from_static("/js/transport.js")).await;
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript");
        let missing = embedded(Uri::from_static("/../Cargo.toml")).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
