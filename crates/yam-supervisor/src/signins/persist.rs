//! What must outlive the supervisor: when everyone was last logged out, who signed in again
//! since, and the revoked sign-ins (until they would have expired). Never a cookie value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// More than any real state takes; a bigger file is not ours.
const MAX_FILE: u64 = 4 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    /// The last force logout (Unix milliseconds): sessions signed before it are refused.
    pub logged_out_at: Option<u64>,
    /// Users who signed in again since then: their remember cookie is theirs again.
    pub back_since_logout: BTreeSet<String>,
    /// Revoked sign-ins (companion ids, or hashed session ids) and until when they are
    /// remembered.
    pub revoked: BTreeMap<String, u64>,
    /// Users one of whose sign-ins was revoked: their remember cookie (Flask-Login's is the same
    /// in every browser of a user) is refused until they sign in again.
    pub remember_refused: BTreeSet<String>,
}

impl Persisted {
    /// Whether a remember cookie of `user` (see `user_key`) may sign a browser in by itself:
    /// not after a revoke of that user's sign-in or a force logout, until they sign in again.
    pub fn admit_remember(&self, user: Option<&str>) -> super::Admit {
        let Some(user) = user else {
            return super::Admit::Pass;
        };
        if self.remember_refused.contains(user) {
            super::Admit::LogOut(super::Ended::Revoked)
        } else if self.logged_out_at.is_some() && !self.back_since_logout.contains(user) {
            super::Admit::LogOut(super::Ended::ForcedOut)
        } else {
            super::Admit::Pass
        }
    }

    /// `user` signed in again: their remember cookie counts again. Whether that changed.
    pub fn signed_in_again(&mut self, user: &str) -> bool {
        let back = self.logged_out_at.is_some() && self.back_since_logout.insert(user.to_owned());
        self.remember_refused.remove(user) || back
    }
}

/// How a user id is kept and compared: itself, or — longer than 64 bytes (Flask-Login's
/// alternative tokens) — its sha256.
pub fn user_key(id: &str) -> String {
    if id.len() <= 64 {
        id.to_owned()
    } else {
        use sha2::Digest as _;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(id.as_bytes()))
        )
    }
}

impl Persisted {
    /// Reads `path`; a missing file is a fresh state, an unreadable one too (with why).
    pub fn load(path: &Path) -> (Self, Option<String>) {
        // Never a link, a FIFO or a device; at most MAX_FILE bytes.
        let read = yam_sessions::private::read_owned(path, MAX_FILE, false);
        match read {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Self::default(), None),
            Err(e) => (
                Self::default(),
                Some(format!(
                    "{} could not be read ({e}); starting afresh",
                    path.display()
                )),
            ),
            Ok(text) => match serde_json::from_str(&text) {
                Ok(state) => (state, None),
                Err(e) => (
                    Self::default(),
                    Some(format!(
                        "{} is damaged ({e}); starting afresh",
                        path.display()
                    )),
                ),
            },
        }
    }

    /// Writes `path` whole (a temp file renamed over it), for its owner only.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &text)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}
