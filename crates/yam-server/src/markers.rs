//! YAM's marker files in the data folder (the YAM folder for the Python profile).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use yam_sessions::markers::{
    FORCE_SESSION_RESET, MULTIPLE_SESSIONS_ALLOWED, SERVER_SHUTDOWN, SERVER_STARTUP,
    SESSION_CONFLICT_RESOLUTION,
};

#[derive(Clone, Debug)]
pub struct Markers {
    dir: PathBuf,
}

impl Markers {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).is_file()
    }

    pub fn remove(&self, name: &str) -> io::Result<bool> {
        match fs::remove_file(self.path(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes `key=value` lines, like the markers server.bat writes (plain text, one fact a line).
    pub fn write(&self, name: &str, facts: &[(&str, String)]) -> io::Result<()> {
        let mut text = String::new();
        for (k, v) in facts {
            text.push_str(k);
            text.push('=');
            text.push_str(&v.replace(['\n', '\r'], " "));
            text.push('\n');
        }
        // A random, exclusive temp file never written through a link planted in the folder.
        yam_sessions::private::write_private(&self.path(name), &text)
    }

    /// Reads `key=value` lines back; lines without `=` are ignored.
    /// Reads a marker this user's own server wrote (not a link, not another user's file, at
    /// most 64 KB).
    pub fn read(&self, name: &str) -> io::Result<BTreeMap<String, String>> {
        let text = yam_sessions::private::read_owned(&self.path(name), 64 * 1024, false)?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_remove() {
        let dir = tempfile::tempdir().expect("tmp");
        let m = Markers::new(dir.path());
        m.write(
            SERVER_STARTUP,
            &[("pid", "42".into()), ("url", "http://x\ny".into())],
        )
        .expect("write");
        let facts = m.read(SERVER_STARTUP).expect("read");
        assert_eq!(facts.get("pid").map(String::as_str), Some("42"));
        assert_eq!(facts.get("url").map(String::as_str), Some("http://x y"));
        assert!(m.remove(SERVER_STARTUP).expect("rm"));
        assert!(!m.remove(SERVER_STARTUP).expect("rm again"));
    }
}
