//! What `yamctl` can do without a running `yamctl up`: force logout on the folder, settings.

use yam_sessions::{FileStore, SessionStore};

use super::CtlPaths;
use crate::prepare;
use crate::profile::{Binding, Paths, plan};
use crate::settings::{self, ProfileKind};

pub fn force_logout(paths: &CtlPaths) -> anyhow::Result<String> {
    let loaded = settings::load(&paths.config_dir);
    let s = loaded.settings;
    let p = plan(
        &s,
        &Paths {
            data_dir: paths.data_dir.clone(),
            server_bin: super::server_binary(),
            yam: s.yam_dir.as_deref().map(crate::yam_folder::read_sources),
        },
        "offline",
        false,
        Binding::preview(&s),
        |_| Some("python".into()),
    )
    .map_err(|e| anyhow::anyhow!("the settings do not describe a server: {e}"))?;
    if p.sessions_at_door.is_some() {
        // A signed-cookie YAM: its browsers are logged out at the door, from their next
        // request on (the door reads this file when it starts).
        let file = paths.data_dir.join(crate::door::SESSIONS_FILE);
        let (mut state, _) = crate::signins::Persisted::load(&file);
        state.logged_out_at = Some(crate::door::now_ms());
        state.back_since_logout.clear();
        yam_sessions::private::private_dir(&paths.data_dir)?;
        state.save(&file)?;
        return Ok(format!(
            "yamctl up is not running: every browser signed in to YAM is logged out at its next \
             request through the door (kept in {}).",
            file.display()
        ));
    }
    if let Some(source) = &p.sessions_redis {
        let deleted = crate::redis_watcher::clear(source)?;
        if s.profile == ProfileKind::Embedded {
            // Shared with other servers: a marker would clear their new sessions at the next start.
            return Ok(format!(
                "yamctl up is not running: deleted {deleted_sessions} in Redis ({}).",
                crate::redis_watcher::redact(&source.url),
                deleted_sessions = yam_sessions::words::count(deleted, "session")
            ));
        }
        prepare::write_force_reset(&p.markers_dir)?;
        return Ok(format!(
            "yamctl up is not running: deleted {deleted_sessions} in Redis and wrote \
             force_session_reset.txt in {}.",
            p.markers_dir.display(),
            deleted_sessions = yam_sessions::words::count(deleted, "session")
        ));
    }
    let deleted = match s.profile {
        ProfileKind::Custom => anyhow::bail!("a custom server has no force logout"),
        ProfileKind::Embedded => {
            let mut n = 0;
            for dir in p.sessions_dirs.iter().filter(|d| d.is_dir()) {
                n += FileStore::open(dir)?.0.delete_all()?;
            }
            n
        }
        ProfileKind::Python => {
            // Deleting the files is the logout; YAM's marker would be consumed by whichever
            // request (or health check) came first.
            let n = prepare::clear_session_files(&p.sessions_dirs)?;
            return Ok(format!(
                "yamctl up is not running: deleted {n_files} of the YAM folder.",
                n_files = yam_sessions::words::count(n, "session file")
            ));
        }
    };
    prepare::write_force_reset(&p.markers_dir)?;
    Ok(format!(
        "yamctl up is not running: deleted {deleted_files} and wrote force_session_reset.txt in {} \
         (consumed when the server next starts).",
        p.markers_dir.display(),
        deleted_files = yam_sessions::words::count(deleted, "session file")
    ))
}

pub fn set(paths: &CtlPaths, key: &str, value: &str) -> anyhow::Result<String> {
    let mut s = settings::load(&paths.config_dir).settings;
    s.set(key, value).map_err(|e| anyhow::anyhow!("{e}"))?;
    settings::save(&paths.config_dir, &s)?;
    Ok(format!(
        "Saved {key} = {value}; it applies when the server next starts."
    ))
}
