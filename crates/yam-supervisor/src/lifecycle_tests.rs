use std::time::Duration;

use super::*;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn exit(code: i32) -> ExitInfo {
    ExitInfo {
        code: Some(code),
        signal: None,
        description: format!("exit code {code}"),
    }
}

fn running(m: &mut Lifecycle, now: Duration) {
    assert_eq!(
        m.handle(Event::Start { clear: false }, now),
        vec![Action::Launch { clear: false }]
    );
    m.handle(Event::Spawned { pid: 42 }, now);
    m.handle(Event::HealthOk, now);
    assert_eq!(m.phase(), &Phase::Running);
}

#[test]
fn start_becomes_running_on_the_first_healthy_answer() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    assert_eq!(
        m.handle(Event::Start { clear: true }, s(0)),
        vec![Action::Launch { clear: true }]
    );
    assert_eq!(m.phase(), &Phase::Starting);
    m.handle(Event::Spawned { pid: 7 }, s(0));
    m.handle(Event::HealthFailed, s(1));
    assert_eq!(
        m.phase(),
        &Phase::Starting,
        "failures while starting are expected"
    );
    m.handle(Event::HealthOk, s(2));
    assert_eq!((m.phase(), m.pid()), (&Phase::Running, Some(7)));
    assert_eq!(m.uptime(s(12)), Some(s(10)));
    assert!(
        m.handle(Event::Start { clear: false }, s(3)).is_empty(),
        "already running"
    );
}

#[test]
fn crashes_restart_with_growing_delays_never_clearing() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    running(&mut m, s(0));
    let a = m.handle(Event::Exited(exit(1)), s(10));
    assert_eq!(
        a,
        vec![Action::Notify(Notice::Crashed {
            info: exit(1),
            nth: 1
        })]
    );
    assert_eq!(m.phase(), &Phase::Crashed { retry_in_ms: 1000 });
    // The driver wakes exactly then (not at its next housekeeping tick).
    assert_eq!(m.retry_at(), Some(s(11)));
    assert!(m.handle(Event::Tick, s(10)).is_empty());
    assert_eq!(
        m.handle(Event::Tick, s(11)),
        vec![Action::Launch { clear: false }]
    );
    assert_eq!(m.restarts(), 1);
    assert_eq!(m.retry_at(), None, "no longer waiting");
    m.handle(Event::Spawned { pid: 8 }, s(11));
    m.handle(Event::Exited(exit(1)), s(12));
    assert_eq!(m.phase(), &Phase::Crashed { retry_in_ms: 2000 });
    m.handle(Event::Tick, s(14));
    m.handle(Event::Exited(exit(1)), s(15));
    assert_eq!(m.phase(), &Phase::Crashed { retry_in_ms: 4000 });
}

#[test]
fn a_stable_run_resets_the_backoff() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    running(&mut m, s(0));
    m.handle(Event::Exited(exit(1)), s(5));
    m.handle(Event::Tick, s(6));
    m.handle(Event::HealthOk, s(7));
    m.handle(Event::Exited(exit(1)), s(8));
    assert_eq!(m.phase(), &Phase::Crashed { retry_in_ms: 2000 });
    m.handle(Event::Tick, s(10));
    m.handle(Event::HealthOk, s(10));
    // Healthy for more than a minute: forgiven.
    m.handle(Event::Exited(exit(1)), s(200));
    assert_eq!(m.phase(), &Phase::Crashed { retry_in_ms: 1000 });
}

#[test]
fn too_many_exits_in_the_window_is_a_crash_loop() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    m.handle(Event::Start { clear: false }, s(0));
    let mut now = s(0);
    for i in 0..5 {
        m.handle(Event::Spawned { pid: 100 + i }, now);
        let actions = m.handle(Event::Exited(exit(3)), now);
        if i == 4 {
            assert_eq!(actions, vec![Action::Notify(Notice::CrashLoop(exit(3)))]);
            break;
        }
        now += s(20);
        assert_eq!(
            m.handle(Event::Tick, now),
            vec![Action::Launch { clear: false }]
        );
    }
    assert_eq!(m.phase(), &Phase::CrashLoop);
    assert!(
        m.handle(Event::Tick, now + s(600)).is_empty(),
        "no more automatic restarts"
    );
    assert_eq!(m.last_exit(), Some(&exit(3)));
    // The admin may try again; earlier crashes are forgotten.
    assert_eq!(
        m.handle(Event::Start { clear: false }, now + s(601)),
        vec![Action::Launch { clear: false }]
    );
}

#[test]
fn stop_asks_then_kills_after_the_grace_period() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    running(&mut m, s(0));
    assert_eq!(m.handle(Event::Stop, s(1)), vec![Action::RequestStop]);
    assert_eq!(m.phase(), &Phase::Stopping);
    assert!(m.handle(Event::Tick, s(10)).is_empty());
    assert_eq!(m.handle(Event::Tick, s(11)), vec![Action::KillTree]);
    assert!(m.handle(Event::Tick, s(12)).is_empty(), "kill once");
    assert_eq!(
        m.handle(Event::Exited(exit(137)), s(12)),
        vec![Action::Stopped]
    );
    assert_eq!((m.phase(), m.pid()), (&Phase::Stopped, None));
    assert_eq!(m.restarts(), 0, "a stop is not a crash");
}

