//! Readers for session files in a watched folder: our JSON sessions and Flask-Session
//! (cachelib) files. An unreadable file is "damaged", never an error that stops counting.

mod flask;
pub mod flask_cookie;
pub mod flask_redis;
pub mod pickle;
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
        Self::damaged_until(None)
    }

    /// Damaged, but known to go away at `expires` (a Redis key's expiry).
    pub fn damaged_until(expires: Option<Timestamp>) -> Self {
        Self {
            user_id: None,
            username: None,
            expires,
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

/// Largest file read as a session; anything bigger is damaged.
const MAX_BYTES: u64 = 256 * 1024;

/// Why a file named like a session could not be read.
enum Unread {
    /// Gone meanwhile, or a folder: not a session.
    NotASession,
    /// A link, FIFO, device, socket, a file too large or unreadable: counted as damaged.
    Damaged,
}

/// Reads an opened file, refusing anything but a regular file of at most `MAX_BYTES` (the
/// check is on the handle; the open itself neither followed a link nor blocked on a FIFO).
fn read_open(file: std::io::Result<std::fs::File>, buf: &mut Vec<u8>) -> Result<(), Unread> {
    use yam_sessions::store::{ReadRefused, check_regular, is_link_refusal, read_bounded};
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unread::NotASession),
        Err(e) if is_link_refusal(&e) => return Err(Unread::Damaged),
        Err(_) => return Err(Unread::Damaged),
    };
    match check_regular(&file) {
        Ok(_) => {}
        Err(ReadRefused::NotRegular("folder")) => return Err(Unread::NotASession),
        Err(_) => return Err(Unread::Damaged),
    }
    read_bounded(&file, MAX_BYTES, buf).map_err(|_| Unread::Damaged)
}

fn parse(kind: FileKind, read: Result<(), Unread>, buf: &[u8]) -> Option<FileInfo> {
    match read {
        // The readers are bounded and never recurse; should one still panic on some input,
        // that file is damaged and the counting thread goes on.
        Ok(()) => std::panic::catch_unwind(|| match kind {
            FileKind::Yam => Some(yam::parse(buf)),
            FileKind::Flask => flask::parse(buf),
            FileKind::Ignore => None,
        })
        .unwrap_or_else(|_| Some(FileInfo::damaged())),
        Err(Unread::NotASession) => None,
        Err(Unread::Damaged) => Some(FileInfo::damaged()),
    }
}

/// Reads the files of one folder relative to an open handle of it: each open resolves one
/// name instead of the whole path (scans open 100,000 files).
pub struct DirReader {
    dir: std::path::PathBuf,
    #[cfg(unix)]
    handle: Option<std::fs::File>,
    buf: Vec<u8>,
}

impl DirReader {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            #[cfg(unix)]
            handle: std::fs::File::open(dir).ok(),
            buf: Vec::with_capacity(8192),
        }
    }

    #[cfg(unix)]
    fn open(&self, name: &std::ffi::OsStr) -> std::io::Result<std::fs::File> {
        use std::os::fd::{AsRawFd, FromRawFd};
        use std::os::unix::ffi::OsStrExt;
        let Some(handle) = &self.handle else {
            return yam_sessions::store::open_without_following(&self.dir.join(name));
        };
        let cname = std::ffi::CString::new(name.as_bytes()).map_err(std::io::Error::other)?;
        #[allow(unsafe_code)]
        // SAFETY: `handle` is an open directory for the duration of the call, `cname` is a
        // NUL-terminated name, and a non-negative result is a new descriptor we own.
        unsafe {
            let fd = libc::openat(
                handle.as_raw_fd(),
                cname.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC | yam_sessions::store::SAFE_OPEN_FLAGS,
            );
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(std::fs::File::from_raw_fd(fd))
        }
    }

    #[cfg(not(unix))]
    fn open(&self, name: &std::ffi::OsStr) -> std::io::Result<std::fs::File> {
        yam_sessions::store::open_without_following(&self.dir.join(name))
    }

    /// Reads the entry `name` of this folder, of the kind [`classify`] gave for its name.
    /// `None`: not a session.
    pub fn read(&mut self, name: &std::ffi::OsStr, kind: FileKind) -> Option<FileInfo> {
        if kind == FileKind::Ignore {
            return None;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let read = read_open(
            yam_sessions::store::retry_while_shared(|| self.open(name)),
            &mut buf,
        );
        let info = parse(kind, read, &buf);
        self.buf = buf;
        info
    }
}

/// Reads one file. `None`: not a session (ignored kind, bookkeeping, vanished meanwhile).
pub fn read(path: &Path) -> Option<FileInfo> {
    read_with(path, &mut Vec::new())
}

/// As [`read`], reusing `buf` (scans read thousands of files).
pub fn read_with(path: &Path, buf: &mut Vec<u8>) -> Option<FileInfo> {
    let kind = classify(path.file_name()?.to_str()?);
    if kind == FileKind::Ignore {
        return None;
    }
    let read = read_open(
        yam_sessions::store::retry_while_shared(|| {
            yam_sessions::store::open_without_following(path)
        }),
        buf,
    );
    parse(kind, read, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn special_files_named_like_sessions_are_damaged_and_never_block() {
        let dir = tempfile::tempdir().expect("tmp");
        let name = |c: &str| dir.path().join(format!("{}.json", c.repeat(64)));
        let fifo = name("a");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo")
                .success()
        );
        std::os::unix::fs::symlink("/dev/zero", name("b")).expect("link");
        std::fs::create_dir(name("c")).expect("mkdir");
        assert_eq!(read(&fifo), Some(FileInfo::damaged()));
        assert_eq!(read(&name("b")), Some(FileInfo::damaged()));
        assert_eq!(read(&name("c")), None, "a folder is not a session");
        let mut reader = DirReader::new(dir.path());
        let fifo_name = fifo.file_name().expect("name").to_owned();
        assert_eq!(
            reader.read(&fifo_name, FileKind::Yam),
            Some(FileInfo::damaged())
        );
    }

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
