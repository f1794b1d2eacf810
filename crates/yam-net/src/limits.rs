//! The open-files limit and the connection cap that fits under it. Pure apart from the two
//! system calls in `raise_open_files_limit`.

/// The process's open-files limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFiles {
    pub soft: u64,
    pub hard: u64,
}

/// Descriptors kept for everything but connections: the listener, logs, the users database
/// and its journal, session files being read or written, standard streams, the runtime.
const RESERVED: u64 = 64;
/// Above this, memory per connection is the limit, not descriptors.
const MAX_CONNECTIONS: u64 = 16_384;
/// Even a tiny limit leaves room to serve someone.
const MIN_CONNECTIONS: u64 = 16;

/// How many connections fit: the soft limit minus what the rest of the process needs.
pub fn connection_cap(open_files: Option<OpenFiles>) -> usize {
    let cap = match open_files {
        Some(limit) => limit.soft.saturating_sub(RESERVED).max(MIN_CONNECTIONS),
        None => MAX_CONNECTIONS,
    };
    usize::try_from(cap.min(MAX_CONNECTIONS)).unwrap_or(usize::MAX)
}

/// Raises the soft open-files limit to the hard one (many systems start services at 1024 or
/// even 256 while allowing far more). Returns the limits now in force, `None` where the
/// platform has no such limit (Windows).
pub fn raise_open_files_limit() -> Option<OpenFiles> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let current = getrlimit(Resource::Nofile);
        let (soft, hard) = (current.current, current.maximum);
        if soft != hard {
            let raised = rustix::process::Rlimit {
                current: hard,
                maximum: hard,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => tracing::info!(
                    "Open-files limit raised from {} to {}",
                    shown(soft),
                    shown(hard)
                ),
                Err(e) => tracing::warn!("cannot raise the open-files limit: {e}"),
            }
        }
        let now = getrlimit(Resource::Nofile);
        Some(OpenFiles {
            soft: now.current.unwrap_or(u64::MAX),
            hard: now.maximum.unwrap_or(u64::MAX),
        })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(unix)]
fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_everything_else() {
        let at = |soft| connection_cap(Some(OpenFiles { soft, hard: soft }));
        assert_eq!(at(256), 192);
        assert_eq!(at(1024), 960);
        assert_eq!(at(20), 16);
        assert_eq!(at(1 << 20), 16_384);
        assert_eq!(connection_cap(None), 16_384);
    }
}
