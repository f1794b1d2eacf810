//! A custom command's plan: the command line as given (`{port}` replaced by the private port
//! behind the door), its health URL, a sessions folder when set; no YAM admin actions.

use std::path::PathBuf;

use crate::settings::Settings;

use super::{
    Binding, Capabilities, LaunchPlan, PORT_PLACEHOLDER, Paths, Seat, StopMethod, flag_env,
    split_command_line,
};

pub(super) fn plan(settings: &Settings, paths: &Paths, at: Seat) -> LaunchPlan {
    let command = settings.custom_command.clone().unwrap_or_default();
    let with_port = |text: &str| text.replace(PORT_PLACEHOLDER, &at.port);
    let mut words = split_command_line(&command)
        .into_iter()
        .map(|w| with_port(&w));
    let program = PathBuf::from(words.next().unwrap_or_default());
    let health_url = settings
        .custom_health_url
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(with_port);
    let sessions_dirs: Vec<PathBuf> = settings.sessions_dir.iter().cloned().collect();
    let mut notes = vec![
        "A custom server is started and stopped as given; YAM's admin actions are not available."
            .to_owned(),
    ];
    if health_url.is_none() {
        notes.push(
            "No health URL is set: the server counts as running while its process lives.".into(),
        );
    }
    if sessions_dirs.is_empty() {
        notes.push("No sessions folder is set: sessions cannot be counted.".into());
    }
    if at.binding == Binding::Public {
        notes.push(format!(
            "The command binds the port itself, so a restart closes it for a moment: write \
             {PORT_PLACEHOLDER} where the command takes its port and YAM Tray keeps the port open."
        ));
    }
    LaunchPlan {
        program,
        args: words.collect(),
        env: flag_env(settings),
        cwd: paths.data_dir.clone(),
        binding: at.binding,
        api_url: at.api_url,
        health_url: health_url.clone(),
        capabilities: Capabilities {
            health: health_url.is_some(),
            live_counts: !sessions_dirs.is_empty(),
            list_sessions: !sessions_dirs.is_empty(),
            revoke_session: false,
            force_logout: false,
            toggle_multiple_sessions: false,
            graceful_stop: StopMethod::Terminate,
            notes,
        },
        sessions_dirs,
        sessions_redis: None,
        sessions_at_door: None,
        session_ids_at_door: None,
        markers_dir: paths.data_dir.clone(),
        stop: StopMethod::Terminate,
    }
}
