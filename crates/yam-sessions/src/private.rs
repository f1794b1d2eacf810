//! Files only their owner may read (tokens, passwords, the users database): created private
//! from the first byte, and narrowed when an existing one is wider.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Unix permission bits; on Windows the per-user profile folders are already private.
pub fn restrict_to_owner(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Creates `path` empty and private (0600) if it does not exist; narrows it to 0600 if it
/// does. For files another library then opens (SQLite gives its `-wal` and `-shm` files the
/// database file's mode).
pub fn ensure_private_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    drop(options.open(path)?);
    restrict_to_owner(path, 0o600)
}

/// Writes a small secret file: a private temp file (0600 from its creation, never through a
/// link) renamed over `path`, so an existing wider file or a planted link is replaced, not
/// written through.
pub fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other(format!("{} has no file name", path.display())))?;
    let mut salt = [0u8; 6];
    getrandom::fill(&mut salt).map_err(io::Error::other)?;
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", hex::encode(salt)));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn secrets_are_private_and_links_are_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("tmp");
        let token = dir.path().join("control-token");
        fs::write(&token, "old").expect("w");
        fs::set_permissions(&token, fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&token, "new").expect("write");
        assert_eq!(
            (fs::read_to_string(&token).expect("r"), mode(&token)),
            ("new".into(), 0o600)
        );

        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").expect("w");
        let link = dir.path().join("linked-token");
        std::os::unix::fs::symlink(&victim, &link).expect("link");
        write_private(&link, "secret").expect("write");
        assert_eq!(fs::read_to_string(&victim).expect("r"), "precious");
        assert_eq!(mode(&link), 0o600, "the link itself was replaced");

        let db = dir.path().join("users.db");
        ensure_private_file(&db).expect("create");
        assert_eq!(mode(&db), 0o600);
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).expect("chmod");
        ensure_private_file(&db).expect("narrow");
        assert_eq!(mode(&db), 0o600);
        assert_eq!(
            fs::read_dir(dir.path()).expect("ls").count(),
            4,
            "no temp files left"
        );
    }
}
