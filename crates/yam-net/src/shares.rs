//! Each client address's share of the connection places: one address (a script, a stuck
//! proxy) may hold at most `limit` connections, so it cannot take every place while others
//! wait. IPv6 addresses count per /64 (one host usually has a whole /64 to pick from).
//! Addresses named as unshared (a trusted reverse proxy, which carries everyone's
//! connections) have no limit. Pure apart from the lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// What connections are counted under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    V4([u8; 4]),
    /// The first 64 bits.
    V6Net(u64),
}

impl Origin {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Origin::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Origin::V4(v4.octets()),
                None => Origin::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[derive(Debug)]
struct Counts {
    limit: usize,
    unshared: Vec<IpAddr>,
    open: HashMap<Origin, usize>,
}

/// The shares of one listener; cloned into every connection task.
#[derive(Clone, Debug)]
pub struct Shares {
    counts: Arc<Mutex<Counts>>,
}

/// A connection's place in its address's share; given back when dropped.
#[derive(Debug)]
pub struct Share {
    counts: Arc<Mutex<Counts>>,
    origin: Option<Origin>,
}

fn lock(counts: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    // Counting never panics mid-update; a poisoned lock still holds good counts.
    counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shares {
    /// At most `limit` (at least 1) connections per address, none for `unshared` addresses.
    pub fn new(limit: usize, unshared: Vec<IpAddr>) -> Self {
        Self {
            counts: Arc::new(Mutex::new(Counts {
                limit: limit.max(1),
                unshared,
                open: HashMap::new(),
            })),
        }
    }

    /// A place for a connection from `ip`, or `None` when that address holds its share.
    pub fn take(&self, ip: IpAddr) -> Option<Share> {
        let mut counts = lock(&self.counts);
        if counts.unshared.contains(&ip) {
            return Some(Share {
                counts: Arc::clone(&self.counts),
                origin: None,
            });
        }
        let origin = Origin::of(ip);
        let limit = counts.limit;
        let open = counts.open.entry(origin).or_insert(0);
        if *open >= limit {
            return None;
        }
        *open += 1;
        Some(Share {
            counts: Arc::clone(&self.counts),
            origin: Some(origin),
        })
    }

    pub fn limit(&self) -> usize {
        lock(&self.counts).limit
    }

    /// Addresses with open connections (a flood of addresses is the cap's job, not ours).
    pub fn addresses(&self) -> usize {
        lock(&self.counts).open.len()
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let Some(origin) = self.origin else { return };
        let mut counts = lock(&self.counts);
        if let Some(open) = counts.open.get_mut(&origin) {
            *open -= 1;
            if *open == 0 {
                counts.open.remove(&origin);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn one_address_holds_at_most_its_share_and_gets_it_back() {
        let shares = Shares::new(2, vec![]);
        let a = shares.take(ip("10.0.0.1")).expect("1st");
        let _b = shares.take(ip("10.0.0.1")).expect("2nd");
        assert!(shares.take(ip("10.0.0.1")).is_none());
        assert!(shares.take(ip("10.0.0.2")).is_some(), "another address");
        drop(a);
        assert!(shares.take(ip("10.0.0.1")).is_some());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let shares = Shares::new(1, vec![]);
        let _x = shares.take(ip("2001:db8:1:2::1")).expect("first");
        assert!(
            shares.take(ip("2001:db8:1:2:ffff::9")).is_none(),
            "same /64"
        );
        assert!(shares.take(ip("2001:db8:1:3::1")).is_some(), "another /64");
        let _v4 = shares.take(ip("192.0.2.7")).expect("v4");
        assert!(shares.take(ip("::ffff:192.0.2.7")).is_none(), "mapped");
    }

    #[test]
    fn an_unshared_proxy_has_no_limit_and_nothing_is_left_behind() {
        let shares = Shares::new(1, vec![ip("127.0.0.1")]);
        let held: Vec<_> = (0..10)
            .map(|_| shares.take(ip("127.0.0.1")).expect("proxy"))
            .collect();
        assert_eq!(shares.addresses(), 0);
        drop(held);
        let one = shares.take(ip("10.1.1.1")).expect("one");
        assert_eq!(shares.addresses(), 1);
        drop(one);
        assert_eq!(shares.addresses(), 0);
    }
}
