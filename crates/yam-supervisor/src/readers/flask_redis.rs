//! Flask-Session's Redis backend: `session:<sid>` keys (the prefix is SESSION_KEY_PREFIX) whose
//! value is the session dict, with a Redis expiry. Flask-Session 0.6 and later write msgpack
//! (or JSON with SESSION_SERIALIZATION_FORMAT = "json"); older versions wrote a pickle. All
//! three are read, as Flask-Session itself reads them.

use yam_sessions::Timestamp;

use super::FileInfo;

/// The session fields that say who is signed in.
struct Who {
    user_id: Option<String>,
    username: Option<String>,
}

fn from_msgpack(bytes: &[u8]) -> Option<Who> {
    let mut rest = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut rest, 16).ok()?;
    // A pickle starts 0x80, an empty msgpack map: the whole value must be one msgpack item.
    if !rest.is_empty() {
        return None;
    }
    let rmpv::Value::Map(entries) = value else {
        return None;
    };
    let text = |v: &rmpv::Value| match v {
        rmpv::Value::String(s) => s.as_str().map(str::to_owned),
        rmpv::Value::Binary(b) => String::from_utf8(b.clone()).ok(),
        rmpv::Value::Integer(n) => Some(n.to_string()),
        _ => None,
    };
    let get = |name: &str| {
        entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .and_then(|(_, v)| text(v))
    };
    Some(Who {
        user_id: get("_user_id").or_else(|| get("user_id")),
        username: get("username"),
    })
}

fn from_json(bytes: &[u8]) -> Option<Who> {
    let serde_json::Value::Object(map) = serde_json::from_slice(bytes).ok()? else {
        return None;
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let get = |name: &str| map.get(name).and_then(text);
    Some(Who {
        user_id: get("_user_id").or_else(|| get("user_id")),
        username: get("username"),
    })
}

fn from_pickle(bytes: &[u8]) -> Option<Who> {
    let entries = super::pickle::read_dict(bytes, super::pickle::MAX_NAME).ok()??;
    let (user_id, username) = super::pickle::who(&entries)?;
    Some(Who { user_id, username })
}

/// One `session:<sid>` value; `expires` from its Redis expiry (`None`: none set). A value no
/// reader understands is damaged.
pub fn parse(bytes: &[u8], expires: Option<Timestamp>) -> FileInfo {
    // JSON first: a JSON object's first byte ('{') is also a valid msgpack fixmap header.
    let who = if bytes.first() == Some(&b'{') {
        from_json(bytes).or_else(|| from_msgpack(bytes))
    } else {
        from_msgpack(bytes).or_else(|| from_pickle(bytes))
    };
    match who {
        Some(who) => FileInfo {
            user_id: who.user_id,
            username: who.username,
            expires,
            damaged: false,
        },
        None => FileInfo {
            expires,
            ..FileInfo::damaged()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Option<Timestamp> = Some(Timestamp(1_800_000_000_000));

    #[test]
    fn msgpack_json_and_pickle_values_are_read() {
        // {"_permanent": true, "_user_id": "7", "username": "alice"} as Flask-Session 0.8
        // writes it (msgspec msgpack).
        let mut msgpack = Vec::new();
        let map = rmpv::Value::Map(vec![
            ("_permanent".into(), true.into()),
            ("_user_id".into(), "7".into()),
            ("username".into(), "alice".into()),
        ]);
        rmpv::encode::write_value(&mut msgpack, &map).expect("encode");
        let info = parse(&msgpack, AT);
        assert_eq!(
            (info.user_id.as_deref(), info.username.as_deref()),
            (Some("7"), Some("alice"))
        );
        assert!(!info.damaged);

        let json = br#"{"_permanent": true, "user_id": 8}"#;
        assert_eq!(parse(json, AT).user_id.as_deref(), Some("8"));

        // Python: pickle.dumps({"_user_id": "9", "username": "bob"}, protocol=4)
        let pickle = b"\x80\x04\x95%\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x08_user_id\x94\x8c\x019\x94\x8c\x08username\x94\x8c\x03bob\x94u.";
        let info = parse(pickle, AT);
        assert_eq!(
            (info.user_id.as_deref(), info.username.as_deref()),
            (Some("9"), Some("bob"))
        );

        // An anonymous session: read, not damaged, no user.
        let mut anonymous = Vec::new();
        rmpv::encode::write_value(
            &mut anonymous,
            &rmpv::Value::Map(vec![("_permanent".into(), true.into())]),
        )
        .expect("encode");
        let info = parse(&anonymous, AT);
        assert!(!info.damaged && info.user_id.is_none());

        assert!(parse(b"\xc1 not a session", AT).damaged);
        assert_eq!(parse(b"", None).expires, None);
    }
}
