//! argon2id hashing at OWASP's minimum memory and passes (19 MiB, t=2) computed in 2 lanes
//! (p=2) on a below-normal-priority thread pool behind a concurrency limit: a login takes
//! half the wall time of one lane, and hashing yields most of a busy CPU to other requests.
//!
//! p=2 keeps the total memory and passes (what makes guessing expensive) and lets the two
//! halves run at once; RFC 9106's recommended settings use p=4.

use std::sync::Arc;

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

/// A password long enough to be set.
pub fn check_strength(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(UserError::WeakPassword);
    }
    Ok(())
}

/// Hashes on the calling thread: for the CLI and for blocking tasks.
/// What an unknown user's login is checked against, so it takes as long as a known one's.
/// Fixed rather than made at each start: making it cost every start a full hash (~26 ms of CPU
/// and 19 MiB touched, measured in release), which a restart under load felt. Its password is
/// never accepted: for an unknown user the check's answer is ignored.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=2$v3YV9W7mgepPGn37YnvmoQ$pvCVGmrLHmj0yWtbk3Wm7hidX4ERB3OUJ33+WCrMqd0";

pub fn hash_password(password: &str) -> Result<String, UserError> {
    check_strength(password)?;
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

/// Hashing threads yield most of a busy CPU to request handling (Unix: nice 10, about a
/// tenth of a core beside a busy worker). Not SCHED_IDLE: that gives hashes nothing while
/// the CPU is busy, so a flood of cheap requests (even ones answered 429) stalled every
/// login; and it bought nothing for the tail latency of other requests (BENCHMARKS.md).
fn lower_priority() {
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: setpriority(PRIO_PROCESS, 0, …) on Linux changes only the calling thread's
    // nice value (threads are scheduled one by one); no memory is passed.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, HASH_NICE);
    }
}

/// The nice value of hashing threads.
#[cfg(unix)]
const HASH_NICE: libc::c_int = 10;

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
    /// Made once at start, on the caller's thread. Made lazily inside the pool, a pool thread
    /// waiting in argon2's parallel lanes could pick up a second unknown-user login, which
    /// then waited on the same initialisation: both hung. It also made the first unknown-user
    /// login slower than the rest (a timing signal of which names exist).
    dummy_hash: Arc<str>,
}

impl PasswordChecker {
    /// Builds the pool and the dummy hash (one hash on the calling thread).
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
            dummy_hash: Arc::from(DUMMY_HASH),
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
                let _ = verify_password(&password, &dummy);
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
    fn the_dummy_hash_costs_what_a_real_one_does() {
        assert!(!needs_rehash(DUMMY_HASH), "same parameters as new hashes");
        assert!(verify_password("yam-dummy-password-never-used", DUMMY_HASH));
    }

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

    /// The dummy hash for unknown users exists before the first login and has the same
    /// parameters as real hashes (same work, same time).
    #[test]
    fn the_dummy_hash_is_made_at_start_with_real_parameters() {
        let checker = PasswordChecker::new(1);
        assert!(
            checker
                .dummy_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=2$")
        );
        assert!(!needs_rehash(&checker.dummy_hash));
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
