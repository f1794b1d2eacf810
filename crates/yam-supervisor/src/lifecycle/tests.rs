use std::time::Duration;

use super::*;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn exit(code: i32) -> ExitInfo {
    ExitInfo {
        code: Some(code),
        signal: None,
        description: format!("exit code {code}"),
    }
}

fn overlap() -> Lifecycle {
    Lifecycle::new(RestartPolicy::default(), Switch::Overlap)
}

fn stop_first() -> Lifecycle {
    Lifecycle::new(RestartPolicy::default(), Switch::StopFirst)
}

/// Spawns and makes healthy generation `server` (pid 100 + server), at `now`.
fn comes_up(m: &mut Lifecycle, server: u64, now: Duration) -> Vec<Action> {
    assert!(
        m.handle(
            Event::Spawned {
                server: Gen(server),
                pid: 100 + server as u32
            },
            now
        )
        .is_empty()
    );
    m.handle(
        Event::HealthOk {
            server: Gen(server),
        },
        now,
    )
}

fn running(m: &mut Lifecycle, now: Duration) {
    assert_eq!(
        m.handle(Event::Start { clear: false }, now),
        vec![Action::Launch {
            server: Gen(1),
            clear: false
        }]
    );
    assert_eq!(m.phase(now), Phase::Starting);
    assert_eq!(m.route(), Route::Hold, "requests wait for the first server");
    comes_up(m, 1, now);
    assert_eq!(m.phase(now), Phase::Running);
    assert_eq!(m.route(), Route::To(Gen(1)));
}

