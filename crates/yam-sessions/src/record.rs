//! The session record and its on-disk JSON form, including how a damaged file is classified.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Timestamp;

/// Version of the JSON file format written by this crate.
pub const FORMAT_VERSION: u32 = 1;
/// A file larger than this is not one of ours (records are a few hundred bytes).
pub const MAX_RECORD_BYTES: u64 = 64 * 1024;
/// Longest user agent kept in a record.
pub const MAX_USER_AGENT: usize = 512;

pub type UserId = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// Any number of sessions per user, 4 h sliding lifetime.
    Multiple,
    /// One session per user, 2 h lifetime; a new login displaces the others.
    Single,
}

impl SessionMode {
    pub fn describe(self) -> &'static str {
        match self {
            SessionMode::Multiple => "multiple sessions mode",
            SessionMode::Single => "single session mode",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent.map(|ua| {
            let mut end = ua.len().min(MAX_USER_AGENT);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        Self { ip, user_agent }
    }
}

/// One session as stored: who, when, under which mode and server start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub version: u32,
    pub user_id: UserId,
    pub username: String,
    pub created: Timestamp,
    pub last_seen: Timestamp,
    pub expires_at: Timestamp,
    pub mode: SessionMode,
    /// Id of the server start that created the session.
    pub epoch: String,
    #[serde(default)]
    pub client: ClientInfo,
    #[serde(default)]
    pub data: BTreeMap<String, Value>,
}

impl SessionRecord {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }

    /// Compact JSON: smaller files read and parsed faster by scans of 100,000 sessions.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and a Value map cannot fail to serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a session file. Every way a file can be wrong is a [`Damage`], never a panic.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Damage> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Damage::new(DamageKind::Empty, None));
        }
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(_) => return Err(Damage::new(DamageKind::InvalidJson, salvage_text(bytes))),
        };
        let Value::Object(map) = &value else {
            return Err(Damage::new(DamageKind::NotAnObject, None));
        };
        let salvage = salvage_object(map);
        match map.get("version").and_then(Value::as_u64) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            other => return Err(Damage::new(DamageKind::UnknownVersion(other), salvage)),
        }
        serde_json::from_value(value.clone())
            .map_err(|e| Damage::new(DamageKind::MissingFields(e.to_string()), salvage))
    }
}

/// Why a session file could not be used as a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DamageKind {
    Empty,
    InvalidJson,
    NotAnObject,
    UnknownVersion(Option<u64>),
    MissingFields(String),
    TooLarge(u64),
    Unreadable(String),
    /// A link, FIFO, device, socket or folder where a session file should be.
    NotRegularFile(&'static str),
    /// A Redis record whose seal does not match: written by someone without the servers' key.
    BadSeal,
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DamageKind::Empty => f.write_str("empty file"),
            DamageKind::InvalidJson => f.write_str("not valid JSON (truncated or garbage)"),
            DamageKind::NotAnObject => f.write_str("JSON is not an object"),
            DamageKind::UnknownVersion(Some(v)) => write!(f, "unknown format version {v}"),
            DamageKind::UnknownVersion(None) => f.write_str("no format version"),
            DamageKind::MissingFields(e) => write!(f, "missing or invalid fields: {e}"),
            DamageKind::TooLarge(n) => write!(f, "file too large ({n} bytes)"),
            DamageKind::Unreadable(e) => write!(f, "unreadable: {e}"),
            DamageKind::NotRegularFile(kind) => write!(f, "not a regular file (a {kind})"),
            DamageKind::BadSeal => f.write_str(
                "its seal does not match (planted or altered by someone without the servers' key)",
            ),
        }
    }
}

/// What could still be read from a damaged file: enough to re-initialise the session when
/// the user it names is still valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvage {
    pub user_id: UserId,
    pub username: Option<String>,
    pub created: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub kind: DamageKind,
    pub salvage: Option<Salvage>,
}

