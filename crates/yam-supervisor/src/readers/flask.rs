//! Flask-Session files written by cachelib's FileSystemCache: a 4-byte little-endian expiry
//! (Unix seconds, 0 = never), then a pickle of the session dict.

use serde_pickle::{DeOptions, HashableValue, Value};
use yam_sessions::Timestamp;

use super::FileInfo;

/// cachelib's bookkeeping file `__wz_cache_count`, by hash method (sha256 since 0.10, md5 before).
pub const BOOKKEEPING_SHA256: &str =
    "79bc207ee04a581ab2348ca1f3494e64cd0ec36128735b8c6bc85ddd8fe1938c";
pub const BOOKKEEPING_MD5: &str = "2029240f6d1128be89ddc32729463129";

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bytes(b) => String::from_utf8(b.clone()).ok(),
        Value::I64(n) => Some(n.to_string()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

fn get<'a>(
    dict: &'a std::collections::BTreeMap<HashableValue, Value>,
    key: &str,
) -> Option<&'a Value> {
    dict.get(&HashableValue::String(key.to_owned()))
}

/// `None` for files that are not sessions (a pickled counter, like the bookkeeping file).
pub fn parse(bytes: &[u8]) -> Option<FileInfo> {
    let Some((header, pickle)) = bytes.split_first_chunk::<4>() else {
        return Some(FileInfo::damaged());
    };
    let expiry = u32::from_le_bytes(*header);
    let options = DeOptions::new().replace_unresolved_globals();
    let value = match serde_pickle::value_from_slice(pickle, options) {
        Ok(v) => v,
        Err(_) => return Some(FileInfo::damaged()),
    };
    let Value::Dict(dict) = value else {
        return None;
    };
    let user_id = get(&dict, "_user_id")
        .and_then(text)
        .or_else(|| get(&dict, "user_id").and_then(text));
    Some(FileInfo {
        user_id,
        username: get(&dict, "username").and_then(text),
        expires: (expiry != 0).then(|| Timestamp::from_secs(i64::from(expiry))),
        damaged: false,
    })
}
