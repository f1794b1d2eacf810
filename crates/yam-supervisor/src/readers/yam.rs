//! yam-server's JSON session files: only the fields counting needs are parsed.

use serde::Deserialize;
use yam_sessions::Timestamp;

use super::FileInfo;

#[derive(Deserialize)]
struct Header<'a> {
    version: u32,
    user_id: i64,
    #[serde(borrow)]
    username: std::borrow::Cow<'a, str>,
    expires_at: i64,
}

pub fn parse(bytes: &[u8]) -> FileInfo {
    match serde_json::from_slice::<Header<'_>>(bytes) {
        Ok(h) if h.version == yam_sessions::record::FORMAT_VERSION => FileInfo {
            user_id: Some(h.user_id.to_string()),
            username: Some(h.username.into_owned()),
            expires: Some(Timestamp(h.expires_at)),
            damaged: false,
        },
        _ => FileInfo::damaged(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yam_sessions::{ClientInfo, SessionMode, SessionPolicy};

    #[test]
    fn reads_what_the_server_writes() {
        let r = SessionPolicy::new(SessionMode::Multiple).new_record(
            7,
            "alice",
            ClientInfo::default(),
            Timestamp(1000),
            "e",
        );
        let info = parse(&r.to_json());
        assert_eq!(info.user_id.as_deref(), Some("7"));
        assert_eq!(info.username.as_deref(), Some("alice"));
        assert_eq!(info.expires, Some(r.expires_at));
        assert!(!info.damaged);
        assert!(parse(b"{\"version\":1").damaged);
        assert!(
            parse(b"{\"version\":9,\"user_id\":1,\"username\":\"a\",\"expires_at\":1}").damaged
        );
    }
}
