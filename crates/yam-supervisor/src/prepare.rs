//! What server.bat did before a start, done safely: stale markers out, mode markers written,
//! sessions cleared only when asked, `force_session_reset.txt` never deleted while pending.

use std::fs;
use std::io;
use std::path::Path;

use yam_sessions::markers::{
    FORCE_SESSION_RESET, MULTIPLE_SESSIONS_ALLOWED, SERVER_SHUTDOWN, SERVER_STARTUP,
    SESSION_CONFLICT, SESSION_CONFLICT_RESOLUTION,
};
use yam_sessions::{Clock, SystemClock};

use crate::settings::{ProfileKind, Settings};

fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A random, exclusive temp file renamed over `path`: never written through a planted link.
fn write(path: &Path, text: &str) -> io::Result<()> {
    yam_sessions::private::write_private(path, text)
}

fn stamp() -> String {
    format!(
        "{}\nby=yam-supervisor pid {}\n",
        SystemClock.now().to_rfc3339(),
        std::process::id()
    )
}

pub fn markers_before_start(dir: &Path, settings: &Settings) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    remove(&dir.join(SERVER_SHUTDOWN))?;
    remove(&dir.join(SESSION_CONFLICT))?;
    // yam-server writes its own, richer startup marker.
    if settings.profile != ProfileKind::Embedded {
        write(&dir.join(SERVER_STARTUP), &stamp())?;
    }
    for (name, on) in [
        (MULTIPLE_SESSIONS_ALLOWED, settings.multiple_sessions),
        (
            SESSION_CONFLICT_RESOLUTION,
            settings.conflict_resolution_effective(),
        ),
    ] {
        if on {
            write(&dir.join(name), &stamp())?;
        } else {
            remove(&dir.join(name))?;
        }
    }
    Ok(())
}

pub fn write_shutdown_marker(dir: &Path) -> io::Result<()> {
    let path = dir.join(SERVER_SHUTDOWN);
    if path.exists() {
        return Ok(());
    }
    write(&path, &stamp())
}

pub fn write_force_reset(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    write(&dir.join(FORCE_SESSION_RESET), &stamp())
}

/// Deletes session files (plain files only; symlinks and folders are never followed or
/// removed) in each folder. Returns how many were deleted.
pub fn clear_session_files(dirs: &[std::path::PathBuf]) -> io::Result<usize> {
    let mut removed = 0;
    for dir in dirs {
        match fs::symlink_metadata(dir) {
            Ok(m) if m.is_dir() => {}
            _ => continue,
        }
        for entry in fs::read_dir(dir)?.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            let kind = crate::readers::classify(name);
            let temp = name.ends_with(".__wz_cache");
            if is_file
                && (kind != crate::readers::FileKind::Ignore || temp)
                && remove(&entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_follow_the_settings_and_keep_a_pending_reset() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        for name in [
            SERVER_SHUTDOWN,
            SESSION_CONFLICT,
            FORCE_SESSION_RESET,
            SESSION_CONFLICT_RESOLUTION,
        ] {
            fs::write(d.join(name), "x").expect("w");
        }
        let mut s = Settings {
            multiple_sessions: false,
            profile: ProfileKind::Custom,
            ..Settings::default()
        };
        markers_before_start(d, &s).expect("prepare");
        assert!(!d.join(SERVER_SHUTDOWN).exists() && !d.join(SESSION_CONFLICT).exists());
        assert!(
            d.join(FORCE_SESSION_RESET).exists(),
            "a pending reset must survive"
        );
        assert!(!d.join(MULTIPLE_SESSIONS_ALLOWED).exists());
        assert!(!d.join(SESSION_CONFLICT_RESOLUTION).exists());
        assert!(d.join(SERVER_STARTUP).exists());
        s.multiple_sessions = true;
        markers_before_start(d, &s).expect("prepare");
        assert!(
            d.join(MULTIPLE_SESSIONS_ALLOWED).exists()
                && d.join(SESSION_CONFLICT_RESOLUTION).exists()
        );
    }

    #[test]
    fn clearing_touches_session_files_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let sessions = dir.path().join("flask_session");
        fs::create_dir_all(sessions.join("sub")).expect("mkdir");
        fs::write(sessions.join("f8419c48eccd6bd56a4396b0aa45b42d"), "s").expect("w");
        fs::write(sessions.join(format!("{}.json", "a".repeat(64))), "s").expect("w");
        fs::write(sessions.join("keep.txt"), "k").expect("w");
        fs::write(sessions.join(crate::readers::BOOKKEEPING_MD5), "k").expect("w");
        let outside = dir.path().join("precious");
        fs::create_dir_all(&outside).expect("mkdir");
        fs::write(outside.join("f8419c48eccd6bd56a4396b0aa45b42d"), "p").expect("w");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, dir.path().join("sessions")).expect("symlink");
        let dirs = vec![
            sessions.clone(),
            dir.path().join("sessions"),
            dir.path().join("missing"),
        ];
        assert_eq!(clear_session_files(&dirs).expect("clear"), 2);
        assert!(sessions.join("keep.txt").exists() && sessions.join("sub").is_dir());
        assert!(sessions.join(crate::readers::BOOKKEEPING_MD5).exists());
        assert!(
            outside.join("f8419c48eccd6bd56a4396b0aa45b42d").exists(),
            "followed a symlink"
        );
    }
}
