//! argon2id hashing (OWASP minimum parameters: 19 MiB, 2 passes, 1 lane) on blocking threads
//! behind a concurrency limit, so a login storm cannot starve other requests.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::UserError;

pub const MIN_PASSWORD_LEN: usize = 8;
const GENERATED_LEN: usize = 20;
/// No look-alikes (0/O, 1/l/I): the generated password is read off a screen.
const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn argon2() -> Argon2<'static> {
    let params = Params::new(
        Params::DEFAULT_M_COST,
        Params::DEFAULT_T_COST,
        Params::DEFAULT_P_COST,
        None,
    )
    .unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on the calling thread: for the CLI and for blocking tasks.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(UserError::WeakPassword);
    }
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    argon2().verify_password(password.as_bytes(), hash).is_ok()
}

/// A random password from the OS CSPRNG (rejection sampling keeps it uniform).
pub fn generate_password() -> Result<String, getrandom::Error> {
    let limit = 256 - (256 % ALPHABET.len());
    let mut out = String::with_capacity(GENERATED_LEN);
    while out.len() < GENERATED_LEN {
        let mut buf = [0u8; 32];
        getrandom::fill(&mut buf)?;
        for b in buf {
            if usize::from(b) < limit && out.len() < GENERATED_LEN {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// The server's password checker: at most `permits` hashes run at once.
#[derive(Clone)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<OnceLock<String>>,
}

impl PasswordChecker {
    pub fn new(permits: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            dummy_hash: Arc::new(OnceLock::new()),
        }
    }

    /// Verifies `password` against `hash`. With no hash (unknown user) it still spends the
    /// same work on a dummy hash, so response times do not reveal which usernames exist.
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let dummy = Arc::clone(&self.dummy_hash);
        tokio::task::spawn_blocking(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                let dummy = dummy
                    .get_or_init(|| hash_password("dummy-password-for-timing").unwrap_or_default());
                let _ = verify_password(&password, dummy);
                false
            }
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_minimums() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(UserError::WeakPassword)
        ));
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password().expect("rng");
        let b = generate_password().expect("rng");
        assert_eq!(a.len(), GENERATED_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }
}
