//! File-system primitives for the file store: names, stamps, crash-safe writes, a replace
//! that never brings a deleted file back, and reads that refuse anything but a regular file.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::index::FileStamp;
use crate::id::SessionKey;

/// Folder (inside the sessions folder) that receives damaged session files.
pub const QUARANTINE_DIR: &str = ".quarantine";
const SUFFIX: &str = ".json";
const TEMP_MARK: &str = ".tmp";
/// Hex digits of the random part of a temp file's name.
const SALT_HEX: usize = 12;

/// True for `<64 lowercase hex>.json`, the only files this store owns.
pub fn is_session_file_name(name: &str) -> bool {
    name.strip_suffix(SUFFIX).is_some_and(SessionKey::is_hex)
}

pub(crate) fn key_of_file_name(name: &str) -> Option<SessionKey> {
    SessionKey::parse_hex(name.strip_suffix(SUFFIX)?)
}

pub(crate) fn session_path(dir: &Path, key: &SessionKey) -> PathBuf {
    dir.join(format!("{}{SUFFIX}", key.to_hex()))
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `.<64 hex>.tmp<12 hex>`: exactly the temp names this store makes (writes and the write
/// probe), so start-up cleanup never touches anyone else's `.env.tmpl` or `.bashrc.tmp`.
pub(crate) fn is_temp_file_name(name: &str) -> bool {
    let Some((key, salt)) = name
        .strip_prefix('.')
        .and_then(|rest| rest.split_once(TEMP_MARK))
    else {
        return false;
    };
    SessionKey::is_hex(key) && salt.len() == SALT_HEX && is_lower_hex(salt)
}

/// A fresh temp name for `key_hex` in `dir`, with a random part nobody can plant ahead.
fn temp_path(dir: &Path, key_hex: &str) -> io::Result<PathBuf> {
    let mut salt = [0u8; SALT_HEX / 2];
    getrandom::fill(&mut salt).map_err(io::Error::other)?;
    Ok(dir.join(format!(".{key_hex}{TEMP_MARK}{}", hex::encode(salt))))
}

pub(crate) fn stamp_of(meta: &Metadata) -> FileStamp {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
    FileStamp {
        len: meta.len(),
        mtime_ns,
        ino: inode(meta),
    }
}

#[cfg(unix)]
fn inode(meta: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(not(unix))]
fn inode(_meta: &Metadata) -> u64 {
    0
}

/// Windows refuses to replace, delete or open a file while another program holds it in a
/// conflicting way (Python's `open()` shares no delete: the PermissionError Flask-Session
/// users met; a replace holds the file alone for a moment). Such holds are brief: retry for
/// about a second. Elsewhere `op` runs once.
pub fn retry_while_shared<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    #[cfg(windows)]
    {
        const ATTEMPTS: u32 = 40;
        for attempt in 1.. {
            match op() {
                Err(e) if attempt < ATTEMPTS && is_sharing_violation(&e) => {
                    std::thread::sleep(std::time::Duration::from_millis(u64::from(
                        attempt.min(10) * 5,
                    )));
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }
    #[cfg(not(windows))]
    {
        op()
    }
}

/// Sharing and lock violations, and the replace failures they cause.
#[cfg(windows)]
fn is_sharing_violation(e: &io::Error) -> bool {
    // ERROR_ACCESS_DENIED (a file pending deletion), ERROR_SHARING_VIOLATION,
    // ERROR_LOCK_VIOLATION, ERROR_UNABLE_TO_REMOVE_REPLACED, ERROR_UNABLE_TO_MOVE_REPLACEMENT.
    matches!(e.raw_os_error(), Some(5 | 32 | 33 | 1175 | 1176))
}

/// Why a file named like a session was not read as one.
#[derive(Debug)]
pub enum ReadRefused {
    /// A link, FIFO, device, socket or folder: never opened for reading.
    NotRegular(&'static str),
    TooLarge(u64),
    Io(io::Error),
}

/// Open flags that make opening a name safe whatever it is: a link is not followed, a FIFO
/// or device does not block the open, and no terminal becomes ours.
#[cfg(unix)]
pub const SAFE_OPEN_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
/// `FILE_FLAG_OPEN_REPARSE_POINT`: open a link (reparse point) itself, never its target.
#[cfg(windows)]
const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
#[cfg(windows)]
const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x0400;

/// Opens `path` for reading without following a link and without blocking on a FIFO or
/// device (check the handle with [`check_regular`] before reading).
pub fn open_without_following(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(SAFE_OPEN_FLAGS);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    options.open(path)
}

/// `None` for a regular file; otherwise what the entry is.
pub fn not_regular(meta: &Metadata) -> Option<&'static str> {
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Some("link (reparse point)");
        }
    }
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("folder");
    }
    if kind.is_symlink() {
        return Some("link");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("FIFO");
        }
        if kind.is_char_device() || kind.is_block_device() {
            return Some("device");
        }
        if kind.is_socket() {
            return Some("socket");
        }
    }
    Some("special file")
}

