//! Periodic upkeep: persist renewals, sweep expired sessions, notice user and marker changes.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use yam_sessions::{EndReason, SessionManager};

use crate::markers::{FORCE_SESSION_RESET, Markers};
use crate::state::SharedState;

pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
pub const USERS_EVERY: Duration = Duration::from_secs(2);
pub const MARKERS_EVERY: Duration = Duration::from_secs(2);

/// Runs `job` on a blocking thread every `every`; errors are logged, never fatal.
fn periodic<F>(name: &'static str, every: Duration, job: F) -> JoinHandle<()>
where
    F: Fn() -> anyhow::Result<()> + Send + Sync + 'static,
{
    let job = Arc::new(job);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let job = Arc::clone(&job);
            match tokio::task::spawn_blocking(move || job()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(task = name, "background task failed: {e:#}"),
                Err(e) => tracing::error!(task = name, "background task panicked: {e}"),
            }
        }
    })
}

/// Clears every session when `force_session_reset.txt` appears, then deletes the marker.
pub fn consume_force_reset(
    sessions: &SessionManager,
    markers: &Markers,
) -> anyhow::Result<Option<usize>> {
    if !markers.exists(FORCE_SESSION_RESET) {
        return Ok(None);
    }
    tracing::warn!("Force session reset marker detected - clearing all sessions");
    let cleared = sessions.end_all(EndReason::ForceLogout)?;
    markers.remove(FORCE_SESSION_RESET)?;
    tracing::info!(cleared, "All sessions cleared by force session reset");
    Ok(Some(cleared))
}

pub struct Upkeep {
    handles: Vec<JoinHandle<()>>,
}

impl Upkeep {
    pub fn start(state: SharedState, markers: Markers) -> Self {
        let flush = Arc::clone(&state.sessions);
        let sweep = Arc::clone(&state);
        let reset = Arc::clone(&state.sessions);
        let users = Arc::clone(&state.users);
        let handles = vec![
            periodic("flush-renewals", FLUSH_EVERY, move || {
                flush.flush_due()?;
                Ok(())
            }),
            periodic("sweep-expired", SWEEP_EVERY, move || {
                sweep.throttle.lock().prune(sweep.sessions.now());
                let purged = sweep.sessions.sweep()?;
                if purged > 0 {
                    tracing::info!(purged, "Deleted expired sessions");
                }
                Ok(())
            }),
            periodic("refresh-users", USERS_EVERY, move || {
                users.refresh_if_changed()?;
                Ok(())
            }),
            periodic("force-reset-marker", MARKERS_EVERY, move || {
                consume_force_reset(&reset, &markers)?;
                Ok(())
            }),
        ];
        Self { handles }
    }

    pub fn stop(self) {
        for handle in self.handles {
            handle.abort();
        }
    }
}
