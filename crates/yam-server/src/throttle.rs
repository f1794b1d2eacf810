//! Failed-login throttling, per IP and per user, with growing delays. Pure: time is passed in.
//!
//! An attempt is counted as a failure when it is admitted, before its password is hashed (a
//! reservation that a success takes back), and only a few attempts per address and per user
//! may be hashing at once: a concurrent burst cannot slip past the counters, and what is not
//! admitted is refused at once, without a hash.
//!
//! A stranger can slow down logins as a user only a little (the per-user delay is capped at
//! 30 s) and not at all from an address where that user logged in before: so nobody can lock
//! `admin` out for long. The per-IP delay grows to 15 minutes: a guesser mostly locks himself.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use yam_sessions::Timestamp;

#[derive(Clone, Debug)]
pub struct ThrottlePolicy {
    pub free_failures_per_ip: u32,
    pub free_failures_per_user: u32,
    pub base_delay: Duration,
    pub max_delay_per_ip: Duration,
    pub max_delay_per_user: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
    /// How long a (user, address) pair that logged in successfully stays trusted.
    pub trust_for: Duration,
    /// Bound on remembered addresses and users, so a flood cannot grow memory.
    pub max_entries: usize,
    /// Attempts of one address being checked at once; more are refused without a hash. Below
    /// the number of hashing threads (at least 2), so one address never holds them all.
    pub max_in_flight_per_ip: u32,
    /// The same per user while someone is guessing its password (failed attempts in the
    /// window), except from an address the user logged in from before. Without failures a
    /// shared account may log in from several new computers at once.
    pub max_in_flight_per_user: u32,
    /// Different forwarded addresses failing through one trusted proxy within the window
    /// from which the proxy's own address is throttled too: a program that can reach the
    /// server as the proxy may write any `X-Forwarded-For`, a new address per guess.
    pub churn_limit: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures_per_ip: 5,
            free_failures_per_user: 10,
            base_delay: Duration::from_secs(1),
            max_delay_per_ip: Duration::from_secs(15 * 60),
            max_delay_per_user: Duration::from_secs(30),
            window: Duration::from_secs(15 * 60),
            trust_for: Duration::from_secs(30 * 24 * 3600),
            max_entries: 100_000,
            max_in_flight_per_ip: 1,
            max_in_flight_per_user: 1,
            churn_limit: 16,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Counter {
    failures: u32,
    last_failure: Timestamp,
    blocked_until: Timestamp,
}

impl Counter {
    fn fail(&mut self, now: Timestamp, free: u32, base: Duration, max: Duration, window: Duration) {
        if self.last_failure.plus(window) <= now {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
        if self.failures > free {
            let doublings = (self.failures - free - 1).min(20);
            let delay = base.saturating_mul(1 << doublings).min(max);
            self.blocked_until = now.plus(delay);
        }
    }

    fn idle(&self, now: Timestamp, window: Duration) -> bool {
        self.blocked_until <= now && self.last_failure.plus(window) <= now
    }
}

/// Forwarded addresses that failed through one proxy, and when (at most [`CHURN_TRACKED`]).
#[derive(Debug, Default)]
struct Churn {
    failed: HashMap<IpAddr, Timestamp>,
}

/// Enough to tell churn from a busy office; bounded so a flood of addresses costs nothing.
const CHURN_TRACKED: usize = 256;

impl Churn {
    fn note(&mut self, client: IpAddr, now: Timestamp) {
        if self.failed.len() >= CHURN_TRACKED && !self.failed.contains_key(&client) {
            let oldest = self
                .failed
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(ip, _)| *ip);
            if let Some(oldest) = oldest {
                self.failed.remove(&oldest);
            }
        }
        self.failed.insert(client, now);
    }

