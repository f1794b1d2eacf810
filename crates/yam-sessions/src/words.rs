//! Counted nouns for sentences people read: "1 session", "2 sessions", never "2 session(s)".

use std::fmt;

/// `n` followed by the noun in the right number: `count(2, "session")` shows "2 sessions".
/// Nouns whose plural is not `+s` use [`Count::irregular`].
#[derive(Clone, Copy, Debug)]
pub struct Count<'a> {
    n: u64,
    one: &'a str,
    many: Option<&'a str>,
}

pub fn count(n: impl TryInto<u64>, one: &str) -> Count<'_> {
    Count {
        n: n.try_into().unwrap_or(u64::MAX),
        one,
        many: None,
    }
}

impl<'a> Count<'a> {
    pub fn irregular(n: impl TryInto<u64>, one: &'a str, many: &'a str) -> Self {
        Count {
            n: n.try_into().unwrap_or(u64::MAX),
            one,
            many: Some(many),
        }
    }
}

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.n, self.many) {
            (1, _) => write!(f, "1 {}", self.one),
            (n, Some(many)) => write!(f, "{n} {many}"),
            (n, None) => write!(f, "{n} {}s", self.one),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_many() {
        assert_eq!(count(0, "session").to_string(), "0 sessions");
        assert_eq!(count(1usize, "session").to_string(), "1 session");
        assert_eq!(count(2u32, "session file").to_string(), "2 session files");
        assert_eq!(
            Count::irregular(3, "crash", "crashes").to_string(),
            "3 crashes"
        );
        assert_eq!(
            Count::irregular(1, "crash", "crashes").to_string(),
            "1 crash"
        );
    }
}
