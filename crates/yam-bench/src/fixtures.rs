//! Session files made in bulk: ours (JSON) and Flask-Session's (expiry header + pickle).

use std::path::Path;
use std::time::Duration;

use yam_sessions::{ClientInfo, Clock, SessionId, SessionMode, SessionPolicy, SystemClock};

/// Writes `n` live yam-server session files of `users` users (admin is user 1).
pub fn yam_sessions(dir: &Path, n: usize, users: i64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let policy = SessionPolicy::new(SessionMode::Multiple);
    let now = SystemClock.now();
    for i in 0..n {
        let user = (i as i64 % users) + 1;
        let name = if user == 1 {
            "admin".to_owned()
        } else {
            format!("user{user}")
        };
        let mut record = policy.new_record(
            user,
            &name,
            ClientInfo::new(Some("10.0.0.1".into()), Some("Mozilla/5.0 bench")),
            now,
            "bench",
        );
        record.expires_at = now.plus(Duration::from_secs(3600 + (i % 7200) as u64));
        let key = SessionId::generate()?.key();
        std::fs::write(dir.join(format!("{}.json", key.to_hex())), record.to_json())?;
    }
    Ok(())
}

/// Writes `n` cachelib-format Flask-Session files (4-byte expiry, pickle protocol 4 dict).
pub fn flask_sessions(dir: &Path, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let expiry = (SystemClock.now().as_secs() + 4 * 3600) as u32;
    for i in 0..n {
        let user = (i % 50 + 1).to_string();
        let mut bytes = expiry.to_le_bytes().to_vec();
        bytes.extend(pickle_session(&user));
        std::fs::write(dir.join(format!("{:032x}", i as u128 * 7919 + 1)), bytes)?;
    }
    Ok(())
}

/// `{"_user_id": user, "_permanent": True}` as a protocol-2 pickle.
fn pickle_session(user: &str) -> Vec<u8> {
    let mut p = vec![0x80, 0x02, b'}', b'q', 0x00, b'('];
    let mut put_str = |s: &str| {
        p.push(b'X');
        p.extend((s.len() as u32).to_le_bytes());
        p.extend(s.as_bytes());
    };
    put_str("_user_id");
    put_str(user);
    put_str("_permanent");
    p.push(0x88);
    p.extend([b'u', b'.']);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_readable_by_the_supervisor() {
        let dir = tempfile::tempdir().expect("tmp");
        flask_sessions(dir.path(), 3).expect("flask");
        yam_sessions(&dir.path().join("y"), 4, 2).expect("yam");
        let flask = yam_supervisor::watcher::scan_dir(dir.path());
        assert_eq!(flask.len(), 3);
        assert!(
            flask.iter().all(|(_, i)| !i.damaged && i.user_id.is_some()),
            "{flask:?}"
        );
        let ours = yam_supervisor::watcher::scan_dir(&dir.path().join("y"));
        assert_eq!(ours.len(), 4);
        assert!(ours.iter().all(|(_, i)| !i.damaged));
    }
}