    fn recent(&self, now: Timestamp, window: Duration) -> usize {
        self.failed
            .values()
            .filter(|at| at.plus(window) > now)
            .count()
    }
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    by_ip: HashMap<IpAddr, Counter>,
    /// Per trusted proxy: the forwarded addresses failing through it.
    churn: HashMap<IpAddr, Churn>,
    by_user: HashMap<String, Counter>,
    trusted: HashMap<(String, IpAddr), Timestamp>,
    in_flight_ip: HashMap<IpAddr, u32>,
    in_flight_user: HashMap<String, u32>,
}

/// The longest login a counter is kept under: an email may be 254 bytes, a username 64. A
/// longer name is no user's, and keeping all of it would let failed logins with 60 KB names
/// fill memory; such names share counters by their first bytes.
const MAX_LOGIN_KEY_BYTES: usize = 320;

fn user_key(login: &str) -> String {
    let login = login.trim();
    let mut end = login.len().min(MAX_LOGIN_KEY_BYTES);
    while !login.is_char_boundary(end) {
        end -= 1;
    }
    login[..end].to_lowercase()
}

/// Why an attempt was refused without checking its password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures lately: wait this long.
    Wait(Duration),
    /// Too many attempts of this address or user are being checked right now.
    Busy,
}

impl Refusal {
    /// The `Retry-After` to send.
    pub fn retry_after(self) -> Duration {
        match self {
            Refusal::Wait(d) => d,
            Refusal::Busy => Duration::from_secs(1),
        }
    }
}

/// An admitted attempt: counted as a failure, holding an in-flight place until released.
#[derive(Debug, PartialEq, Eq)]
pub struct Attempt {
    ip: IpAddr,
    /// The trusted proxy that named `ip`, if any.
    proxy: Option<IpAddr>,
    user: String,
    /// Holds a per-user place (not for a trusted address).
    user_place: bool,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    fn is_trusted(&self, user: &str, ip: IpAddr, now: Timestamp) -> bool {
        self.trusted
            .get(&(user.to_owned(), ip))
            .is_some_and(|at| at.plus(self.policy.trust_for) > now)
    }

