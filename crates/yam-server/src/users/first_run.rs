//! First start with no users: create `admin` with a random password kept in a private file.

use std::path::{Path, PathBuf};

use super::passwords::{generate_password, hash_password};
use super::{UserError, Users};
use crate::paths::write_private;

#[derive(Debug)]
pub enum FirstRun {
    /// Users exist already.
    NotNeeded,
    /// `admin` was created; its password is in this file (never in the log).
    AdminCreated(PathBuf),
}

pub fn ensure_admin(users: &Users, password_file: &Path) -> anyhow::Result<FirstRun> {
    if users.count()? > 0 {
        return Ok(FirstRun::NotNeeded);
    }
    let password = generate_password()?;
    let hash = hash_password(&password)?;
    // Write the file first: an admin whose password nobody can read would lock everyone out.
    write_private(password_file, &format!("{password}\n"))
        .map_err(|e| anyhow::anyhow!("could not write {}: {e}", password_file.display()))?;
    match users.add("admin", None, &hash, true) {
        Ok(_) => Ok(FirstRun::AdminCreated(password_file.to_path_buf())),
        // Another server sharing the database created it a moment ago: this password is not
        // the admin's, so it must not be left where someone would try it.
        Err(UserError::Exists(_)) => {
            let _ = std::fs::remove_file(password_file);
            Ok(FirstRun::NotNeeded)
        }
        Err(e) => Err(e.into()),
    }
}
