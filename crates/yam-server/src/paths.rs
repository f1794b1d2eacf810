//! Where the server keeps its files. Never the working folder: on a double-click or at login
//! that is Program Files or System32.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The data folder and the well-known files in it.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

pub const USERS_DB: &str = "users.db";
pub const INITIAL_ADMIN_PASSWORD: &str = "initial-admin-password.txt";
pub const SESSIONS: &str = "sessions";

impl DataDir {
    /// `explicit` or the per-user application data folder.
    pub fn resolve(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let root = match explicit {
            Some(p) => absolute(p)?,
            None => directories::ProjectDirs::from("", "", "YAM")
                .map(|d| d.data_local_dir().to_path_buf())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no home folder found for the default data folder; pass --data-dir"
                    )
                })?,
        };
        Ok(Self { root })
    }

    /// Creates the folder, private to the current user where the platform allows.
    pub fn create(&self) -> io::Result<()> {
        fs::create_dir_all(&self.root)?;
        restrict_to_owner(&self.root, 0o700)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn default_sessions_dir(&self) -> PathBuf {
        self.root.join(SESSIONS)
    }
}

/// Makes a relative path absolute against the working folder once, at start.
pub fn absolute(p: &Path) -> io::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

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

/// Writes a small secret file readable only by the owner (created private, never widened).
pub fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    restrict_to_owner(path, 0o600)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