fn notices(actions: &[Action]) -> Vec<(bool, Notice)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify(n) => Some((!n.is_repeat(), n.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn start_becomes_running_on_the_first_healthy_answer() {
    let mut m = overlap();
    m.handle(Event::Start { clear: true }, s(0));
    m.handle(
        Event::Spawned {
            server: Gen(1),
            pid: 7,
        },
        s(0),
    );
    m.handle(Event::HealthFailed { server: Gen(1) }, s(1));
    assert_eq!(
        m.phase(s(1)),
        Phase::Starting,
        "failures while starting are expected"
    );
    assert!(
        m.handle(Event::HealthOk { server: Gen(1) }, s(2))
            .is_empty()
    );
    assert_eq!((m.phase(s(2)), m.pid()), (Phase::Running, Some(7)));
    assert_eq!(m.uptime(s(12)), Some(s(10)));
    assert!(
        m.handle(Event::Start { clear: false }, s(3)).is_empty(),
        "already running"
    );
    assert_eq!((m.starts(), m.restarts()), (1, 0));
    assert_eq!(m.last_switch(), None, "a first start is not a switch");
}

#[test]
fn an_overlap_restart_keeps_the_old_server_serving_until_the_new_one_is_healthy() {
    let mut m = overlap();
    running(&mut m, s(0));
    assert_eq!(
        m.handle(Event::Restart { clear: false }, s(10)),
        vec![Action::Launch {
            server: Gen(2),
            clear: false
        }]
    );
    let restarting = Phase::Restarting {
        step: RestartStep::NewStartingOldServes,
    };
    assert_eq!(m.phase(s(10)), restarting);
    assert_eq!(
        m.route(),
        Route::To(Gen(1)),
        "the old one answers meanwhile"
    );
    m.handle(
        Event::Spawned {
            server: Gen(2),
            pid: 102,
        },
        ms(10_100),
    );
    m.handle(Event::HealthFailed { server: Gen(2) }, ms(10_200));
    // The old one's health does not move the new one, nor the other way round.
    m.handle(Event::HealthFailed { server: Gen(1) }, ms(10_200));
    assert_eq!(m.phase(ms(10_200)), restarting);
    assert_eq!(m.pid(), Some(101));
    assert_eq!(
        m.handle(Event::HealthOk { server: Gen(2) }, ms(11_500)),
        vec![Action::Retire {
            server: Gen(1),
            replaced: true
        }]
    );
    assert_eq!(m.route(), Route::To(Gen(2)));
    assert_eq!(
        (m.phase(ms(11_500)), m.pid()),
        (
            Phase::Restarting {
                step: RestartStep::HandingOver
            },
            Some(102)
        ),
        "until the old one takes no more connections"
    );
    assert!(
        m.handle(Event::Released { server: Gen(1) }, ms(11_510))
            .is_empty()
    );
    assert_eq!(m.phase(ms(11_510)), Phase::Running);
    assert_eq!(
        m.generations(),
        vec![
            GenView {
                generation: Gen(2),
                pid: Some(102),
                role: Role::Serving
            },
            GenView {
                generation: Gen(1),
                pid: Some(101),
                role: Role::Draining
            },
        ]
    );
    assert_eq!(
        m.last_switch(),
        Some(&SwitchReport {
            generation: Gen(2),
            took_ms: 1500,
            held: false,
            after_crash: false,
            at_ms: 11_500,
        })
    );
    // The old server leaving is not a crash and not "stopped".
    let gone = m.handle(
        Event::Exited {
            server: Gen(1),
            info: exit(0),
        },
        s(12),
    );
    assert_eq!(
        gone,
        vec![Action::Forget {
            server: Gen(1),
            last: false
        }]
    );
    assert_eq!(m.phase(s(12)), Phase::Running);
    assert_eq!((m.starts(), m.restarts()), (2, 1));
}

#[test]
fn a_stop_first_restart_holds_requests_while_the_old_one_stops_and_the_new_one_starts() {
    let mut m = stop_first();
    running(&mut m, s(0));
    assert_eq!(
        m.handle(Event::Restart { clear: true }, s(10)),
        vec![Action::Retire {
            server: Gen(1),
            replaced: true
        }]
    );
    assert_eq!(
        m.phase(s(10)),
        Phase::Restarting {
            step: RestartStep::OldStopping
        }
    );
    assert_eq!(m.route(), Route::Hold);
    // A second restart while waiting keeps the one start, and its clear flag.
    assert!(m.handle(Event::Restart { clear: false }, s(10)).is_empty());
    assert_eq!(
        m.handle(
            Event::Exited {
                server: Gen(1),
                info: exit(0)
            },
            s(11)
        ),
        vec![
            Action::Forget {
                server: Gen(1),
                last: false
            },
            Action::Launch {
                server: Gen(2),
                clear: true
            }
        ]
    );
    assert_eq!(
        m.phase(s(11)),
        Phase::Restarting {
            step: RestartStep::NewStartingHeld
        }
    );
    assert_eq!(m.route(), Route::Hold);
    comes_up(&mut m, 2, s(12));
    assert_eq!(m.route(), Route::To(Gen(2)));
    assert!(m.last_switch().is_some_and(|r| r.held && r.took_ms == 2000));
}

#[test]
fn a_new_server_that_never_comes_up_leaves_the_old_one_serving() {
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(Event::Restart { clear: false }, s(10));
    m.handle(
        Event::Spawned {
            server: Gen(2),
            pid: 102,
        },
        s(10),
    );
    let a = m.handle(
        Event::Exited {
            server: Gen(2),
            info: exit(2),
        },
        s(11),
    );
    assert_eq!(
        a[0],
        Action::Forget {
            server: Gen(2),
            last: false
        }
    );
    let [(true, Notice::SwitchFailed(why))] = &notices(&a)[..] else {
        panic!("{a:?}")
    };
    assert!(why.contains("exit code 2"), "{why}");
    assert_eq!(
        (m.phase(s(11)), m.route()),
        (Phase::Running, Route::To(Gen(1)))
    );
    // Too slow to start: killed, and the old one still serves.
    m.handle(Event::Restart { clear: false }, s(20));
    m.handle(
        Event::Spawned {
            server: Gen(3),
            pid: 103,
        },
        s(20),
    );
    assert!(m.handle(Event::Tick, s(49)).is_empty());
    assert_eq!(
        m.handle(Event::Tick, s(50)),
        vec![Action::KillTree { server: Gen(3) }]
    );
    assert!(m.handle(Event::Tick, s(51)).is_empty(), "kill once");
    assert!(
        m.handle(Event::HealthOk { server: Gen(3) }, s(51))
            .is_empty(),
        "too late"
    );
    let a = m.handle(
        Event::Exited {
            server: Gen(3),
            info: exit(137),
        },
        s(51),
    );
    let [(_, Notice::SwitchFailed(why))] = &notices(&a)[..] else {
        panic!("{a:?}")
    };
    assert!(why.contains("did not become healthy within 30 s"), "{why}");
    assert_eq!(m.route(), Route::To(Gen(1)));
}

#[test]
fn a_launch_that_fails_during_a_switch_leaves_the_old_one_serving() {
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(Event::Restart { clear: false }, s(1));
    let a = m.handle(
        Event::SpawnFailed {
            server: Gen(2),
            reason: "no such file".into(),
        },
        s(1),
    );
    assert_eq!(
        a,
        vec![Action::Notify(Notice::SwitchFailed("no such file".into()))]
    );
    assert_eq!(m.route(), Route::To(Gen(1)));
}

#[test]
fn restarting_again_while_the_new_one_starts_replaces_it_and_the_newest_wins() {
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(Event::Restart { clear: false }, s(1));
    m.handle(
        Event::Spawned {
            server: Gen(2),
            pid: 102,
        },
        s(1),
    );
    assert_eq!(
        m.handle(Event::Restart { clear: false }, s(2)),
        vec![
            Action::Retire {
                server: Gen(2),
                replaced: true
            },
            Action::Launch {
                server: Gen(3),
                clear: false
            }
        ]
    );
    assert_eq!(m.route(), Route::To(Gen(1)), "the first still serves");
    m.handle(
        Event::Exited {
            server: Gen(2),
            info: exit(0),
        },
        s(2),
    );
    assert_eq!(
        comes_up(&mut m, 3, s(3)),
        vec![Action::Retire {
            server: Gen(1),
            replaced: true
        }]
    );
}

#[test]
fn a_restart_before_the_launch_spawned_stops_that_process_when_it_appears() {
    let mut m = overlap();
    m.handle(Event::Start { clear: false }, s(0));
    assert_eq!(
        m.handle(Event::Restart { clear: false }, s(0)),
        vec![Action::Launch {
            server: Gen(2),
            clear: false
        }]
    );
    assert_eq!(
        m.handle(
            Event::Spawned {
                server: Gen(1),
                pid: 101
            },
            s(0)
        ),
        vec![Action::Retire {
            server: Gen(1),
            replaced: true
        }]
    );
    // A process nobody asked for is killed.
    assert_eq!(
        m.handle(
            Event::Spawned {
                server: Gen(9),
                pid: 109
            },
            s(0)
        ),
        vec![Action::KillTree { server: Gen(9) }]
    );
}

#[test]
fn the_old_server_crashing_during_a_switch_holds_requests_for_the_new_one() {
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(Event::Restart { clear: false }, s(1));
    let a = m.handle(
        Event::Exited {
            server: Gen(1),
            info: exit(1),
        },
        s(1),
    );
    assert_eq!(
        a,
        vec![
            Action::Forget {
                server: Gen(1),
                last: false
            },
            Action::Notify(Notice::OutgoingExited(exit(1)))
        ]
    );
    assert_eq!(m.route(), Route::Hold);
    comes_up(&mut m, 2, s(2));
    assert_eq!(m.route(), Route::To(Gen(2)));
}

#[test]
fn crashes_hold_requests_and_restart_with_growing_delays_never_clearing() {
    let mut m = overlap();
    running(&mut m, s(0));
    let a = m.handle(
        Event::Exited {
            server: Gen(1),
            info: exit(1),
        },
        s(10),
    );
    assert_eq!(
        a,
        vec![
            Action::Forget {
                server: Gen(1),
                last: false
            },
            Action::Notify(Notice::Crashed {
                info: exit(1),
                nth: 1
            })
        ]
    );
    assert_eq!(m.phase(s(10)), Phase::Crashed { retry_in_ms: 1000 });
    assert_eq!(m.route(), Route::Hold, "requests wait for the restart");
    assert_eq!(m.retry_at(), Some(s(11)));
    assert!(m.handle(Event::Tick, s(10)).is_empty());
    assert_eq!(
        m.handle(Event::Tick, s(11)),
        vec![Action::Launch {
            server: Gen(2),
            clear: false
        }]
    );
    assert_eq!((m.restarts(), m.retry_at()), (1, None));
    m.handle(
        Event::Spawned {
            server: Gen(2),
            pid: 8,
        },
        s(11),
    );
    m.handle(
        Event::Exited {
            server: Gen(2),
            info: exit(1),
        },
        s(12),
    );
    assert_eq!(m.phase(s(12)), Phase::Crashed { retry_in_ms: 2000 });
    m.handle(Event::Tick, s(14));
    comes_up(&mut m, 3, ms(14_500));
    assert!(
        m.last_switch()
            .is_some_and(|r| r.after_crash && r.held && r.took_ms == 2500),
        "{:?}",
        m.last_switch()
    );
}

#[test]
fn a_stable_run_resets_the_backoff() {
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(
        Event::Exited {
            server: Gen(1),
            info: exit(1),
        },
        s(5),
    );
    m.handle(Event::Tick, s(6));
    comes_up(&mut m, 2, s(7));
    m.handle(
        Event::Exited {
            server: Gen(2),
            info: exit(1),
        },
        s(8),
    );
    assert_eq!(m.phase(s(8)), Phase::Crashed { retry_in_ms: 2000 });
    m.handle(Event::Tick, s(10));
    comes_up(&mut m, 3, s(10));
    m.handle(
        Event::Exited {
            server: Gen(3),
            info: exit(1),
        },
        s(200),
    );
    assert_eq!(m.phase(s(200)), Phase::Crashed { retry_in_ms: 1000 });
}

#[test]
fn too_many_exits_in_the_window_is_a_crash_loop_and_closes_the_door() {
    let mut m = overlap();
    m.handle(Event::Start { clear: false }, s(0));
    let mut now = s(0);
    for server in 1..=5 {
        m.handle(
            Event::Spawned {
                server: Gen(server),
                pid: 100,
            },
            now,
        );
        let a = m.handle(
            Event::Exited {
                server: Gen(server),
                info: exit(3),
            },
            now,
        );
        if server == 5 {
            assert_eq!(notices(&a), vec![(true, Notice::CrashLoop(exit(3)))]);
            break;
        }
        now += s(20);
        assert_eq!(
            m.handle(Event::Tick, now),
            vec![Action::Launch {
                server: Gen(server + 1),
                clear: false
            }]
        );
    }
    assert_eq!((m.phase(now), m.route()), (Phase::CrashLoop, Route::Closed));
    assert!(
        m.handle(Event::Tick, now + s(600)).is_empty(),
        "no more automatic restarts"
    );
    assert_eq!(m.last_exit(), Some(&exit(3)));
    assert_eq!(
        m.handle(Event::Start { clear: false }, now + s(601)),
        vec![Action::Launch {
            server: Gen(6),
            clear: false
        }]
    );
}

#[test]
fn stop_retires_then_kills_after_the_drain_and_grace_and_writes_the_marker_once_gone() {
    let mut m = overlap();
    running(&mut m, s(0));
    assert_eq!(
        m.handle(Event::Stop, s(1)),
        vec![Action::Retire {
            server: Gen(1),
            replaced: false
        }]
    );
    assert_eq!((m.phase(s(1)), m.route()), (Phase::Stopping, Route::Closed));
    assert!(m.handle(Event::Tick, s(15)).is_empty());
    assert_eq!(
        m.handle(Event::Tick, s(16)),
        vec![Action::KillTree { server: Gen(1) }]
    );
    assert!(m.handle(Event::Tick, s(17)).is_empty(), "kill once");
    assert_eq!(
        m.handle(
            Event::Exited {
                server: Gen(1),
                info: exit(137)
            },
            s(17)
        ),
        vec![Action::Forget {
            server: Gen(1),
            last: true
        }]
    );
    assert_eq!((m.phase(s(17)), m.pid()), (Phase::Stopped, None));
    assert_eq!(m.restarts(), 0, "a stop is not a crash");
}

#[test]
fn stop_during_a_switch_retires_both_servers() {
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(Event::Restart { clear: false }, s(1));
    m.handle(
        Event::Spawned {
            server: Gen(2),
            pid: 102,
        },
        s(1),
    );
    let a = m.handle(Event::Stop, s(2));
    assert_eq!(
        a,
        vec![
            Action::Retire {
                server: Gen(2),
                replaced: false
            },
            Action::Retire {
                server: Gen(1),
                replaced: false
            }
        ]
    );
    assert_eq!(
        m.handle(
            Event::Exited {
                server: Gen(2),
                info: exit(0)
            },
            s(3)
        ),
        vec![Action::Forget {
            server: Gen(2),
            last: false
        }]
    );
    assert_eq!(
        m.handle(
            Event::Exited {
                server: Gen(1),
                info: exit(0)
            },
            s(3)
        ),
        vec![Action::Forget {
            server: Gen(1),
            last: true
        }]
    );
    assert_eq!(m.phase(s(3)), Phase::Stopped);
}

#[test]
fn start_while_stopping_overlaps_or_waits_by_the_switch() {
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(Event::Stop, s(1));
    assert_eq!(
        m.handle(Event::Start { clear: false }, s(1)),
        vec![Action::Launch {
            server: Gen(2),
            clear: false
        }]
    );
    let mut m = stop_first();
    running(&mut m, s(0));
    m.handle(Event::Stop, s(1));
    assert!(m.handle(Event::Start { clear: true }, s(1)).is_empty());
    let a = m.handle(
        Event::Exited {
            server: Gen(1),
            info: exit(0),
        },
        s(2),
    );
    assert_eq!(
        a,
        vec![
            Action::Forget {
                server: Gen(1),
                last: false
            },
            Action::Launch {
                server: Gen(2),
                clear: true
            }
        ]
    );
    // A stop while a stop-first restart waits cancels the start.
    let mut m = stop_first();
    running(&mut m, s(0));
    m.handle(Event::Restart { clear: false }, s(1));
    m.handle(Event::Stop, s(1));
    assert_eq!(
        m.handle(
            Event::Exited {
                server: Gen(1),
                info: exit(0)
            },
            s(2)
        ),
        vec![Action::Forget {
            server: Gen(1),
            last: true
        }]
    );
}

#[test]
fn unhealthy_after_failed_checks_and_recovers() {
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(Event::HealthFailed { server: Gen(1) }, s(1));
    m.handle(Event::HealthFailed { server: Gen(1) }, s(2));
    assert_eq!(m.phase(s(2)), Phase::Running);
    assert_eq!(
        m.handle(Event::HealthFailed { server: Gen(1) }, s(3)),
        vec![Action::Notify(Notice::Unhealthy)]
    );
    assert!(
        m.handle(Event::HealthFailed { server: Gen(1) }, s(4))
            .is_empty(),
        "said once"
    );
    assert_eq!(
        (m.phase(s(4)), m.route()),
        (Phase::Unhealthy, Route::To(Gen(1)))
    );
    assert_eq!(
        m.handle(Event::HealthOk { server: Gen(1) }, s(5)),
        vec![Action::Notify(Notice::Recovered {
            after_crashes: 0,
            repeat: false
        })]
    );
    assert_eq!(m.phase(s(5)), Phase::Running);
    // A gone generation's late answers change nothing.
    assert!(
        m.handle(Event::HealthFailed { server: Gen(7) }, s(6))
            .is_empty()
    );
    assert!(
        m.handle(
            Event::Exited {
                server: Gen(7),
                info: exit(1)
            },
            s(6)
        )
        .is_empty()
    );
    assert_eq!(m.phase(s(6)), Phase::Running);
}

#[test]
fn port_busy_and_spawn_failures_do_not_retry() {
    let mut m = overlap();
    m.handle(Event::Start { clear: false }, s(0));
    let a = m.handle(
        Event::PortBusy {
            server: Gen(1),
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
    assert_eq!(m.phase(s(0)).label(), "Port busy by python.exe (pid 9)");
    assert!(m.handle(Event::Tick, s(100)).is_empty());
    m.handle(Event::Start { clear: false }, s(101));
    m.handle(
        Event::SpawnFailed {
            server: Gen(2),
            reason: "no such file".into(),
        },
        s(101),
    );
    assert_eq!(
        (m.phase(s(101)), m.route()),
        (
            Phase::Failed {
                reason: "no such file".into()
            },
            Route::Closed
        )
    );
    m.handle(Event::Stop, s(102));
    assert_eq!(m.phase(s(102)), Phase::Stopped);
}

#[test]
fn a_crash_episode_is_news_once_and_back_healthy_once_until_stable_again() {
    let mut m = overlap();
    running(&mut m, s(0));
    let mut server = 1;
    let mut crash = |m: &mut Lifecycle, at: Duration| {
        let a = m.handle(
            Event::Exited {
                server: Gen(server),
                info: exit(1),
            },
            at,
        );
        server += 1;
        notices(&a)
    };
    let back = |m: &mut Lifecycle, server: u64, at: Duration| {
        m.handle(Event::Tick, at);
        notices(&comes_up(m, server, at))
    };
    let nth = |nth| Notice::Crashed { info: exit(1), nth };
    let recovered = |after_crashes, repeat| Notice::Recovered {
        after_crashes,
        repeat,
    };
    assert_eq!(crash(&mut m, s(100)), vec![(true, nth(1))]);
    assert_eq!(back(&mut m, 2, s(101)), vec![(true, recovered(1, false))]);
    // Flapping within the episode: updates, not news.
    assert_eq!(crash(&mut m, s(110)), vec![(false, nth(2))]);
    assert_eq!(back(&mut m, 3, s(112)), vec![(false, recovered(2, true))]);
    // Stable for a minute ends the episode: the next crash is news.
    assert!(notices(&m.handle(Event::Tick, s(172))).is_empty());
    assert!(crash(&mut m, s(300))[0].0);
    // An admin start after a crash is not a recovery notice.
    let mut m = overlap();
    running(&mut m, s(0));
    m.handle(
        Event::Exited {
            server: Gen(1),
            info: exit(1),
        },
        s(10),
    );
    m.handle(Event::Start { clear: false }, s(10));
    assert!(notices(&comes_up(&mut m, 2, s(11))).is_empty());
}
