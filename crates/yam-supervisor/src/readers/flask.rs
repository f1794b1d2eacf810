//! Flask-Session files written by cachelib's FileSystemCache: a 4-byte little-endian expiry
//! (Unix seconds, 0 = never), then a pickle of the session dict.

use yam_sessions::Timestamp;

use super::FileInfo;
use super::pickle::{self, MAX_NAME};

/// cachelib's bookkeeping file `__wz_cache_count`, by hash method (sha256 since 0.10, md5 before).
pub const BOOKKEEPING_SHA256: &str =
    "79bc207ee04a581ab2348ca1f3494e64cd0ec36128735b8c6bc85ddd8fe1938c";
pub const BOOKKEEPING_MD5: &str = "2029240f6d1128be89ddc32729463129";

/// `None` for files that are not sessions (a pickled counter, like the bookkeeping file).
pub fn parse(bytes: &[u8]) -> Option<FileInfo> {
    let Some((header, body)) = bytes.split_first_chunk::<4>() else {
        return Some(FileInfo::damaged());
    };
    let expiry = u32::from_le_bytes(*header);
    let entries = match pickle::read_dict(body, MAX_NAME) {
        Ok(Some(entries)) => entries,
        Ok(None) => return None,
        Err(_) => return Some(FileInfo::damaged()),
    };
    let Some((user_id, username)) = pickle::who(&entries) else {
        return Some(FileInfo::damaged());
    };
    Some(FileInfo {
        user_id,
        username,
        expires: (expiry != 0).then(|| Timestamp::from_secs(i64::from(expiry))),
        damaged: false,
    })
}
