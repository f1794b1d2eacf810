//! The control token: lets the supervisor and the CLI call admin endpoints without a login.
//! Taken from `YAM_CONTROL_TOKEN` (the supervisor sets a fresh one per start) or generated per
//! start; always written to a user-private file in the data folder for the CLI.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::paths::write_private;

pub const TOKEN_FILE: &str = "control-token";
pub const TOKEN_ENV: &str = "YAM_CONTROL_TOKEN";
/// Shorter tokens from the environment are refused: they could be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Clone)]
pub struct ControlToken(String);

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ControlToken(<redacted>)")
    }
}

impl ControlToken {
    /// From the environment value when usable, otherwise a fresh random one.
    pub fn from_env_or_random(env: Option<&str>) -> anyhow::Result<Self> {
        match env.map(str::trim) {
            Some(t) if !t.is_empty() => {
                anyhow::ensure!(
                    t.len() >= MIN_TOKEN_LEN && t.is_ascii() && !t.contains(char::is_whitespace),
                    "{TOKEN_ENV} must be at least {MIN_TOKEN_LEN} printable characters without spaces"
                );
                Ok(Self(t.to_owned()))
            }
            _ => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes)?;
                Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
            }
        }
    }

    pub fn write_file(&self, data_dir: &Path) -> std::io::Result<PathBuf> {
        let path = data_dir.join(TOKEN_FILE);
        write_private(&path, &format!("{}\n", self.0))?;
        Ok(path)
    }

    /// The token a server of `data_dir` wrote: a regular, owner-only file of this user, not
    /// a link (a folder someone else prepared must not hand us another token, or ours).
    pub fn read_file(data_dir: &Path) -> std::io::Result<String> {
        Ok(
            yam_sessions::private::read_owned(&data_dir.join(TOKEN_FILE), 4096, true)?
                .trim()
                .to_owned(),
        )
    }

    /// Constant-time comparison; an empty offer never matches.
    pub fn matches(&self, offered: &str) -> bool {
        !offered.is_empty() && bool::from(self.0.as_bytes().ct_eq(offered.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_token_or_random() {
        let t = ControlToken::from_env_or_random(Some("0123456789abcdefXYZ")).expect("env");
        assert!(t.matches("0123456789abcdefXYZ"));
        assert!(!t.matches("0123456789abcdefXY"));
        assert!(!t.matches(""));
        assert!(ControlToken::from_env_or_random(Some("short")).is_err());
        let a = ControlToken::from_env_or_random(Some("  ")).expect("random");
        let b = ControlToken::from_env_or_random(None).expect("random");
        assert!(!a.matches(&b.0));
        assert!(a.0.len() >= 40);
        assert!(!format!("{a:?}").contains(&a.0));
    }

    #[test]
    fn file_round_trip_is_private() {
        let dir = tempfile::tempdir().expect("tmp");
        let t = ControlToken::from_env_or_random(None).expect("t");
        let path = t.write_file(dir.path()).expect("write");
        assert!(t.matches(&ControlToken::read_file(dir.path()).expect("read")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).expect("m").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
