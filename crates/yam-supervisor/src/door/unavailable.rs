//! The door's own answers when no server can answer: a short page for browsers, JSON for
//! API clients (as YAM's `/api/*` answers), always with `Retry-After` and `Connection: close`
//! (so the client's next try goes to a server, not back here).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the door answered itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// No server came within the hold time (a restart or a crash recovery took too long).
    NotInTime,
    /// No server is coming: stopped by the admin, or stopped retrying after crashes.
    Stopped,
    /// The server died while answering this very request.
    Lost,
}

impl Unavailable {
    fn status(self) -> StatusCode {
        match self {
            Unavailable::NotInTime | Unavailable::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            Unavailable::Lost => StatusCode::BAD_GATEWAY,
        }
    }

    fn retry_after(self) -> &'static str {
        match self {
            Unavailable::NotInTime | Unavailable::Lost => "5",
            Unavailable::Stopped => "30",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Unavailable::NotInTime => {
                "YAM is restarting and did not answer in time. Try again in a few seconds."
            }
            Unavailable::Stopped => {
                "YAM is stopped. An administrator can start it again from YAM Tray."
            }
            Unavailable::Lost => {
                "YAM stopped while answering this request; it is being restarted. Try again in a few seconds."
            }
        }
    }

    /// The answer: JSON for API clients, a page for browsers.
    pub fn respond(self, json: bool) -> Response {
        let mut response = if json {
            axum::Json(serde_json::json!({
                "success": false,
                "error": "unavailable",
                "message": self.message(),
            }))
            .into_response()
        } else {
            let page = PAGE.replace("{message}", self.message());
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
        };
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(self.retry_after()),
        );
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// No user input reaches this page: `{message}` is one of the fixed sentences above.
const PAGE: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">
<title>YAM is unavailable</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>YAM is unavailable</h1><p>{message}</p>
<p><a href=\"\">Try again</a></p></body></html>
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_clients_get_json_and_browsers_a_page_both_with_retry_after() {
        let api = Unavailable::NotInTime.respond(true);
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.headers()[header::RETRY_AFTER], "5");
        assert!(
            api.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or_default()
                .contains("json")
        );
        let page = Unavailable::Stopped.respond(false);
        assert_eq!(page.headers()[header::RETRY_AFTER], "30");
        assert_eq!(page.headers()[header::CONNECTION], "close");
        assert!(
            page.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or_default()
                .contains("html")
        );
        assert_eq!(
            Unavailable::Lost.respond(false).status(),
            StatusCode::BAD_GATEWAY
        );
    }
}
