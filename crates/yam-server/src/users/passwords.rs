//! argon2id hashing at OWASP's minimum memory and passes (19 MiB, t=2) computed in 2 lanes
//! (p=2) on an idle-priority thread pool behind a concurrency limit: a login takes half the
//! wall time of one lane, and a login storm yields the CPU to other requests.
//!
//! p=2 keeps the total memory and passes (what makes guessing expensive) and lets the two
//! halves run at once; RFC 9106's recommended settings use p=4.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::UserError;

pub const MIN_PASSWORD_LEN: usize = 8;
const GENERATED_LEN: usize = 20;
/// Lanes computed in parallel; see the module comment.
pub const LANES: u32 = 2;
/// No look-alikes (0/O, 1/l/I): the generated password is read off a screen.
const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn argon2() -> Argon2<'static> {
    let params = Params::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, LANES, None)
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

/// Whether a stored hash uses other parameters than new ones get (then it is replaced at
/// the next successful login).
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let param = |name: &str| parsed.params.get_decimal(name).unwrap_or(0);
    parsed.algorithm.as_str() != "argon2id"
        || param("m") < Params::DEFAULT_M_COST
        || param("t") < Params::DEFAULT_T_COST
        || param("p") != LANES
}

/// Hashing threads yield to request handling. Linux: SCHED_IDLE for the thread, so a
/// request never waits behind a hash, while hashes still get a share of a saturated CPU.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: sched_setscheduler(0, …) changes only the calling thread's policy on Linux; the
    // parameter struct lives for the call.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        }
    }
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

/// The server's password checker: at most `permits` hashes at once, on its own low-priority
/// threads.
#[derive(Clone)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
    pool: Arc<rayon::ThreadPool>,
    dummy_hash: Arc<OnceLock<String>>,
}

impl PasswordChecker {
    pub fn new(permits: usize) -> Self {
        let threads = permits.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("yam-hash-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .expect("a thread pool of one thread");
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            pool: Arc::new(pool),
            dummy_hash: Arc::new(OnceLock::new()),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let _permit = self.permits.acquire().await.ok()?;
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || pool.install(work))
            .await
            .ok()
    }

    /// Verifies `password` against `hash`. With no hash (unknown user) it still spends the
    /// same work on a dummy hash, so response times do not reveal which usernames exist.
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let dummy = Arc::clone(&self.dummy_hash);
        self.run(move || match hash {
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

    pub async fn hash(&self, password: String) -> Option<String> {
        self.run(move || hash_password(&password).ok())
            .await
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_minimums() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=2$"), "{h}");
        assert!(!needs_rehash(&h));
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
