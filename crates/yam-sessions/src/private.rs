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

/// Refuses a file or folder of another user (on Unix; Windows profile folders are per user).
fn owned_by_me(meta: &fs::Metadata, path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        #[allow(unsafe_code)]
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} belongs to another user", path.display()),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (meta, path);
    Ok(())
}

/// A folder this program keeps its own files in (data, settings, logs): created with missing
/// parents and owner-only (0700); an existing one must be a real folder — not a link, which a
/// folder someone else prepared could point at the caller's own files — of this user, and is
/// narrowed to 0700 (it holds sessions, tokens, passwords).
pub fn private_dir(path: &Path) -> io::Result<()> {
    let refused = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, why);
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = fs::read_link(path)
                .map(|t| format!(" (to {})", t.display()))
                .unwrap_or_default();
            return Err(refused(format!(
                "{} is a link{target}, not a folder: give the folder itself",
                path.display()
            )));
        }
        Ok(meta) if !meta.is_dir() => {
            return Err(refused(format!("{} is not a folder", path.display())));
        }
        Ok(meta) => owned_by_me(&meta, path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(path)?;
        }
        Err(e) => return Err(e),
    }
    restrict_to_owner(path, 0o700)
}

/// Reads a small file that this user's own program wrote, refusing anything else: a link
/// (never followed), a FIFO or device (never blocked on), a file of another user, one larger
/// than `max` bytes, and — `secret` — one that others may read or write. For what the command
/// line tools take from a data or settings folder they were pointed at (a token, the address
/// to send it to): a folder someone else prepared must not make them send our token away.
pub fn read_owned(path: &Path, max: u64, secret: bool) -> io::Result<String> {
    use crate::store::{ReadRefused, check_regular, open_without_following, read_bounded};
    let refused = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, why);
    let file = open_without_following(path).map_err(|e| {
        if crate::store::is_link_refusal(&e) {
            refused(format!("{} is a link, not a file", path.display()))
        } else {
            e
        }
    })?;
    let meta = check_regular(&file).map_err(|e| match e {
        ReadRefused::Io(e) => e,
        ReadRefused::NotRegular(kind) => {
            refused(format!("{} is a {kind}, not a file", path.display()))
        }
        ReadRefused::TooLarge(n) => refused(format!("{} is {n} bytes", path.display())),
    })?;
    owned_by_me(&meta, path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if secret && meta.mode() & 0o077 != 0 {
            return Err(refused(format!(
                "{} may be read by other users (mode {:o}); it should be 0600",
                path.display(),
                meta.mode() & 0o777
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (&meta, secret);
    let mut buf = Vec::new();
    read_bounded(&file, max, &mut buf).map_err(|e| match e {
        ReadRefused::Io(e) => e,
        ReadRefused::NotRegular(kind) => refused(format!("{} is a {kind}", path.display())),
        ReadRefused::TooLarge(n) => refused(format!(
            "{} is larger than {max} bytes ({n})",
            path.display()
        )),
    })?;
    String::from_utf8(buf).map_err(|_| refused(format!("{} is not text", path.display())))
}

/// Whether `url` is `http://` on this computer only (127.0.0.0/8, ::1, localhost): where a
/// command line tool may send a control token.
pub fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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
mod read_owned_tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn only_our_own_regular_private_files_are_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let token = dir.path().join("control-token");
        write_private(&token, "secret\n").expect("write");
        assert_eq!(read_owned(&token, 64, true).expect("ours"), "secret\n");
        // A link to it, planted in another folder: refused, not followed.
        let link = dir.path().join("planted");
        std::os::unix::fs::symlink(&token, &link).expect("link");
        assert!(read_owned(&link, 64, true).is_err());
        // Readable by others: refused as a secret, fine as a marker.
        fs::set_permissions(&token, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(read_owned(&token, 64, true).is_err());
        assert!(read_owned(&token, 64, false).is_ok());
        // Too large, and a FIFO (which would hang a plain read).
        assert!(read_owned(&token, 3, false).is_err());
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("c");
        // SAFETY: mkfifo with a valid C string.
        #[allow(unsafe_code)]
        unsafe {
            libc::mkfifo(c.as_ptr(), 0o600);
        }
        assert!(read_owned(&fifo, 64, false).is_err());
    }

    #[test]
    fn private_folders_are_owner_only_and_never_links() {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("a/b/data");
        private_dir(&data).expect("create");
        assert_eq!(
            fs::metadata(&data).expect("m").permissions().mode() & 0o777,
            0o700
        );
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&data).expect("narrow");
        assert_eq!(
            fs::metadata(&data).expect("m").permissions().mode() & 0o777,
            0o700
        );
        // A link to someone's folder is refused and its target untouched.
        let victim = dir.path().join("victim");
        fs::create_dir(&victim).expect("mkdir");
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o755)).expect("chmod");
        let link = dir.path().join("planted");
        std::os::unix::fs::symlink(&victim, &link).expect("link");
        let err = private_dir(&link).expect_err("a link");
        assert!(err.to_string().contains("is a link"), "{err}");
        assert_eq!(
            fs::metadata(&victim).expect("m").permissions().mode() & 0o777,
            0o755
        );
        fs::write(dir.path().join("file"), "x").expect("w");
        assert!(private_dir(&dir.path().join("file")).is_err());
    }

    #[test]
    fn tokens_go_to_loopback_addresses_only() {
        for ok in [
            "http://127.0.0.1:5000",
            "http://localhost:7878/x",
            "http://[::1]:80",
            "http://127.8.9.1",
        ] {
            assert!(is_loopback_http(ok), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:5000",
            "https://127.0.0.1",
            "http://evil.example",
            "http://127.0.0.1.evil.example:80",
            "http://user@127.0.0.1",
        ] {
            assert!(!is_loopback_http(bad), "{bad}");
        }
    }
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
