//! The embedded server's first-run admin password, shown to the admin once.

use std::path::{Path, PathBuf};

pub const PASSWORD_FILE: &str = "initial-admin-password.txt";
/// Written when the admin confirms they saved the password; the file itself stays.
pub const SEEN_MARKER: &str = "initial-admin-password.seen";

/// The password file while it exists and has not been acknowledged.
pub fn pending_file(data_dir: &Path) -> Option<PathBuf> {
    let file = data_dir.join(PASSWORD_FILE);
    (file.is_file() && !data_dir.join(SEEN_MARKER).exists()).then_some(file)
}

pub fn read(data_dir: &Path) -> Option<String> {
    let file = pending_file(data_dir)?;
    yam_sessions::private::read_owned(&file, 4096, false)
        .ok()
        .map(|p| p.trim().to_owned())
}

pub fn dismiss(data_dir: &Path) -> std::io::Result<()> {
    std::fs::write(data_dir.join(SEEN_MARKER), b"seen\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_until_dismissed() {
        let dir = tempfile::tempdir().expect("tmp");
        assert_eq!(read(dir.path()), None);
        std::fs::write(dir.path().join(PASSWORD_FILE), "s3cret\n").expect("w");
        assert_eq!(read(dir.path()).as_deref(), Some("s3cret"));
        dismiss(dir.path()).expect("dismiss");
        assert_eq!(read(dir.path()), None);
        assert!(dir.path().join(PASSWORD_FILE).exists(), "the file is kept");
    }
}
