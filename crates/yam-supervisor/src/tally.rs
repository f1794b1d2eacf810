//! Live session counts from what the readers found, kept per file so a watcher event
//! updates one entry instead of rescanning. Pure apart from the map.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use yam_sessions::Timestamp;

use crate::readers::FileInfo;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCount {
    pub user_id: String,
    pub username: Option<String>,
    pub sessions: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Unexpired sessions, anonymous ones included.
    pub live: usize,
    pub authenticated: usize,
    pub anonymous: usize,
    /// Distinct users with a live session.
    pub users: usize,
    pub per_user: Vec<UserCount>,
    pub expiring_soon: usize,
    pub damaged: usize,
    /// Logins seen since the watcher started (never goes down while it runs): a session file
    /// that appears signed in, or one that changes to another user. Damaged files repaired and
    /// sessions that merely slide their expiry do not count; neither do the sessions found by
    /// the first scan of a folder.
    pub logins_seen: u64,
}

#[derive(Debug, Default)]
pub struct Tally {
    files: HashMap<PathBuf, FileInfo>,
    /// Folders scanned at least once: what a later rescan finds new was a login.
    scanned: HashSet<PathBuf>,
    logins_seen: u64,
}

/// Whether going from `old` to `new` in one file is someone signing in.
fn is_login(old: Option<&FileInfo>, new: &FileInfo) -> bool {
    if new.damaged || new.user_id.is_none() {
        return false;
    }
    match old {
        None => true,
        Some(old) => !old.damaged && old.user_id != new.user_id,
    }
}

impl Tally {
    pub fn upsert(&mut self, path: PathBuf, info: FileInfo) {
        if is_login(self.files.get(&path), &info) {
            self.logins_seen += 1;
        }
        self.files.insert(path, info);
    }

    pub fn remove(&mut self, path: &Path) {
        self.files.remove(path);
    }

    /// Replaces everything under `dir` (after a rescan).
    pub fn replace_dir(&mut self, dir: &Path, found: Vec<(PathBuf, FileInfo)>) {
        if !self.scanned.insert(dir.to_path_buf()) {
            let new_logins = found
                .iter()
                .filter(|(p, info)| is_login(self.files.get(p), info))
                .count();
            self.logins_seen += new_logins as u64;
        }
        self.files.retain(|p, _| !p.starts_with(dir));
        self.files.extend(found);
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn files(&self) -> impl Iterator<Item = (&PathBuf, &FileInfo)> {
        self.files.iter()
    }

    pub fn counts(&self, now: Timestamp, soon: Duration) -> Counts {
        let soon_limit = now.plus(soon);
        let mut counts = Counts {
            logins_seen: self.logins_seen,
            ..Counts::default()
        };
        let mut per_user: BTreeMap<&str, (Option<&str>, usize)> = BTreeMap::new();
        for info in self.files.values() {
            if info.damaged {
                counts.damaged += 1;
                continue;
            }
            if info.expires.is_some_and(|e| e <= now) {
                continue;
            }
            counts.live += 1;
            if info.expires.is_some_and(|e| e <= soon_limit) {
                counts.expiring_soon += 1;
            }
            match &info.user_id {
                Some(id) => {
                    counts.authenticated += 1;
                    let entry = per_user.entry(id.as_str()).or_insert((None, 0));
                    entry.1 += 1;
                    if entry.0.is_none() {
                        entry.0 = info.username.as_deref();
                    }
                }
                None => counts.anonymous += 1,
            }
        }
        counts.users = per_user.len();
        counts.per_user = per_user
            .into_iter()
            .map(|(id, (name, n))| UserCount {
                user_id: id.to_owned(),
                username: name.map(str::to_owned),
                sessions: n,
            })
            .collect();
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(user: Option<&str>, expires: Option<i64>) -> FileInfo {
        FileInfo {
            user_id: user.map(str::to_owned),
            username: user.map(|u| format!("user{u}")),
            expires: expires.map(Timestamp::from_secs),
            damaged: false,
        }
    }

    #[test]
    fn counts_live_users_and_damage() {
        let mut t = Tally::default();
        t.upsert("/s/a".into(), info(Some("1"), Some(2000)));
        t.upsert("/s/b".into(), info(Some("2"), Some(1500)));
        t.upsert("/s/c".into(), info(Some("2"), None));
        t.upsert("/s/d".into(), info(None, Some(5000)));
        t.upsert("/s/e".into(), info(Some("3"), Some(900)));
        t.upsert("/s/f".into(), FileInfo::damaged());
        let c = t.counts(Timestamp::from_secs(1000), Duration::from_secs(600));
        assert_eq!(
            (c.live, c.authenticated, c.anonymous, c.users, c.damaged),
            (4, 3, 1, 2, 1)
        );
        assert_eq!(c.expiring_soon, 1);
        assert_eq!(
            c.per_user[1],
            UserCount {
                user_id: "2".into(),
                username: Some("user2".into()),
                sessions: 2
            }
        );
        t.remove(Path::new("/s/c"));
        t.replace_dir(
            Path::new("/s"),
            vec![("/s/z".into(), info(Some("9"), None))],
        );
        assert_eq!(t.counts(Timestamp::from_secs(1000), Duration::ZERO).live, 1);
    }

    #[test]
    fn logins_are_new_signed_in_sessions_not_slides_repairs_or_the_first_scan() {
        let now = Timestamp::from_secs(1000);
        let logins = |t: &Tally| t.counts(now, Duration::ZERO).logins_seen;
        let mut t = Tally::default();
        // What the first scan finds was there before: not a login.
        t.replace_dir(
            Path::new("/s"),
            vec![("/s/old".into(), info(Some("1"), Some(5000)))],
        );
        assert_eq!(logins(&t), 0);
        // An anonymous visit, then the same session signs in: one login.
        t.upsert("/s/a".into(), info(None, Some(5000)));
        t.upsert("/s/a".into(), info(Some("2"), Some(5000)));
        assert_eq!(logins(&t), 1);
        // The same user's session slides its expiry: still one.
        t.upsert("/s/a".into(), info(Some("2"), Some(6000)));
        assert_eq!(logins(&t), 1);
        // Another user signs in on that browser: two.
        t.upsert("/s/a".into(), info(Some("3"), Some(6000)));
        assert_eq!(logins(&t), 2);
        // A damaged file repaired is not a login; a brand-new signed-in file is.
        t.upsert("/s/d".into(), FileInfo::damaged());
        t.upsert("/s/d".into(), info(Some("4"), Some(6000)));
        t.upsert("/s/n".into(), info(Some("5"), Some(6000)));
        assert_eq!(logins(&t), 3);
        // A later rescan that finds a session the events missed counts it once.
        let mut found: Vec<(PathBuf, FileInfo)> =
            t.files().map(|(p, i)| (p.clone(), i.clone())).collect();
        found.push(("/s/missed".into(), info(Some("6"), Some(6000))));
        t.replace_dir(Path::new("/s"), found.clone());
        t.replace_dir(Path::new("/s"), found);
        assert_eq!(logins(&t), 4);
    }
}