impl Damage {
    pub fn new(kind: DamageKind, salvage: Option<Salvage>) -> Self {
        Self { kind, salvage }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

fn salvage_object(map: &serde_json::Map<String, Value>) -> Option<Salvage> {
    let user_id = map.get("user_id").and_then(Value::as_i64)?;
    Some(Salvage {
        user_id,
        username: map
            .get("username")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created: map.get("created").and_then(Value::as_i64).map(Timestamp),
    })
}

/// Reads `"user_id": <digits>` out of a truncated file.
fn salvage_text(bytes: &[u8]) -> Option<Salvage> {
    let text = String::from_utf8_lossy(bytes);
    let user_id = number_after(&text, "\"user_id\"")?;
    Some(Salvage {
        user_id,
        username: string_after(&text, "\"username\""),
        created: number_after(&text, "\"created\"").map(Timestamp),
    })
}

fn value_start<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    let rest = &text[text.find(field)? + field.len()..];
    Some(rest.trim_start().strip_prefix(':')?.trim_start())
}

fn number_after(text: &str, field: &str) -> Option<i64> {
    let rest = value_start(text, field)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(rest.len());
    // A number cut off by truncation has no terminator; do not trust it.
    if end == rest.len() {
        return None;
    }
    rest[..end].parse().ok()
}

fn string_after(text: &str, field: &str) -> Option<String> {
    let rest = value_start(text, field)?.strip_prefix('"')?;
    let end = rest.find('"')?;
    let s = &rest[..end];
    (!s.contains('\\')).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SessionRecord {
        SessionRecord {
            version: FORMAT_VERSION,
            user_id: 7,
            username: "alice".into(),
            created: Timestamp(1_000),
            last_seen: Timestamp(2_000),
            expires_at: Timestamp(3_000),
            mode: SessionMode::Multiple,
            epoch: "e1".into(),
            client: ClientInfo::new(Some("127.0.0.1".into()), Some("curl/8")),
            data: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trips() {
        let r = sample();
        assert_eq!(SessionRecord::from_json(&r.to_json()), Ok(r));
    }

    #[test]
    fn classifies_damage_and_salvages_the_user() {
        let json = sample().to_json();
        let truncated = &json[..json.len() / 2];
        let d = SessionRecord::from_json(truncated).expect_err("truncated");
        assert_eq!(d.kind, DamageKind::InvalidJson);
        assert_eq!(d.salvage.map(|s| s.user_id), Some(7));

        assert_eq!(
            SessionRecord::from_json(b"").expect_err("e").kind,
            DamageKind::Empty
        );
        assert_eq!(
            SessionRecord::from_json(b" \n").expect_err("e").kind,
            DamageKind::Empty
        );
        let garbage = SessionRecord::from_json(&[0xff, 0x00, 0x13, 0x37]).expect_err("g");
        assert_eq!(garbage, Damage::new(DamageKind::InvalidJson, None));
        assert_eq!(
            SessionRecord::from_json(b"[1]").expect_err("a").kind,
            DamageKind::NotAnObject
        );

        let mut v: Value = serde_json::from_slice(&json).expect("json");
        v["version"] = Value::from(99);
        let d = SessionRecord::from_json(&serde_json::to_vec(&v).expect("v")).expect_err("v");
        assert_eq!(d.kind, DamageKind::UnknownVersion(Some(99)));
        assert_eq!(d.salvage.and_then(|s| s.username), Some("alice".into()));

        let d = SessionRecord::from_json(br#"{"version":1,"user_id":3}"#).expect_err("m");
        assert!(matches!(d.kind, DamageKind::MissingFields(_)), "{d:?}");
        assert_eq!(d.salvage.map(|s| s.user_id), Some(3));
    }

    #[test]
    fn a_number_cut_by_truncation_is_not_trusted() {
        let d = SessionRecord::from_json(br#"{"version":1,"user_id":12"#).expect_err("t");
        assert_eq!(d.salvage, None);
    }

    #[test]
    fn long_user_agents_are_cut_on_a_char_boundary() {
        let ua = "ü".repeat(400);
        let c = ClientInfo::new(None, Some(&ua));
        let kept = c.user_agent.expect("ua");
        assert!(kept.len() <= MAX_USER_AGENT);
        assert!(kept.chars().all(|ch| ch == 'ü'));
    }
}
