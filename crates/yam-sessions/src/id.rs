//! Session ids (the secret in the cookie) and session keys (what names the file on disk).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Bytes of CSPRNG output in a session id (256 bits).
pub const ID_BYTES: usize = 32;
/// Length of a session id in its base64url (unpadded) form.
pub const ID_LEN: usize = 43;
/// Length of a session key in lowercase hex.
pub const KEY_LEN: usize = 64;

/// The secret session id carried in the `yam_session` cookie. Never logged, never on disk.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh id from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; ID_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts only the exact shape we issue: 43 base64url characters that decode to 32 bytes.
    /// Anything else (`../`, NUL, 10 KB blobs) is rejected before it reaches a store.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() != ID_LEN || !value.bytes().all(is_base64url) {
            return None;
        }
        let decoded = URL_SAFE_NO_PAD.decode(value).ok()?;
        (decoded.len() == ID_BYTES).then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The non-secret key derived from this id.
    pub fn key(&self) -> SessionKey {
        let digest = Sha256::digest(self.0.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&digest);
        SessionKey(bytes)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// SHA-256 of a session id: names the session file and identifies a session to admins,
/// without being usable as a cookie.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// Parses exactly 64 lowercase hex characters; anything else is refused before a path is built.
    pub fn parse_hex(value: &str) -> Option<Self> {
        if !Self::is_hex(value) {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(value, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// Whether `value` is a key's hex form (64 lowercase hex characters), without decoding it:
    /// folder scans check 100,000 names.
    pub fn is_hex(value: &str) -> bool {
        value.len() == KEY_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short prefix for logs: enough to correlate, useless to an attacker.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }

    /// First byte, used to pick a lock stripe.
    pub(crate) fn stripe(&self, stripes: usize) -> usize {
        usize::from(self.0[0]) % stripes
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({})", self.short())
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let a = SessionId::generate().expect("rng");
        let b = SessionId::generate().expect("rng");
        assert_eq!(a.as_str().len(), ID_LEN);
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn hostile_cookie_values_are_refused() {
        let long = "A".repeat(10_000);
        for bad in [
            "",
            "../../etc/passwd",
            "abc\0def",
            long.as_str(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", // padding is not ours
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/", // '/' is not base64url
            "ÄAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(SessionId::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn keys_are_strict_lowercase_hex() {
        let key = SessionId::generate().expect("rng").key();
        let hex = key.to_hex();
        assert_eq!(SessionKey::parse_hex(&hex), Some(key));
        assert!(SessionKey::parse_hex(&hex.to_uppercase()).is_none());
        assert!(SessionKey::parse_hex(&hex[..63]).is_none());
        assert!(SessionKey::parse_hex("../../../../etc/passwd").is_none());
        assert!(!format!("{key:?}").contains(&hex));
    }
}