#[test]
fn restart_stops_then_starts_with_the_clear_flag() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    running(&mut m, s(0));
    assert_eq!(
        m.handle(Event::Restart { clear: true }, s(1)),
        vec![Action::RequestStop]
    );
    assert_eq!(
        m.handle(Event::Exited(exit(0)), s(2)),
        vec![Action::Stopped, Action::Launch { clear: true }]
    );
    assert_eq!(m.phase(), &Phase::Starting);
    // A stop while a restart is pending cancels the start.
    running(&mut Lifecycle::new(RestartPolicy::default()), s(0));
    let mut m = Lifecycle::new(RestartPolicy::default());
    running(&mut m, s(0));
    m.handle(Event::Restart { clear: false }, s(1));
    m.handle(Event::Stop, s(1));
    assert_eq!(
        m.handle(Event::Exited(exit(0)), s(2)),
        vec![Action::Stopped]
    );
}

#[test]
fn never_healthy_is_killed_and_counted_as_a_crash() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    m.handle(Event::Start { clear: false }, s(0));
    m.handle(Event::Spawned { pid: 5 }, s(0));
    assert!(m.handle(Event::Tick, s(29)).is_empty());
    assert_eq!(m.handle(Event::Tick, s(30)), vec![Action::KillTree]);
    let actions = m.handle(Event::Exited(exit(137)), s(31));
    let Action::Notify(Notice::Crashed { info, .. }) = &actions[0] else {
        panic!("{actions:?}")
    };
    assert!(
        info.description
            .contains("did not become healthy within 30 s"),
        "{info:?}"
    );
}

#[test]
fn unhealthy_after_failed_checks_and_recovers() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    running(&mut m, s(0));
    m.handle(Event::HealthFailed, s(1));
    m.handle(Event::HealthFailed, s(2));
    assert_eq!(m.phase(), &Phase::Running);
    assert_eq!(
        m.handle(Event::HealthFailed, s(3)),
        vec![Action::Notify(Notice::Unhealthy)]
    );
    assert_eq!(m.phase(), &Phase::Unhealthy);
    assert_eq!(
        m.handle(Event::HealthOk, s(4)),
        vec![Action::Notify(Notice::Recovered {
            after_crashes: 0,
            repeat: false
        })]
    );
    assert_eq!(m.phase(), &Phase::Running);
}

#[test]
fn port_busy_and_spawn_failures_do_not_retry() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    m.handle(Event::Start { clear: false }, s(0));
    let a = m.handle(
        Event::PortBusy {
            pid: Some(9),
            name: "python.exe".into(),
        },
        s(0),
    );
    assert_eq!(
        a,
        vec![Action::Notify(Notice::PortBusy {
            pid: Some(9),
            name: "python.exe".into()
        })]
    );
    assert_eq!(m.phase().label(), "Port busy by python.exe (pid 9)");
    assert!(m.handle(Event::Tick, s(100)).is_empty());
    m.handle(Event::Start { clear: false }, s(101));
    m.handle(
        Event::SpawnFailed {
            reason: "no such file".into(),
        },
        s(101),
    );
    assert_eq!(
        m.phase(),
        &Phase::Failed {
            reason: "no such file".into()
        }
    );
    m.handle(Event::Stop, s(102));
    assert_eq!(m.phase(), &Phase::Stopped);
}

/// The notices of one event, as (news?, notice) pairs.
fn notices(actions: Vec<Action>) -> Vec<(bool, Notice)> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Notify(n) => Some((!n.is_repeat(), n)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_crash_episode_is_news_once_and_back_healthy_once_until_stable_again() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    running(&mut m, s(0));
    let crash = |m: &mut Lifecycle, at: Duration| notices(m.handle(Event::Exited(exit(1)), at));
    let back = |m: &mut Lifecycle, at: Duration| {
        m.handle(Event::Tick, at);
        m.handle(Event::Spawned { pid: 9 }, at);
        notices(m.handle(Event::HealthOk, at))
    };
    // First crash: news. Back healthy: news, saying after how many crashes.
    assert_eq!(
        crash(&mut m, s(100)),
        vec![(
            true,
            Notice::Crashed {
                info: exit(1),
                nth: 1
            }
        )]
    );
    assert_eq!(
        back(&mut m, s(101)),
        vec![(
            true,
            Notice::Recovered {
                after_crashes: 1,
                repeat: false
            }
        )]
    );
    // Flapping within the episode: updates, not news.
    assert_eq!(
        crash(&mut m, s(110)),
        vec![(
            false,
            Notice::Crashed {
                info: exit(1),
                nth: 2
            }
        )]
    );
    assert_eq!(
        back(&mut m, s(112)),
        vec![(
            false,
            Notice::Recovered {
                after_crashes: 2,
                repeat: true
            }
        )]
    );
    // Stable for a minute ends the episode: nothing to say then, and the next crash is news.
    assert!(notices(m.handle(Event::Tick, s(172))).is_empty());
    assert!(crash(&mut m, s(300))[0].0);
    // A server that was never crashing says nothing when it first becomes healthy.
    let mut fresh = Lifecycle::new(RestartPolicy::default());
    fresh.handle(Event::Start { clear: false }, s(0));
    fresh.handle(Event::Spawned { pid: 1 }, s(0));
    assert!(notices(fresh.handle(Event::HealthOk, s(1))).is_empty());
}

#[test]
fn an_admin_start_after_a_crash_loop_is_not_a_recovery_notice() {
    let mut m = Lifecycle::new(RestartPolicy::default());
    running(&mut m, s(0));
    m.handle(Event::Exited(exit(1)), s(10));
    m.handle(Event::Start { clear: false }, s(10));
    m.handle(Event::Spawned { pid: 3 }, s(10));
    assert!(notices(m.handle(Event::HealthOk, s(11))).is_empty());
}
