//! Where the server keeps its files. Never the working folder: on a double-click or at login
//! that is Program Files or System32.

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
    /// Refuses a link (a folder someone prepared must not turn our chmod and `users.db` onto
    /// the target) and a folder of another user.
    pub fn create(&self) -> io::Result<()> {
        yam_sessions::private::private_dir(&self.root)
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

pub use yam_sessions::private::{restrict_to_owner, write_private};
