//! What names a user: a username, and an optional email that also logs in. The rules that
//! keep every login unambiguous: an email is an address (no escape codes, no free text, at
//! most 254 bytes), and no user's username is another user's email (or the other way round),
//! so "bob" always means one account. Pure.

use yam_sessions::UserId;

use super::UserRow;

/// The longest address mail systems accept (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// `Ok` for a plain address such as `alice@example.org`; otherwise the sentence to show.
pub fn check_email(email: &str) -> Result<(), String> {
    if email.len() > MAX_EMAIL_BYTES {
        return Err(format!(
            "an email address has at most {MAX_EMAIL_BYTES} characters (this one has {})",
            email.len()
        ));
    }
    if email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("an email address has no spaces, line breaks or control characters".into());
    }
    let options = email_address::Options {
        minimum_sub_domains: 1,
        allow_domain_literal: false,
        allow_display_text: false,
        allow_long_local_parts: false,
    };
    email_address::EmailAddress::parse_with_options(email, options)
        .map(drop)
        .map_err(|e| format!("'{email}' is not an email address ({e})"))
}

/// Whether `username` (and `email`, if any) for the user `except` (a change) or a new user
/// (`None`) would make a login ambiguous with another user; the sentence when it would.
pub fn collision(
    users: &[UserRow],
    username: &str,
    email: Option<&str>,
    except: Option<UserId>,
) -> Option<String> {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase();
    for other in users.iter().filter(|u| Some(u.info.id) != except) {
        let theirs = other.info.username.as_str();
        if let Some(their_email) = other.email.as_deref()
            && same(their_email, username)
        {
            return Some(format!(
                "'{username}' is the email address of user '{theirs}': a username may not be \
                 another user's email"
            ));
        }
        if let Some(email) = email
            && same(theirs, email)
        {
            return Some(format!(
                "'{email}' is the username of another user: an email may not be another \
                 user's username"
            ));
        }
    }
    None
}

/// Text from the database shown on a terminal: control characters (escape codes written by
/// an older version) as visible escapes, never executed.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use yam_sessions::UserInfo;

    use super::*;

    fn user(id: UserId, name: &str, email: Option<&str>) -> UserRow {
        UserRow {
            info: UserInfo {
                id,
                username: name.into(),
                is_admin: false,
                is_active: true,
            },
            email: email.map(str::to_owned),
            password_hash: String::new(),
            created_at: 0,
            last_login_at: None,
        }
    }

    #[test]
    fn emails_are_plain_addresses() {
        assert!(check_email("alice@example.org").is_ok());
        assert!(check_email("a.b+tag@sub.example.co.uk").is_ok());
        for bad in [
            "bob",
            "\u{1b}[31mred@example.org",
            "alice@example.org\nX-Injected: 1",
            "free text <alice@example.org>",
            "\"a b\"@example.org",
            "alice@",
            "@example.org",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.org", "a".repeat(60 * 1024));
        assert!(
            check_email(&long)
                .expect_err("long")
                .contains("at most 254")
        );
    }

    #[test]
    fn no_username_is_another_users_email() {
        let users = [
            user(1, "alice", Some("Bob@Example.org")),
            user(2, "carol", Some("carol@example.org")),
        ];
        assert!(collision(&users, "bob@example.org", None, None).is_some());
        assert!(
            collision(&users, "dave", Some("CAROL"), None).is_some(),
            "carol is a username"
        );
        // A taken email is the database's to refuse (`Exists`), as a taken username is.
        assert!(collision(&users, "dave", Some("carol@example.org"), None).is_none());
        let carol_as_email = [user(1, "carol@example.org", None)];
        assert!(collision(&carol_as_email, "dave", Some("carol@example.org"), None).is_some());
        // A user's own name and email never collide with themselves.
        assert!(collision(&users, "alice", Some("bob@example.org"), Some(1)).is_none());
        assert!(collision(&users, "dave", Some("dave@example.org"), None).is_none());
    }

    #[test]
    fn escape_codes_are_shown_not_run() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("plain é"), "plain é");
    }
}
