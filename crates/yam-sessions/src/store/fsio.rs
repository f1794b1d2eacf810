//! File-system primitives for the file store: names, stamps, crash-safe writes.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::index::FileStamp;
use crate::id::SessionKey;

/// Folder (inside the sessions folder) that receives damaged session files.
pub const QUARANTINE_DIR: &str = ".quarantine";
const SUFFIX: &str = ".json";
const TEMP_MARK: &str = ".tmp";

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

/// Our own temp files start with a dot and carry the temp mark.
pub(crate) fn is_temp_file_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARK)
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

/// Writes `bytes` to `dir/<key>.json` via a temp file that is fsynced and renamed over the
/// target, so a reader or a crash sees the old or the new version, never a mix.
pub(crate) fn write_atomically(
    dir: &Path,
    key: &SessionKey,
    bytes: &[u8],
    sync_dir: bool,
) -> io::Result<FileStamp> {
    let mut salt = [0u8; 6];
    getrandom::fill(&mut salt).map_err(io::Error::other)?;
    let tmp = dir.join(format!(".{}{TEMP_MARK}{}", key.to_hex(), hex::encode(salt)));
    let target = session_path(dir, key);
    let result = (|| {
        let mut file = private_create_new(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)?;
        if sync_dir {
            sync_directory(dir)?;
        }
        Ok(stamp_of(&fs::metadata(&target)?))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn private_create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
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

/// Removes a file; a file that is already gone is not an error.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Proves the folder accepts writes, so a read-only folder is a clear error at start.
pub(crate) fn probe_writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".write-probe{TEMP_MARK}{}", std::process::id()));
    private_create_new(&probe).or_else(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            File::create(&probe)
        } else {
            Err(e)
        }
    })?;
    fs::remove_file(&probe)
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
        assert!(is_temp_file_name(&format!(".{hex}.tmp0011")));
        assert!(!is_temp_file_name(".gitkeep"));
    }
}
