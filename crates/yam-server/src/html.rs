//! The server's few HTML pages, written with `maud`: every dynamic value is escaped unless a
//! template says otherwise (none does).

use maud::{DOCTYPE, Markup, html};
use yam_sessions::EndReason;
use yam_sessions::words::count;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1d2430}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;padding:.55rem 1.2rem}.msg{padding:.6rem;border-radius:4px;background:#fdecea;color:#8a1c12}
.note{padding:.6rem;border-radius:4px;background:#eef4fb}.muted{color:#5b6472;font-size:.9rem}
form.inline{display:inline}form.inline button{margin-top:0}
@media (prefers-color-scheme:dark){body{background:#14181f;color:#e3e7ee}.note{background:#1f2a38}.msg{background:#3b1f1f;color:#f3b7b0}}";

pub fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                link rel="icon" href="/favicon.ico";
                title { (title) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// A page with a heading, one sentence and a link onwards.
pub fn message_page(title: &str, text: &str, link: (&str, &str)) -> String {
    page(
        &format!("YAM — {title}"),
        html! {
            h1 { (title) }
            p { (text) }
            p { a href=(link.0) { (link.1) } }
        },
    )
}

pub fn reason_from_query(value: Option<&str>) -> Option<EndReason> {
    value.and_then(EndReason::from_name)
}

pub fn login_page(
    error: Option<&str>,
    notice: Option<EndReason>,
    next: &str,
    login_id: &str,
) -> String {
    page(
        "YAM — Log in",
        html! {
            h1 { "YAM — Log in" }
            @if let Some(reason) = notice { p.note { (reason.message()) } }
            @if let Some(error) = error { p.msg role="alert" { (error) } }
            form method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label for="login_id" { "Username or email" }
                input id="login_id" name="login_id" autocomplete="username" required autofocus value=(login_id);
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Log in" }
            }
        },
    )
}

/// Logging out is a POST (a link from another site cannot log anyone out).
fn logout_form() -> Markup {
    html! {
        form.inline method="post" action="/logout" {
            button type="submit" { "Log out" }
        }
    }
}

/// `GET /logout` that did not come from YAM's own pages: ask instead of acting.
pub fn logout_confirm_page() -> String {
    page(
        "YAM — Log out?",
        html! {
            h1 { "Log out?" }
            p { "You followed a link to log out. Nothing has happened yet." }
            (logout_form())
            " "
            a href="/" { "Stay logged in" }
        },
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
        html! {
            h1 { "YAM" }
            p { "Signed in as " strong { (v.username) } @if v.is_admin { " (admin)" } "." }
            p.note {
                "Your session has " (v.minutes_left) " minutes left (until " (v.expires_at)
                "); any activity renews it. This server runs in " (v.mode_words) " ("
                (v.lifetime_hours) " h sessions)."
            }
            p { (logout_form()) }
            p.muted {
                "Status: " a href="/api/session/time-remaining" { "time remaining" }
                " · " a href="/api/server-info" { "server info" }
            }
        },
    )
}

/// The force-logout confirmation, carrying the form's CSRF token.
pub fn force_logout_confirm_page(sessions: usize, users: usize, csrf_token: &str) -> String {
    page(
        "YAM — Force logout",
        html! {
            h1 { "Log everyone out?" }
            p.note {
                "This ends " strong { "all " (count(sessions, "session")) } " of "
                (count(users, "user")) ", yours included. Everyone has to log in again."
            }
            form method="post" action="/force-logout" {
                input type="hidden" name="csrf_token" value=(csrf_token);
                button type="submit" { "Log everyone out" }
                " "
                a href="/" { "Cancel" }
            }
        },
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
        assert!(html.contains("/&quot;&gt;&lt;script&gt;"));
        let home = home_page(&HomeView {
            username: "<img src=x>",
            is_admin: false,
            minutes_left: 1,
            expires_at: "\"",
            mode_words: "m",
            lifetime_hours: 4,
        });
        assert!(!home.contains("<img"), "{home}");
        assert!(home.contains("method=\"post\" action=\"/logout\""));
        assert_eq!(
            reason_from_query(Some("displaced")),
            Some(EndReason::Displaced)
        );
        assert_eq!(reason_from_query(Some("<x>")), None);
    }
}
