use super::*;

fn paths() -> Paths {
    Paths {
        data_dir: PathBuf::from("/data"),
        server_bin: PathBuf::from("/app/yam-server"),
        yam: None,
    }
}

fn no_path(_: &str) -> Option<PathBuf> {
    None
}

#[test]
fn a_session_store_moves_counting_to_redis_in_the_layout_of_the_profile() {
    let s = Settings {
        session_store: Some("redis://:pw-42@db:6379/0".into()),
        ..Settings::default()
    };
    let p = plan(&s, &paths(), "tok", false, Binding::Public, no_path).expect("plan");
    let args = p.args.join(" ");
    // The address (and Redis' password in it) goes in the environment, never on the command
    // line that `ps` and the supervisor's log show.
    assert!(args.contains("--store-prefix yam:"), "{args}");
    assert!(
        !args.contains("pw-42") && !args.contains("--store "),
        "{args}"
    );
    assert!(
        p.env
            .iter()
            .any(|(k, v)| k == "YAM_STORE" && v == "redis://:pw-42@db:6379/0"),
        "{:?}",
        p.env.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    assert!(!args.contains("--sessions-dir"), "{args}");
    assert!(p.sessions_dirs.is_empty());
    assert_eq!(p.sessions_redis.map(|r| r.layout), Some(RedisLayout::Yam));

    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
    std::fs::write(dir.path().join("app/server.py"), "").expect("server.py");
    let python = Settings {
        profile: ProfileKind::Python,
        yam_dir: Some(dir.path().to_path_buf()),
        session_store: Some("redis://db:6379/1".into()),
        ..Settings::default()
    };
    let p = plan(&python, &paths(), "tok", false, Binding::Public, |_| {
        Some("python3".into())
    })
    .expect("plan");
    assert!(p.sessions_dirs.is_empty());
    let source = p.sessions_redis.expect("redis");
    assert_eq!(
        (source.layout, source.prefix.as_str()),
        (RedisLayout::Flask, "session:")
    );

    let mut wrong = Settings::default();
    assert!(wrong.set("session_store", "mysql://db").is_err());
    assert!(
        wrong.session_store.is_none(),
        "a refused value changes nothing"
    );
}

#[test]
fn embedded_plan_passes_flags_token_and_clear() {
    let s = Settings::default();
    let p = plan(&s, &paths(), "tok", true, Binding::Public, no_path).expect("plan");
    assert_eq!(p.program, PathBuf::from("/app/yam-server"));
    let args = p.args.join(" ");
    assert!(
        args.contains("--host 0.0.0.0 --port 5000 --mode web --data-dir /data"),
        "{args}"
    );
    assert!(args.contains("--on-restart clear"));
    assert!(args.contains("--allow-multiple-sessions"));
    assert!(p.env.contains(&("YAM_CONTROL_TOKEN".into(), "tok".into())));
    assert!(
        p.env
            .contains(&("YAM_ALLOW_MULTIPLE_SESSIONS".into(), "1".into()))
    );
    assert!(
        p.env
            .contains(&("YAM_SESSION_CONFLICT_RESOLUTION".into(), "1".into()))
    );
    assert_eq!(
        p.health_url.as_deref(),
        Some("http://127.0.0.1:5000/api/health")
    );
    assert_eq!(p.sessions_dirs, vec![PathBuf::from("/data/sessions")]);
    assert_eq!(p.stop, StopMethod::AdminApi);

    let single = Settings {
        multiple_sessions: false,
        host: "127.0.0.1".into(),
        ..Settings::default()
    };
    let p = plan(&single, &paths(), "tok", false, Binding::Public, no_path).expect("plan");
    assert!(p.args.join(" ").contains("--on-restart keep"));
    assert!(!p.args.iter().any(|a| a == "--allow-multiple-sessions"));
    assert!(!p.env.iter().any(|(k, _)| k.starts_with("YAM_ALLOW")));
}

#[test]
fn python_plan_prefers_the_venv_and_adds_no_reloader() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
    std::fs::write(dir.path().join("app/server.py"), "").expect("w");
    let s = Settings {
        profile: ProfileKind::Python,
        yam_dir: Some(dir.path().to_path_buf()),
        debug: true,
        ..Settings::default()
    };
    let on_path = |name: &str| Some(PathBuf::from(format!("/usr/bin/{name}")));
    let p = plan(&s, &paths(), "tok", false, Binding::Public, on_path).expect("plan");
    assert_eq!(p.program, PathBuf::from("/usr/bin/python3"));
    assert_eq!(
        p.args.join(" "),
        "app/server.py --host 0.0.0.0 --port 5000 --mode web --no-reloader --debug --allow-multiple-sessions"
    );
    assert!(p.env.contains(&("PYTHONUNBUFFERED".into(), "1".into())));
    assert!(
        !p.env.iter().any(|(k, _)| k == "YAM_CONTROL_TOKEN"),
        "YAM does not know the token"
    );
    assert_eq!(p.cwd, dir.path());
    assert_eq!(p.markers_dir, dir.path());
    assert_eq!(p.sessions_dirs.len(), 3);

    let venv_bin = if cfg!(windows) {
        "venv/Scripts/python.exe"
    } else {
        "venv/bin/python3"
    };
    std::fs::create_dir_all(dir.path().join(venv_bin).parent().expect("parent")).expect("mkdir");
    std::fs::write(dir.path().join(venv_bin), "").expect("w");
    let p = plan(&s, &paths(), "tok", false, Binding::Public, on_path).expect("plan");
    assert_eq!(p.program, dir.path().join(venv_bin));
    assert_eq!(
        plan(&s, &paths(), "t", false, Binding::Public, no_path).map(|p| p.program),
        Ok(dir.path().join(venv_bin))
    );
    std::fs::remove_file(dir.path().join(venv_bin)).expect("rm");
    assert_eq!(
        plan(&s, &paths(), "t", false, Binding::Public, no_path),
        Err(PlanError::NoPython)
    );
}

