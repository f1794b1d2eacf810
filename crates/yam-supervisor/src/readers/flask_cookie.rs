//! Flask's default sessions: a signed cookie (itsdangerous `URLSafeTimedSerializer` with the
//! salt `cookie-session`, HMAC-SHA1, key derived by HMAC): `payload.timestamp.signature`, the
//! payload base64url JSON, zlib-compressed when it starts with `.`. Read at the door to see who
//! a request belongs to. Pure, and bounded: a hostile cookie costs at most a fixed amount of
//! work and memory (a long cookie is refused before decoding, a zip bomb stops at the output
//! cap, deep JSON at serde's recursion limit).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Browsers keep cookies up to 4 KB; anything longer is not Flask's.
pub const MAX_COOKIE: usize = 8 * 1024;
/// A session's JSON, decompressed: far more than YAM's fields need.
pub const MAX_PAYLOAD: u64 = 64 * 1024;
const SALT: &[u8] = b"cookie-session";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error("longer than {MAX_COOKIE} bytes")]
    TooLong,
    #[error("not payload.timestamp.signature")]
    Shape,
    #[error("not base64")]
    Base64,
    #[error("the compressed payload does not inflate, or inflates past {MAX_PAYLOAD} bytes")]
    Inflate,
    #[error("the payload is not a JSON object")]
    Json,
    #[error("the signature does not match the secret")]
    BadSignature,
}

/// What a session cookie says.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionCookie {
    pub payload: serde_json::Map<String, serde_json::Value>,
    /// When Flask signed it (Unix seconds): Flask signs again at every answer that saves the
    /// session, so this is the last time the server touched it.
    pub signed_at: u64,
    /// The signature was checked against a known secret (otherwise the fields are a claim).
    pub verified: bool,
}

/// The keys derived from YAM's `SECRET_KEY` (and any fallbacks), ready to check signatures.
#[derive(Clone)]
pub struct Secrets(Vec<[u8; 20]>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} key(s), redacted)", self.0.len())
    }
}

type HmacSha1 = Hmac<Sha1>;

fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut mac =
        <HmacSha1 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl Secrets {
    /// From the secret keys as YAM's config has them (the current one first).
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            keys.into_iter()
                .map(|k| hmac_sha1(k.as_bytes(), SALT))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn verify(&self, signed: &[u8], signature: &[u8]) -> bool {
        self.0
            .iter()
            .any(|key| bool::from(hmac_sha1(key, signed).ct_eq(signature)))
    }
}

fn b64(text: &str) -> Result<Vec<u8>, CookieError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| CookieError::Base64)
}

thread_local! {
    /// One inflater per thread, reset for each cookie: a new one allocates and clears its
    /// ~40 KB window every time, which was most of a request's cost at the door.
    static INFLATER: std::cell::RefCell<flate2::Decompress> =
        std::cell::RefCell::new(flate2::Decompress::new(true));
}

/// Inflates a zlib stream, refusing one that grows past `MAX_PAYLOAD`.
fn inflate(compressed: &[u8]) -> Result<Vec<u8>, CookieError> {
    INFLATER.with(|cell| {
        let mut inflater = cell.borrow_mut();
        inflater.reset(true);
        let mut out: Vec<u8> = Vec::with_capacity(1024);
        loop {
            if out.len() == out.capacity() {
                if out.len() as u64 >= MAX_PAYLOAD {
                    return Err(CookieError::Inflate);
                }
                out.reserve(out.len().max(1024));
            }
            let before = (inflater.total_in(), inflater.total_out());
            let consumed = usize::try_from(before.0).unwrap_or(usize::MAX);
            let status = inflater
                .decompress_vec(
                    compressed.get(consumed..).unwrap_or_default(),
                    &mut out,
                    flate2::FlushDecompress::None,
                )
                .map_err(|_| CookieError::Inflate)?;
            if out.len() as u64 > MAX_PAYLOAD {
                return Err(CookieError::Inflate);
            }
            match status {
                flate2::Status::StreamEnd => return Ok(out),
                // No progress: the stream ends before its end.
                flate2::Status::Ok | flate2::Status::BufError
                    if (inflater.total_in(), inflater.total_out()) == before =>
                {
                    return Err(CookieError::Inflate);
                }
                flate2::Status::Ok | flate2::Status::BufError => {}
            }
        }
    })
}

/// Reads a session cookie's value. With `secrets`, a cookie whose signature matches none is
/// refused; without, the payload is read unverified.
pub fn read(value: &str, secrets: Option<&Secrets>) -> Result<SessionCookie, CookieError> {
    if value.len() > MAX_COOKIE {
        return Err(CookieError::TooLong);
    }
    let (signed, signature) = value.rsplit_once('.').ok_or(CookieError::Shape)?;
    let (payload, timestamp) = signed.rsplit_once('.').ok_or(CookieError::Shape)?;
    let verified = match secrets.filter(|s| !s.is_empty()) {
        Some(secrets) => {
            if !secrets.verify(signed.as_bytes(), &b64(signature)?) {
                return Err(CookieError::BadSignature);
            }
            true
        }
        None => false,
    };
    let stamp = b64(timestamp)?;
    if stamp.len() > 8 {
        return Err(CookieError::Shape);
    }
    let signed_at = stamp.iter().fold(0u64, |t, b| (t << 8) | u64::from(*b));
    let json = match payload.strip_prefix('.') {
        Some(compressed) => inflate(&b64(compressed)?)?,
        None => b64(payload)?,
    };
    match serde_json::from_slice(&json) {
        Ok(serde_json::Value::Object(payload)) => Ok(SessionCookie {
            payload,
            signed_at,
            verified,
        }),
        Ok(_) | Err(_) => Err(CookieError::Json),
    }
}

