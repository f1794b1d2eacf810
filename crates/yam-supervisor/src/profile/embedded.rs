//! The built-in server's plan: yam-server with YAM's flags, our data folder, a fresh control
//! token, sessions in a folder or Redis.

use crate::settings::Settings;

use super::{
    Capabilities, LaunchPlan, Paths, Seat, StopMethod, embedded_sessions_dir, flag_env,
    redis_source,
};

pub(super) fn plan(
    settings: &Settings,
    paths: &Paths,
    control_token: &str,
    clear: bool,
    at: Seat,
) -> LaunchPlan {
    let sessions = embedded_sessions_dir(settings, paths);
    let redis = redis_source(settings);
    let mut args = vec![
        "--host".into(),
        at.host,
        "--port".into(),
        at.port,
        "--mode".into(),
        "web".into(),
        "--data-dir".into(),
        paths.data_dir.display().to_string(),
    ];
    let mut env = flag_env(settings);
    match &redis {
        // The address may hold Redis' password: it goes in the environment (owner-only in
        // /proc), never on the command line, which every user sees in `ps` and which the
        // supervisor's "Starting server" log line repeats.
        Some(r) => {
            env.push(("YAM_STORE".into(), r.url.clone()));
            args.extend(["--store-prefix".into(), r.prefix.clone()]);
        }
        None => args.extend(["--sessions-dir".into(), sessions.display().to_string()]),
    }
    args.extend([
        "--on-restart".into(),
        if clear { "clear" } else { "keep" }.into(),
    ]);
    if settings.multiple_sessions {
        args.push("--allow-multiple-sessions".into());
    }
    if settings.debug {
        args.push("--debug".into());
    }
    env.push(("YAM_CONTROL_TOKEN".into(), control_token.into()));
    LaunchPlan {
        program: paths.server_bin.clone(),
        args,
        env,
        cwd: paths.data_dir.clone(),
        binding: at.binding,
        api_url: at.api_url,
        health_url: at.health,
        sessions_dirs: if redis.is_some() {
            Vec::new()
        } else {
            vec![sessions]
        },
        sessions_redis: redis,
        sessions_at_door: None,
        session_ids_at_door: None,
        markers_dir: paths.data_dir.clone(),
        stop: StopMethod::AdminApi,
        capabilities: Capabilities {
            health: true,
            live_counts: true,
            list_sessions: true,
            revoke_session: true,
            force_logout: true,
            toggle_multiple_sessions: true,
            graceful_stop: StopMethod::AdminApi,
            notes: Vec::new(),
        },
    }
}
