//! Answers that come when the thing asked for has happened (watchexec's tickets): a start or
//! restart is answered once its server answers requests (or with why it did not), a stop once
//! the servers have gone. Callers (`yamctl`, the window, the tray) then never guess with a
//! sleep. The verdict is pure: it reads what the lifecycle shows.

use crate::lifecycle::{Gen, GenView, Phase, Route};

use super::ActionError;

/// What a ticket waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Goal {
    /// A server answers (an already running one will do).
    Started,
    /// A server started for this request (generation `from` or later) answers.
    Restarted { from: Gen },
    /// No server is left.
    Stopped,
}

/// `None` while it may still happen.
pub(super) fn verdict(
    goal: Goal,
    phase: &Phase,
    route: Route,
    live: &[GenView],
) -> Option<Result<(), ActionError>> {
    let failed = |why: String| Some(Err(ActionError::Failed(why)));
    match goal {
        Goal::Stopped => match phase {
            Phase::Stopping => None,
            p if p.has_process() => failed(format!("the server did not stop: {}", p.label())),
            _ => Some(Ok(())),
        },
        Goal::Started | Goal::Restarted { .. } => {
            if let (Route::To(serving), Goal::Restarted { from }) = (route, goal)
                && serving < from
                && !live.iter().any(|v| v.generation >= from)
                && !matches!(phase, Phase::Restarting { .. })
            {
                return failed(
                    "the new server did not start; the running one goes on serving".into(),
                );
            }
            match (route, goal) {
                (Route::To(_), Goal::Started) => Some(Ok(())),
                // Once the old one takes no more connections (not while handing over).
                (Route::To(serving), Goal::Restarted { from })
                    if serving >= from && !matches!(phase, Phase::Restarting { .. }) =>
                {
                    Some(Ok(()))
                }
                (Route::To(_) | Route::Hold, _) if !matches!(phase, Phase::Crashed { .. }) => None,
                (Route::To(_) | Route::Hold | Route::Closed, _) => {
                    failed(format!("the server did not start: {}", phase.label()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{RestartStep, Role};

    fn server(n: u64, role: Role) -> GenView {
        GenView {
            generation: Gen(n),
            pid: Some(100 + n as u32),
            role,
        }
    }

    #[test]
    fn a_restart_is_answered_when_its_new_server_serves_or_cannot() {
        let goal = Goal::Restarted { from: Gen(2) };
        let restarting = Phase::Restarting {
            step: RestartStep::NewStartingOldServes,
        };
        let both = [server(2, Role::Starting), server(1, Role::Outgoing)];
        assert_eq!(verdict(goal, &restarting, Route::To(Gen(1)), &both), None);
        let switched = [server(2, Role::Serving), server(1, Role::Draining)];
        let handing_over = Phase::Restarting {
            step: RestartStep::HandingOver,
        };
        assert_eq!(
            verdict(goal, &handing_over, Route::To(Gen(2)), &switched),
            None
        );
        assert_eq!(
            verdict(goal, &Phase::Running, Route::To(Gen(2)), &switched),
            Some(Ok(()))
        );
        // The new one failed: the old one serves on.
        let failed = verdict(
            goal,
            &Phase::Running,
            Route::To(Gen(1)),
            &[server(1, Role::Serving)],
        );
        assert!(
            matches!(failed, Some(Err(ActionError::Failed(_)))),
            "{failed:?}"
        );
        // Stop first: nothing serves while the old one stops.
        let held = Phase::Restarting {
            step: RestartStep::OldStopping,
        };
        assert_eq!(
            verdict(goal, &held, Route::Hold, &[server(1, Role::Draining)]),
            None
        );
        let crashed = Phase::Crashed { retry_in_ms: 1000 };
        assert!(matches!(
            verdict(goal, &crashed, Route::Hold, &[]),
            Some(Err(_))
        ));
        let gone = Phase::Failed {
            reason: "no such file".into(),
        };
        assert!(matches!(
            verdict(goal, &gone, Route::Closed, &[]),
            Some(Err(_))
        ));
    }

    #[test]
    fn a_start_is_answered_by_any_serving_server_and_a_stop_when_all_have_gone() {
        assert_eq!(
            verdict(Goal::Started, &Phase::Running, Route::To(Gen(1)), &[]),
            Some(Ok(()))
        );
        assert_eq!(
            verdict(Goal::Started, &Phase::Starting, Route::Hold, &[]),
            None
        );
        assert_eq!(
            verdict(Goal::Stopped, &Phase::Stopping, Route::Closed, &[]),
            None
        );
        assert_eq!(
            verdict(Goal::Stopped, &Phase::Stopped, Route::Closed, &[]),
            Some(Ok(()))
        );
    }
}