    /// `Err(wait)` when this address or user must wait before trying again.
    pub fn check(&self, ip: IpAddr, login: &str, now: Timestamp) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        if let Some(c) = self.by_ip.get(&ip) {
            wait = wait.max(now.until(c.blocked_until));
        }
        let user = user_key(login);
        if !self.is_trusted(&user, ip, now)
            && let Some(c) = self.by_user.get(&user)
        {
            wait = wait.max(now.until(c.blocked_until));
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Admits an attempt (counted as a failure from now on, holding an in-flight place) or
    /// refuses it, in which case its password must not be checked.
    pub fn begin(&mut self, ip: IpAddr, login: &str, now: Timestamp) -> Result<Attempt, Refusal> {
        self.begin_via(ip, None, login, now)
    }

    /// Whether failures through `proxy` come from so many different forwarded addresses
    /// that the addresses are invented.
    fn churning(&self, proxy: IpAddr, now: Timestamp) -> bool {
        self.churn
            .get(&proxy)
            .is_some_and(|c| c.recent(now, self.policy.window) >= self.policy.churn_limit)
    }

    /// [`Self::begin`] for a client a trusted `proxy` named. While forwarded addresses churn,
    /// the proxy's own address is throttled as well (a user logging in from an address they
    /// used before is not).
    pub fn begin_via(
        &mut self,
        ip: IpAddr,
        proxy: Option<IpAddr>,
        login: &str,
        now: Timestamp,
    ) -> Result<Attempt, Refusal> {
        self.check(ip, login, now).map_err(Refusal::Wait)?;
        let user = user_key(login);
        if let Some(proxy) = proxy
            && self.churning(proxy, now)
            && !self.is_trusted(&user, ip, now)
            && let Some(c) = self.by_ip.get(&proxy)
            && c.blocked_until > now
        {
            return Err(Refusal::Wait(now.until(c.blocked_until)));
        }
        let user_place = !self.is_trusted(&user, ip, now);
        let ip_busy =
            self.in_flight_ip.get(&ip).copied().unwrap_or(0) >= self.policy.max_in_flight_per_ip;
        let user_in_flight = self.in_flight_user.get(&user).copied().unwrap_or(0);
        // Failures of attempts that finished (the ones in flight are counted too, up front).
        let user_failed = self.by_user.get(&user).is_some_and(|c| {
            c.failures > user_in_flight && c.last_failure.plus(self.policy.window) > now
        });
        let user_busy =
            user_place && user_failed && user_in_flight >= self.policy.max_in_flight_per_user;
        if ip_busy || user_busy {
            return Err(Refusal::Busy);
        }
        self.record_failure(ip, login, now);
        if let Some(proxy) = proxy {
            self.churn.entry(proxy).or_default().note(ip, now);
            if self.churning(proxy, now) {
                let p = &self.policy;
                self.by_ip.entry(proxy).or_default().fail(
                    now,
                    p.free_failures_per_ip,
                    p.base_delay,
                    p.max_delay_per_ip,
                    p.window,
                );
            }
        }
        *self.in_flight_ip.entry(ip).or_default() += 1;
        if user_place {
            *self.in_flight_user.entry(user.clone()).or_default() += 1;
        }
        Ok(Attempt {
            ip,
            proxy,
            user,
            user_place,
        })
    }

    /// The attempt's password was right: its reservation and the counters are cleared.
    pub fn succeeded(&mut self, attempt: &Attempt, now: Timestamp) {
        self.record_success(attempt.ip, &attempt.user, now);
        // A real login: that address was not invented.
        if let Some(churn) = attempt.proxy.and_then(|p| self.churn.get_mut(&p)) {
            churn.failed.remove(&attempt.ip);
        }
    }

    /// Gives back the attempt's in-flight places (after success, failure or cancellation).
    pub fn release(&mut self, attempt: &Attempt) {
        fn give_back<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: &K) {
            if let Some(n) = map.get_mut(key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
        give_back(&mut self.in_flight_ip, &attempt.ip);
        if attempt.user_place {
            give_back(&mut self.in_flight_user, &attempt.user);
        }
    }

    pub fn record_failure(&mut self, ip: IpAddr, login: &str, now: Timestamp) {
        self.make_room(now);
        let p = &self.policy;
        self.by_ip.entry(ip).or_default().fail(
            now,
            p.free_failures_per_ip,
            p.base_delay,
            p.max_delay_per_ip,
            p.window,
        );
        self.by_user.entry(user_key(login)).or_default().fail(
            now,
            p.free_failures_per_user,
            p.base_delay,
            p.max_delay_per_user,
            p.window,
        );
    }

    pub fn record_success(&mut self, ip: IpAddr, login: &str, now: Timestamp) {
        let user = user_key(login);
        self.by_ip.remove(&ip);
        self.by_user.remove(&user);
        self.make_room(now);
        self.trusted.insert((user, ip), now);
    }

    /// Forgets idle counters and old trust.
    pub fn prune(&mut self, now: Timestamp) {
        let window = self.policy.window;
        let trust_for = self.policy.trust_for;
        self.by_ip.retain(|_, c| !c.idle(now, window));
        self.by_user.retain(|_, c| !c.idle(now, window));
        self.churn.retain(|_, c| {
            c.failed.retain(|_, at| at.plus(window) > now);
            !c.failed.is_empty()
        });
        self.trusted.retain(|_, at| at.plus(trust_for) > now);
    }

    fn make_room(&mut self, now: Timestamp) {
        let max = self.policy.max_entries;
        if self.by_ip.len() >= max || self.by_user.len() >= max || self.trusted.len() >= max {
            self.prune(now);
        }
        // Still full of live entries: drop the oldest trust first, counters never (that would
        // unblock an attacker).
        if self.trusted.len() >= max {
            self.trusted.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_login_names_are_kept_short() {
        let mut t = LoginThrottle::default();
        for i in 0..200u32 {
            let name = format!("{i:05}{}é", "x".repeat(60 * 1024));
            t.record_failure(STRANGER, &name, T0);
        }
        let kept: usize = t.by_user.keys().map(String::len).sum();
        assert!(
            kept <= 200 * MAX_LOGIN_KEY_BYTES,
            "{kept} bytes of names kept"
        );
        assert_eq!(t.by_user.len(), 200);
        assert_eq!(user_key("  Alice@Example.COM "), "alice@example.com");
    }

    const T0: Timestamp = Timestamp(1_800_000_000_000);
    const STRANGER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 66));
    const ADMIN_PC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn invented_forwarded_addresses_throttle_the_proxy_itself() {
        let proxy: IpAddr = [127, 0, 0, 1].into();
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        // The admin logged in through the proxy from their PC before.
        let a = t
            .begin_via(ADMIN_PC, Some(proxy), "admin", T0)
            .expect("admin");
        t.succeeded(&a, T0);
        t.release(&a);
        let mut refused = 0;
        for i in 0..40u8 {
            let now = T0.plus(secs(u64::from(i)));
            let invented: IpAddr = [10, 9, 8, i].into();
            match t.begin_via(invented, Some(proxy), &format!("user{i}"), now) {
                Ok(attempt) => t.release(&attempt),
                Err(_) => refused += 1,
            }
        }
        assert!(refused >= 15, "only {refused} of 40 refused");
        // The admin from their usual address still gets in.
        let now = T0.plus(secs(40));
        assert!(t.begin_via(ADMIN_PC, Some(proxy), "admin", now).is_ok());
        // Without a proxy nothing changes: forty addresses, five free failures each.
        let mut direct = LoginThrottle::new(ThrottlePolicy::default());
        for i in 0..40u8 {
            let attempt = direct
                .begin([10, 9, 8, i].into(), &format!("user{i}"), T0)
                .expect("free");
            direct.release(&attempt);
        }
    }

    #[test]
    fn delays_grow_after_the_free_attempts() {
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        for _ in 0..5 {
            assert!(t.check(STRANGER, "bob", T0).is_ok());
            t.record_failure(STRANGER, "bob", T0);
        }
        assert!(
            t.check(STRANGER, "bob", T0).is_ok(),
            "five failures are free"
        );
        t.record_failure(STRANGER, "bob", T0);
        assert_eq!(t.check(STRANGER, "bob", T0), Err(secs(1)));
        t.record_failure(STRANGER, "bob", T0.plus(secs(1)));
        assert_eq!(t.check(STRANGER, "bob", T0.plus(secs(1))), Err(secs(2)));
        t.record_failure(STRANGER, "bob", T0.plus(secs(3)));
        assert_eq!(
            t.check(STRANGER, "carol", T0.plus(secs(3))),
            Err(secs(4)),
            "per IP, any user"
        );
    }

    #[test]
    fn per_ip_delay_is_capped_and_forgotten_after_the_window() {
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        for _ in 0..40 {
            t.record_failure(STRANGER, "x", T0);
        }
        assert_eq!(t.check(STRANGER, "y", T0), Err(secs(900)));
        let later = T0.plus(secs(901));
        assert!(t.check(STRANGER, "y", later).is_ok());
        t.record_failure(STRANGER, "y", later.plus(secs(900)));
        assert!(
            t.check(STRANGER, "y", later.plus(secs(900))).is_ok(),
            "window reset the count"
        );
    }

    #[test]
    fn strangers_cannot_lock_admin_out_for_long() {
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        t.record_success(ADMIN_PC, "admin", T0);
        // A distributed attack: many addresses, each under its own limit.
        for i in 0..200u8 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(172, 16, 0, i));
            t.record_failure(ip, "Admin", T0);
        }
        let new_pc = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 3));
        let wait = t
            .check(new_pc, "admin", T0)
            .expect_err("throttled elsewhere");
        assert!(wait <= secs(30), "{wait:?}");
        assert!(
            t.check(ADMIN_PC, "admin", T0).is_ok(),
            "the admin's own PC is never throttled by others"
        );
    }

    #[test]
    fn success_clears_the_counters() {
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        for _ in 0..7 {
            t.record_failure(ADMIN_PC, "admin", T0);
        }
        assert!(t.check(ADMIN_PC, "admin", T0).is_err());
        t.record_success(ADMIN_PC, "admin", T0.plus(secs(5)));
        assert!(t.check(ADMIN_PC, "admin", T0.plus(secs(5))).is_ok());
    }

    #[test]
    fn attempts_count_before_hashing_and_only_one_runs_at_once() {
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        let first = t.begin(STRANGER, "admin", T0).expect("admitted");
        // A burst: everything beyond the in-flight place is refused without a hash.
        for _ in 0..99 {
            assert_eq!(t.begin(STRANGER, "admin", T0), Err(Refusal::Busy));
        }
        t.release(&first);
        // The admitted attempt already counts as a failure. Five are free; the sixth
        // admitted attempt starts the delays.
        for _ in 0..5 {
            let a = t.begin(STRANGER, "admin", T0).expect("admitted");
            t.release(&a);
        }
        assert!(matches!(
            t.begin(STRANGER, "admin", T0),
            Err(Refusal::Wait(_))
        ));
    }

    #[test]
    fn a_success_takes_its_reservation_back() {
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        for _ in 0..4 {
            let a = t.begin(ADMIN_PC, "admin", T0).expect("admitted");
            t.release(&a);
        }
        let a = t.begin(ADMIN_PC, "admin", T0).expect("admitted");
        t.succeeded(&a, T0);
        t.release(&a);
        for _ in 0..5 {
            let a = t
                .begin(ADMIN_PC, "admin", T0)
                .expect("counters were cleared");
            t.release(&a);
        }
    }

    #[test]
    fn busy_strangers_never_block_the_users_own_computer() {
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        t.record_success(ADMIN_PC, "admin", T0);
        let stranger = |i| IpAddr::V4(std::net::Ipv4Addr::new(172, 16, 0, i));
        // Someone guessed once and failed: admin is under attack.
        let first = t.begin(stranger(1), "admin", T0).expect("admitted");
        t.release(&first);
        let held = t.begin(stranger(2), "admin", T0).expect("admitted");
        assert_eq!(t.begin(stranger(3), "admin", T0), Err(Refusal::Busy));
        assert!(
            t.begin(ADMIN_PC, "admin", T0).is_ok(),
            "trusted: no per-user place"
        );
        t.release(&held);
        assert!(t.in_flight_user.is_empty());
    }

    #[test]
    fn a_shared_account_logs_in_from_several_new_computers_at_once() {
        let mut t = LoginThrottle::new(ThrottlePolicy::default());
        let pc = |i| IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 1, i));
        let attempts: Vec<_> = (1..=8)
            .map(|i| {
                t.begin(pc(i), "team", T0)
                    .expect("no failures yet: all admitted")
            })
            .collect();
        for a in &attempts {
            t.succeeded(a, T0);
            t.release(a);
        }
        assert!(t.in_flight_ip.is_empty() && t.in_flight_user.is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = LoginThrottle::new(ThrottlePolicy {
            max_entries: 100,
            ..ThrottlePolicy::default()
        });
        for i in 0..1000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            t.record_failure(
                ip,
                &format!("u{i}"),
                T0.plus(Duration::from_secs(u64::from(i) * 1000)),
            );
        }
        assert!(
            t.by_ip.len() <= 100 && t.by_user.len() <= 100,
            "{} {}",
            t.by_ip.len(),
            t.by_user.len()
        );
        t.prune(T0.plus(secs(2_000_000)));
        assert!(t.by_ip.is_empty() && t.by_user.is_empty());
    }
}