#[test]
fn custom_plan_and_its_limits() {
    let s = Settings {
        profile: ProfileKind::Custom,
        custom_command: Some(r#"/opt/my server --flag "two words""#.into()),
        ..Settings::default()
    };
    let p = plan(&s, &paths(), "tok", false, Binding::Public, no_path).expect("plan");
    assert_eq!(p.program, PathBuf::from("/opt/my"));
    assert_eq!(p.args, vec!["server", "--flag", "two words"]);
    assert_eq!(p.health_url, None);
    assert!(!p.capabilities.force_logout && !p.capabilities.live_counts && !p.capabilities.health);
    assert!(
        p.capabilities
            .notes
            .iter()
            .any(|n| n.contains("No health URL"))
    );
}

#[test]
fn invalid_settings_are_refused() {
    let s = Settings {
        port: 0,
        ..Settings::default()
    };
    assert!(matches!(
        plan(&s, &paths(), "t", false, Binding::Public, no_path),
        Err(PlanError::Settings(_))
    ));
}

#[test]
fn hosts_for_connecting() {
    assert_eq!(connect_host("0.0.0.0"), "127.0.0.1");
    assert_eq!(connect_host("192.168.1.5"), "192.168.1.5");
    assert_eq!(connect_host("::1"), "[::1]");
}

#[test]
fn command_lines() {
    assert_eq!(
        split_command_line("  a  'b c' \"d\"e "),
        vec!["a", "b c", "de"]
    );
    assert_eq!(split_command_line("x ''"), vec!["x", ""]);
    assert!(split_command_line("   ").is_empty());
}

#[test]
fn each_binding_says_where_the_server_listens_and_where_it_is_reached() {
    let s = Settings::default();
    let handed = plan(
        &s,
        &paths(),
        "t",
        false,
        Binding::Handed { control_port: 4001 },
        no_path,
    )
    .expect("plan");
    let args = handed.args.join(" ");
    assert!(args.contains("--host 0.0.0.0 --port 5000"), "{args}");
    assert_eq!(handed.api_url, "http://127.0.0.1:4001");
    assert_eq!(
        handed.health_url.as_deref(),
        Some("http://127.0.0.1:4001/api/health")
    );

    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
    std::fs::write(dir.path().join("app/server.py"), "").expect("w");
    let python = Settings {
        profile: ProfileKind::Python,
        yam_dir: Some(dir.path().to_path_buf()),
        ..Settings::default()
    };
    let behind = plan(
        &python,
        &paths(),
        "t",
        false,
        Binding::Private { port: 4100 },
        |_| Some("python3".into()),
    )
    .expect("plan");
    assert!(
        behind
            .args
            .join(" ")
            .contains("--host 127.0.0.1 --port 4100")
    );
    assert_eq!(
        behind.health_url.as_deref(),
        Some("http://127.0.0.1:4100/api/health")
    );

    let custom = Settings {
        profile: ProfileKind::Custom,
        custom_command: Some("/opt/app --listen 127.0.0.1:{port}".into()),
        custom_health_url: Some("http://127.0.0.1:{port}/ok".into()),
        ..Settings::default()
    };
    assert_eq!(door_mode(&custom), Some(crate::door::DoorMode::Proxy));
    let p = plan(
        &custom,
        &paths(),
        "t",
        false,
        Binding::Private { port: 4200 },
        no_path,
    )
    .expect("plan");
    assert_eq!(p.args, vec!["--listen", "127.0.0.1:4200"]);
    assert_eq!(p.health_url.as_deref(), Some("http://127.0.0.1:4200/ok"));

    let fixed = Settings {
        custom_command: Some("/opt/app --port 9000".into()),
        ..custom.clone()
    };
    assert_eq!(
        door_mode(&fixed),
        None,
        "a fixed port binds the public address itself"
    );
    let direct = Settings {
        restart_mode: RestartMode::Direct,
        ..Settings::default()
    };
    assert_eq!(door_mode(&direct), None);
    assert_eq!(
        door_mode(&Settings::default()),
        Some(crate::door::DoorMode::Handover)
    );
}
