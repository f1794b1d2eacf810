//! Readers for session files in a watched folder: our JSON sessions and Flask-Session
//! (cachelib) files. An unreadable file is "damaged", never an error that stops counting.

mod flask;
mod yam;

use std::path::Path;

use yam_sessions::Timestamp;

pub use flask::{BOOKKEEPING_MD5, BOOKKEEPING_SHA256};

/// What one session file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// The user's id as text (`_user_id` for Flask-Login), `None` for anonymous sessions.
    pub user_id: Option<String>,
    pub username: Option<String>,
    /// `None`: never expires.
    pub expires: Option<Timestamp>,
    pub damaged: bool,
}

impl FileInfo {
    pub fn damaged() -> Self {
        Self {
            user_id: None,
            username: None,
            expires: None,
            damaged: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `<64 hex>.json`, written by yam-server.
    Yam,
    /// 32 or 64 hex characters without extension: cachelib's FileSystemCache.
    Flask,
    /// Anything else: temp files, bookkeeping, `.gitkeep`, folders.
    Ignore,
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn classify(name: &str) -> FileKind {
    if name.starts_with('.') || name.ends_with(".__wz_cache") {
        return FileKind::Ignore;
    }
    if yam_sessions::store::is_session_file_name(name) {
        return FileKind::Yam;
    }
    if (name.len() == 32 || name.len() == 64) && is_hex(name) {
        if name == BOOKKEEPING_MD5 || name == BOOKKEEPING_SHA256 {
            return FileKind::Ignore;
        }
        return FileKind::Flask;
    }
    FileKind::Ignore
}

/// Reads one file. `None`: not a session (ignored kind, bookkeeping, vanished meanwhile).
pub fn read(path: &Path) -> Option<FileInfo> {
    let kind = classify(path.file_name()?.to_str()?);
    if kind == FileKind::Ignore {
        return None;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(_) if path.is_dir() => return None,
        Err(_) => return Some(FileInfo::damaged()),
    };
    match kind {
        FileKind::Yam => Some(yam::parse(&bytes)),
        FileKind::Flask => flask::parse(&bytes),
        FileKind::Ignore => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names() {
        assert_eq!(classify(&format!("{}.json", "a".repeat(64))), FileKind::Yam);
        assert_eq!(
            classify("f8419c48eccd6bd56a4396b0aa45b42d"),
            FileKind::Flask
        );
        assert_eq!(classify(BOOKKEEPING_MD5), FileKind::Ignore);
        assert_eq!(classify(BOOKKEEPING_SHA256), FileKind::Ignore);
        assert_eq!(
            classify("f8419c48eccd6bd56a4396b0aa45b42d.__wz_cache"),
            FileKind::Ignore
        );
        assert_eq!(classify(".gitkeep"), FileKind::Ignore);
        assert_eq!(
            classify(&format!(".{}.json.tmp1", "a".repeat(64))),
            FileKind::Ignore
        );
        assert_eq!(
            classify("F8419C48ECCD6BD56A4396B0AA45B42D"),
            FileKind::Ignore
        );
    }
}
