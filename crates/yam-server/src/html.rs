//! The server's few HTML pages. Every dynamic value goes through `escape`.

use yam_sessions::EndReason;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1d2430}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;padding:.55rem 1.2rem}.msg{padding:.6rem;border-radius:4px;background:#fdecea;color:#8a1c12}
.note{padding:.6rem;border-radius:4px;background:#eef4fb}.muted{color:#5b6472;font-size:.9rem}
@media (prefers-color-scheme:dark){body{background:#14181f;color:#e3e7ee}.note{background:#1f2a38}.msg{background:#3b1f1f;color:#f3b7b0}}";

pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

pub fn reason_from_query(value: Option<&str>) -> Option<EndReason> {
    let all = [
        EndReason::LoggedOut,
        EndReason::Displaced,
        EndReason::Revoked,
        EndReason::ForceLogout,
        EndReason::Expired,
        EndReason::Damaged,
        EndReason::UserInvalid,
        EndReason::Unknown,
    ];
    let value = value?;
    all.into_iter().find(|r| r.as_str() == value)
}

pub fn login_page(
    error: Option<&str>,
    notice: Option<EndReason>,
    next: &str,
    login_id: &str,
) -> String {
    let error = error
        .map(|e| format!("<p class=\"msg\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let notice = notice
        .map(|r| format!("<p class=\"note\">{}</p>", escape(r.message())))
        .unwrap_or_default();
    page(
        "YAM — Log in",
        &format!(
            "<h1>YAM — Log in</h1>{notice}{error}\
             <form method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\">\
             <label for=\"login_id\">Username or email</label>\
             <input id=\"login_id\" name=\"login_id\" autocomplete=\"username\" required autofocus value=\"{login}\">\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Log in</button></form>",
            next = escape(next),
            login = escape(login_id),
        ),
    )
}

pub struct HomeView<'a> {
    pub username: &'a str,
    pub is_admin: bool,
    pub minutes_left: u64,
    pub expires_at: &'a str,
    pub mode_words: &'a str,
    pub lifetime_hours: u64,
}

pub fn home_page(v: &HomeView<'_>) -> String {
    page(
        "YAM",
        &format!(
            "<h1>YAM</h1><p>Signed in as <strong>{user}</strong>{admin}.</p>\
             <p class=\"note\">Your session has {mins} minutes left (until {exp}); any activity \
             renews it. This server runs in {mode} ({hours} h sessions).</p>\
             <p><a href=\"/logout\">Log out</a></p>\
             <p class=\"muted\">Status: <a href=\"/api/session/time-remaining\">time remaining</a> · \
             <a href=\"/api/server-info\">server info</a></p>",
            user = escape(v.username),
            admin = if v.is_admin { " (admin)" } else { "" },
            mins = v.minutes_left,
            exp = escape(v.expires_at),
            mode = escape(v.mode_words),
            hours = v.lifetime_hours,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_dynamic() {
        let html = login_page(Some("<b>"), None, "/\"><script>", "a'b");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains("a&#39;b"));
        assert_eq!(
            reason_from_query(Some("displaced")),
            Some(EndReason::Displaced)
        );
        assert_eq!(reason_from_query(Some("<x>")), None);
    }
}