/// Who a session belongs to: the first of `id_fields` present (a string or a number), and the
/// name in `name_field`. `None` for a session nobody is signed in to.
pub fn who(
    cookie: &SessionCookie,
    id_fields: &[String],
    name_field: &str,
) -> Option<(String, Option<String>)> {
    let id = id_fields
        .iter()
        .find_map(|f| match cookie.payload.get(f)? {
            serde_json::Value::String(s) if !s.is_empty() && s.len() <= 128 => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })?;
    let name = cookie
        .payload
        .get(name_field)
        .and_then(serde_json::Value::as_str)
        .filter(|n| n.len() <= 256)
        .map(str::to_owned);
    Some((id, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "yam-cookie-stand-in-secret";
    /// Made by Flask 3.1 / itsdangerous 2.2 with that secret (see the test fixture's config).
    const PLAIN: &str = "eyJfdXNlcl9pZCI6IjcifQ.axXpbw.-uXSQMZ4kLs0YnDgYViYbCLOSH8";
    const COMPRESSED: &str = ".eJyrVoovLU4tis9MUbJSMlTSUYLzDCHsvMTcVKBUYkpuZp5SLQBtYw9T.axXpbA.OGALsiQ6zWAqAZ9PvpI6DhqFdCI";

    fn ids() -> Vec<String> {
        vec!["_user_id".into(), "user_id".into()]
    }

    #[test]
    fn flask_cookies_are_read_and_verified() {
        let secrets = Secrets::new([SECRET]);
        let c = read(PLAIN, Some(&secrets)).expect("plain");
        assert!(c.verified);
        assert_eq!(c.signed_at, 1_796_598_127);
        assert_eq!(who(&c, &ids(), "username"), Some(("7".into(), None)));
        let c = read(COMPRESSED, Some(&secrets)).expect("compressed");
        assert_eq!(c.signed_at, 1_796_598_124);
        assert_eq!(
            who(&c, &ids(), "username"),
            Some(("1".into(), Some("admin".into())))
        );
        // A fallback secret checks too; a wrong one refuses.
        assert!(read(PLAIN, Some(&Secrets::new(["old", SECRET]))).is_ok());
        assert_eq!(
            read(PLAIN, Some(&Secrets::new(["another secret"]))),
            Err(CookieError::BadSignature)
        );
        // Without a secret, the payload is read as a claim.
        assert!(!read(PLAIN, None).expect("unverified").verified);
    }

    #[test]
    fn a_forged_payload_never_verifies() {
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"_user_id":"1"}"#);
        let (_, rest) = PLAIN.split_once('.').expect("dot");
        let forged = format!("{forged_payload}.{rest}");
        assert_eq!(
            read(&forged, Some(&Secrets::new([SECRET]))),
            Err(CookieError::BadSignature)
        );
    }

    #[test]
    fn hostile_cookies_cost_bounded_work() {
        assert_eq!(
            read(&"a".repeat(MAX_COOKIE + 1), None),
            Err(CookieError::TooLong)
        );
        assert_eq!(read("no dots at all", None), Err(CookieError::Shape));
        assert_eq!(read("%%%.axXpbw.sig", None), Err(CookieError::Base64));
        // A zip bomb: 10 MB of spaces compress to ~10 KB; cap the input cookie size first,
        // then the inflated size.
        let mut bomb = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut bomb, &vec![b' '; 2_000_000]).expect("write");
        let bomb = bomb.finish().expect("finish");
        let cookie = format!(".{}.axXpbw.sig", URL_SAFE_NO_PAD.encode(&bomb));
        assert!(cookie.len() < MAX_COOKIE, "{} bytes", cookie.len());
        assert_eq!(read(&cookie, None), Err(CookieError::Inflate));
        // A compressed payload cut short.
        let (payload, rest) = COMPRESSED.split_at(30);
        let cut = format!("{payload}.{}", rest.split_once('.').map_or("", |(_, r)| r));
        assert!(read(&cut, None).is_err());
        // Deep JSON stops at serde's recursion limit.
        let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, deep.as_bytes()).expect("write");
        let cookie = format!(
            ".{}.axXpbw.sig",
            URL_SAFE_NO_PAD.encode(z.finish().expect("z"))
        );
        assert_eq!(read(&cookie, None), Err(CookieError::Json));
        // A non-object, and an absurd timestamp.
        let list = URL_SAFE_NO_PAD.encode(b"[1,2]");
        assert_eq!(
            read(&format!("{list}.axXpbw.s"), None),
            Err(CookieError::Json)
        );
        let long_stamp = URL_SAFE_NO_PAD.encode([1u8; 9]);
        assert_eq!(
            read(&format!("e30.{long_stamp}.s"), None),
            Err(CookieError::Shape)
        );
    }

    #[test]
    fn nobody_is_signed_in_without_an_id_field() {
        let empty = read("e30.axXpbw.x", None).expect("{}");
        assert_eq!(who(&empty, &ids(), "username"), None);
    }
}
