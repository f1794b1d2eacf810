//! Sealing session records in Redis: each record carries an HMAC-SHA256 over its session key
//! and its JSON, under a key every server of the deployment derives from the same secret.
//! Key prefixes are not a security boundary — anyone who can write to the Redis can write
//! under any prefix — so a record without a valid seal is refused (a planted or altered
//! record never becomes a session). Pure.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The seal format's name, first in every seal.
const VERSION: &str = "v1";

/// How this store treats seals.
#[derive(Clone)]
pub enum RecordSeal {
    /// Writes seals and accepts only records sealed with this key.
    Keyed { key: [u8; 32], id: String },
    /// Reads without checking (the supervisor's counting and listing, which never
    /// authenticate anyone), writes no seal.
    Unchecked,
}

impl std::fmt::Debug for RecordSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordSeal::Keyed { id, .. } => write!(f, "RecordSeal::Keyed({id})"),
            RecordSeal::Unchecked => f.write_str("RecordSeal::Unchecked"),
        }
    }
}

/// What a record's seal says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Sound,
    /// Sealed with our key but not matching, or not sealed at all: planted or altered.
    Broken,
    /// Sealed by a server with another key (a misconfigured deployment, or a planted seal):
    /// refused, but left where it is (it may be another server's good session).
    Foreign(String),
}

impl RecordSeal {
    /// The key every server derives from the shared `secret`.
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut derive = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("any key length");
        derive.update(b"yam redis session record seal v1");
        let key: [u8; 32] = derive.finalize().into_bytes().into();
        // Names the key in log lines without revealing it.
        let id = hex::encode(&Sha256::digest(key)[..4]);
        RecordSeal::Keyed { key, id }
    }

    pub fn key_id(&self) -> Option<&str> {
        match self {
            RecordSeal::Keyed { id, .. } => Some(id),
            RecordSeal::Unchecked => None,
        }
    }

    fn mac(key: &[u8; 32], hex: &str, record: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("any key length");
        mac.update(hex.as_bytes());
        mac.update(b"\0");
        mac.update(record);
        mac
    }

    /// The seal to store next to `record` under the session `hex` (empty when unchecked).
    pub fn seal(&self, hex: &str, record: &[u8]) -> String {
        match self {
            RecordSeal::Keyed { key, id } => {
                let tag = Self::mac(key, hex, record).finalize().into_bytes();
                format!("{VERSION}:{id}:{}", hex::encode(tag))
            }
            RecordSeal::Unchecked => String::new(),
        }
    }

    /// Whether `seal` is this deployment's seal of `record` under `hex`.
    pub fn check(&self, hex: &str, record: &[u8], seal: Option<&[u8]>) -> Verdict {
        let RecordSeal::Keyed { key, id } = self else {
            return Verdict::Sound;
        };
        let Some(seal) = seal.and_then(|s| std::str::from_utf8(s).ok()) else {
            return Verdict::Broken;
        };
        let mut parts = seal.splitn(3, ':');
        let (Some(VERSION), Some(their_id), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            return Verdict::Broken;
        };
        if their_id != id {
            return Verdict::Foreign(their_id.chars().take(16).collect());
        }
        let Ok(tag) = hex::decode(tag) else {
            return Verdict::Broken;
        };
        // Constant time.
        match Self::mac(key, hex, record).verify_slice(&tag) {
            Ok(()) => Verdict::Sound,
            Err(_) => Verdict::Broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_seal_of_this_record_under_this_key_is_sound() {
        let ours = RecordSeal::from_secret(b"the deployment's shared secret, 32+ chars");
        let theirs = RecordSeal::from_secret(b"another deployment's secret, 32+ characters");
        let hex = "ab".repeat(32);
        let record = br#"{"user_id":1,"username":"admin"}"#;
        let seal = ours.seal(&hex, record);
        assert_eq!(
            ours.check(&hex, record, Some(seal.as_bytes())),
            Verdict::Sound
        );
        // Another record, another session key, no seal, a forged one.
        let altered = br#"{"user_id":2,"username":"admin"}"#;
        assert_eq!(
            ours.check(&hex, altered, Some(seal.as_bytes())),
            Verdict::Broken
        );
        let other_hex = "cd".repeat(32);
        assert_eq!(
            ours.check(&other_hex, record, Some(seal.as_bytes())),
            Verdict::Broken
        );
        assert_eq!(ours.check(&hex, record, None), Verdict::Broken);
        let forged = format!("v1:{}:{}", ours.key_id().expect("id"), "00".repeat(32));
        assert_eq!(
            ours.check(&hex, record, Some(forged.as_bytes())),
            Verdict::Broken
        );
        assert_eq!(ours.check(&hex, record, Some(b"garbage")), Verdict::Broken);
        // Another key: foreign, not broken (never quarantined by us).
        let foreign = theirs.seal(&hex, record);
        assert!(matches!(
            ours.check(&hex, record, Some(foreign.as_bytes())),
            Verdict::Foreign(_)
        ));
        assert_eq!(
            RecordSeal::Unchecked.check(&hex, record, None),
            Verdict::Sound
        );
        assert_eq!(RecordSeal::Unchecked.seal(&hex, record), "");
    }
}