/// Checks an open handle: a regular file, or what it is instead.
pub fn check_regular(file: &File) -> Result<Metadata, ReadRefused> {
    let meta = file.metadata().map_err(ReadRefused::Io)?;
    match not_regular(&meta) {
        None => Ok(meta),
        Some(kind) => Err(ReadRefused::NotRegular(kind)),
    }
}

/// Reads `file` (already checked to be regular) into `buf`, at most `max` bytes.
pub fn read_bounded(file: &File, max: u64, buf: &mut Vec<u8>) -> Result<(), ReadRefused> {
    buf.clear();
    let read = file
        .take(max + 1)
        .read_to_end(buf)
        .map_err(ReadRefused::Io)?;
    let read = u64::try_from(read).unwrap_or(u64::MAX);
    if read > max {
        return Err(ReadRefused::TooLarge(read));
    }
    Ok(())
}

/// Reads a regular file of at most `max` bytes without following a link and without
/// blocking on a FIFO or device (the check is on the open handle, so nothing can be swapped
/// in between). `Ok(None)`: the file is gone.
pub fn read_regular(path: &Path, max: u64) -> Result<Option<(Vec<u8>, Metadata)>, ReadRefused> {
    let file = match retry_while_shared(|| open_without_following(path)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if is_link_refusal(&e) => return Err(ReadRefused::NotRegular("link")),
        Err(e) => return Err(ReadRefused::Io(e)),
    };
    let meta = check_regular(&file)?;
    if meta.len() > max {
        return Err(ReadRefused::TooLarge(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    read_bounded(&file, max, &mut bytes)?;
    Ok(Some((bytes, meta)))
}

/// The error an `O_NOFOLLOW` open gives for a link.
pub fn is_link_refusal(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Writes `bytes` into a new private temp file next to the target and syncs it.
fn write_temp(dir: &Path, key: &SessionKey, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = temp_path(dir, &key.to_hex())?;
    let result = private_create_new(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Creates `dir/<key>.json` via a synced temp file renamed into place (and the folder synced,
/// so the new name survives a crash).
pub(crate) fn create_atomically(
    dir: &Path,
    key: &SessionKey,
    bytes: &[u8],
) -> io::Result<FileStamp> {
    let tmp = write_temp(dir, key, bytes)?;
    let target = session_path(dir, key);
    let result = fs::rename(&tmp, &target)
        .and_then(|()| sync_directory(dir))
        .and_then(|()| fs::metadata(&target));
    match result {
        Ok(meta) => Ok(stamp_of(&meta)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The result of replacing a session file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replaced {
    Written(FileStamp),
    /// The file was deleted (by us or by another process): nothing was written.
    Gone,
}

/// Replaces `dir/<key>.json` only if it still exists, atomically: a deletion by another
/// process at any moment wins (the session is never re-created). Readers and a crash see the
/// old or the new version, never a mix.
pub(crate) fn replace_atomically(
    dir: &Path,
    key: &SessionKey,
    bytes: &[u8],
) -> io::Result<Replaced> {
    let target = session_path(dir, key);
    if !target.exists() {
        return Ok(Replaced::Gone);
    }
    let tmp = write_temp(dir, key, bytes)?;
    let swapped = retry_while_shared(|| replace_if_present(&tmp, &target));
    let _ = fs::remove_file(&tmp);
    if !swapped? {
        return Ok(Replaced::Gone);
    }
    match fs::metadata(&target) {
        Ok(meta) => Ok(Replaced::Written(stamp_of(&meta))),
        // Deleted right after the swap: the deletion wins.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Replaced::Gone),
        Err(e) => Err(e),
    }
}

/// Linux: `renameat2(RENAME_EXCHANGE)` swaps the two names in one step and fails when the
/// target is gone; afterwards `tmp` holds the old contents. False: the target was gone.
#[cfg(target_os = "linux")]
fn replace_if_present(tmp: &Path, target: &Path) -> io::Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, tmp, CWD, target, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::NOENT) => Ok(false),
        // File systems without the exchange (some network shares): the best that remains.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            warn_no_atomic_replace(target);
            replace_if_present_racy(tmp, target)
        }
        Err(e) => Err(e.into()),
    }
}

/// Windows: `ReplaceFileW` replaces an existing file and fails when it is gone.
#[cfg(windows)]
fn replace_if_present(tmp: &Path, target: &Path) -> io::Result<bool> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND};
    use windows_sys::Win32::Storage::FileSystem::{REPLACEFILE_IGNORE_MERGE_ERRORS, ReplaceFileW};
    let wide = |p: &Path| -> Vec<u16> { p.as_os_str().encode_wide().chain([0]).collect() };
    let (replaced, replacement) = (wide(target), wide(tmp));
    #[allow(unsafe_code)]
    // SAFETY: both names are NUL-terminated UTF-16 buffers that outlive the call; the
    // optional backup, exclude and reserved arguments are null as the API allows.
    let ok = unsafe {
        ReplaceFileW(
            replaced.as_ptr(),
            replacement.as_ptr(),
            std::ptr::null(),
            REPLACEFILE_IGNORE_MERGE_ERRORS,
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if ok != 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error().and_then(|c| u32::try_from(c).ok()) {
        Some(ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND) => Ok(false),
        _ => Err(e),
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
fn replace_if_present(tmp: &Path, target: &Path) -> io::Result<bool> {
    warn_no_atomic_replace(target);
    replace_if_present_racy(tmp, target)
}

/// Check, then rename: a deletion between the two is undone. Only where nothing better exists.
#[cfg(not(windows))]
fn replace_if_present_racy(tmp: &Path, target: &Path) -> io::Result<bool> {
    if !target.exists() {
        return Ok(false);
    }
    fs::rename(tmp, target)?;
    Ok(true)
}

#[cfg(not(windows))]
fn warn_no_atomic_replace(target: &Path) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            folder = %target.parent().unwrap_or(Path::new("")).display(),
            "This file system cannot replace a file atomically only if it exists: a session \
             deleted by another program at the moment it is renewed may come back"
        );
    });
}

fn private_create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Makes a rename durable. Windows has no directory handles for this; NTFS journals renames.
pub(crate) fn sync_directory(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates the folder (and parents) if missing; a folder we create is private to the owner.
/// An existing folder keeps its permissions: the admin chose them.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Removes a file (a link itself, never its target); a file already gone is not an error.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<bool> {
    match retry_while_shared(|| fs::remove_file(path)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Proves the folder accepts writes, so a read-only folder is a clear error at start. The
/// probe has a random name (nothing can be planted ahead of it) and is created exclusively,
/// never through a link.
pub(crate) fn probe_writable(dir: &Path) -> io::Result<()> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(io::Error::other)?;
    let probe = temp_path(dir, &hex::encode(random))?;
    drop(private_create_new(&probe)?);
    fs::remove_file(&probe)
}

/// The quarantine folder, created if missing; `Err` names why it cannot be used (a link or
/// a file in its place would move damaged sessions out of the sessions folder).
pub(crate) fn quarantine_dir(dir: &Path) -> Result<PathBuf, String> {
    let qdir = dir.join(QUARANTINE_DIR);
    match fs::symlink_metadata(&qdir) {
        Ok(meta) if meta.is_dir() && not_regular_dir_link(&meta).is_none() => Ok(qdir),
        Ok(meta) => Err(format!(
            "{} is a {}, not a folder",
            qdir.display(),
            not_regular_dir_link(&meta)
                .or_else(|| not_regular(&meta))
                .unwrap_or("file")
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_private_dir(&qdir)
            .map(|()| qdir.clone())
            .map_err(|e| format!("cannot create {}: {e}", qdir.display())),
        Err(e) => Err(format!("cannot inspect {}: {e}", qdir.display())),
    }
}

/// A folder that is really a link (Windows junctions report as folders with a reparse point).
fn not_regular_dir_link(meta: &Metadata) -> Option<&'static str> {
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Some("link (reparse point)");
        }
    }
    let _ = meta;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let hex = "ab".repeat(32);
        assert!(is_session_file_name(&format!("{hex}.json")));
        assert!(!is_session_file_name(&hex));
        assert!(!is_session_file_name(".gitkeep"));
        assert!(!is_session_file_name(&format!("{}.json", "AB".repeat(32))));
        assert!(is_temp_file_name(&format!(".{hex}.tmp0011aabbccdd")));
        for foreign in [
            ".gitkeep",
            ".env.tmpl",
            ".bashrc.tmp",
            ".notes.tmp.txt",
            ".tmp",
            &format!(".{hex}.tmp0011"),
            &format!(".{hex}.tmp0011aabbccdd.txt"),
            &format!("{hex}.tmp0011aabbccdd"),
        ] {
            assert!(!is_temp_file_name(foreign), "{foreign}");
        }
    }

    #[test]
    fn replace_never_recreates_a_deleted_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = crate::SessionId::generate().expect("id").key();
        assert_eq!(
            replace_atomically(dir.path(), &key, b"x").expect("replace"),
            Replaced::Gone
        );
        create_atomically(dir.path(), &key, b"one").expect("create");
        assert!(matches!(
            replace_atomically(dir.path(), &key, b"two").expect("replace"),
            Replaced::Written(_)
        ));
        assert_eq!(
            fs::read(session_path(dir.path(), &key)).expect("read"),
            b"two"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp files left: {names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn reads_refuse_links_fifos_devices_and_large_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = |n: &str| dir.path().join(n);
        fs::write(p("ok"), b"{}").expect("w");
        assert_eq!(
            read_regular(&p("ok"), 10).expect("read").map(|(b, _)| b),
            Some(b"{}".to_vec())
        );
        assert!(read_regular(&p("missing"), 10).expect("gone").is_none());
        std::os::unix::fs::symlink(p("ok"), p("link")).expect("link");
        std::os::unix::fs::symlink("/dev/zero", p("zero")).expect("link");
        let status = std::process::Command::new("mkfifo")
            .arg(p("fifo"))
            .status()
            .expect("mkfifo");
        assert!(status.success());
        fs::create_dir(p("folder")).expect("mkdir");
        for (name, kind) in [
            ("link", "link"),
            ("zero", "link"),
            ("fifo", "FIFO"),
            ("folder", "folder"),
        ] {
            match read_regular(&p(name), 10) {
                Err(ReadRefused::NotRegular(k)) => assert_eq!(k, kind, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 10),
            Err(ReadRefused::NotRegular("device"))
        ));
        fs::write(p("big"), vec![b'x'; 11]).expect("w");
        assert!(matches!(
            read_regular(&p("big"), 10),
            Err(ReadRefused::TooLarge(11))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_probe_never_follows_a_link_and_a_linked_quarantine_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        probe_writable(dir.path()).expect("probe");
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 0);
        let elsewhere = tempfile::tempdir().expect("tmp");
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(QUARANTINE_DIR))
            .expect("link");
        let refused = quarantine_dir(dir.path()).expect_err("a link");
        assert!(refused.contains("is a link"), "{refused}");
    }
}
