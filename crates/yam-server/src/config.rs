//! How flags, environment variables and marker files combine into the session settings.
//! Pure, so every combination is unit-tested.

use yam_sessions::SessionMode;

/// Everything that can switch the session modes on.
#[derive(Clone, Debug, Default)]
pub struct ModeInputs {
    pub flag_allow_multiple: bool,
    pub env_allow_multiple: Option<String>,
    pub env_conflict_resolution: Option<String>,
    pub marker_multiple: bool,
    pub marker_conflict_resolution: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSettings {
    pub mode: SessionMode,
    pub conflict_resolution: bool,
    /// What turned each mode on, for the startup log.
    pub reasons: Vec<&'static str>,
}

/// `1`, `true`, `yes`, `on` (any case) are on; anything else, including empty, is off.
pub fn env_truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

pub fn resolve_session_settings(inputs: &ModeInputs) -> SessionSettings {
    let mut reasons = Vec::new();
    let env_multiple = env_truthy(inputs.env_allow_multiple.as_deref());
    let env_conflict = env_truthy(inputs.env_conflict_resolution.as_deref());
    if inputs.flag_allow_multiple {
        reasons.push("--allow-multiple-sessions");
    }
    if env_multiple {
        reasons.push("YAM_ALLOW_MULTIPLE_SESSIONS");
    }
    if inputs.marker_multiple {
        reasons.push("multiple_sessions_allowed.txt");
    }
    let multiple = inputs.flag_allow_multiple || env_multiple || inputs.marker_multiple;
    if env_conflict {
        reasons.push("YAM_SESSION_CONFLICT_RESOLUTION");
    }
    if inputs.marker_conflict_resolution {
        reasons.push("session_conflict_resolution.txt");
    }
    // As in YAM, the flag turns conflict resolution on with multiple sessions.
    let conflict_resolution =
        inputs.flag_allow_multiple || env_conflict || inputs.marker_conflict_resolution;
    SessionSettings {
        mode: if multiple {
            SessionMode::Multiple
        } else {
            SessionMode::Single
        },
        conflict_resolution,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_single_without_resolution() {
        let s = resolve_session_settings(&ModeInputs::default());
        assert_eq!(s.mode, SessionMode::Single);
        assert!(!s.conflict_resolution);
    }

    #[test]
    fn flag_turns_both_on() {
        let s = resolve_session_settings(&ModeInputs {
            flag_allow_multiple: true,
            ..Default::default()
        });
        assert_eq!(
            (s.mode, s.conflict_resolution),
            (SessionMode::Multiple, true)
        );
    }

    #[test]
    fn env_and_markers_are_independent_switches() {
        let s = resolve_session_settings(&ModeInputs {
            env_allow_multiple: Some("1".into()),
            ..Default::default()
        });
        assert_eq!(
            (s.mode, s.conflict_resolution),
            (SessionMode::Multiple, false)
        );
        let s = resolve_session_settings(&ModeInputs {
            env_conflict_resolution: Some("TRUE".into()),
            marker_multiple: true,
            ..Default::default()
        });
        assert_eq!(
            (s.mode, s.conflict_resolution),
            (SessionMode::Multiple, true)
        );
        let s = resolve_session_settings(&ModeInputs {
            env_allow_multiple: Some("0".into()),
            marker_conflict_resolution: true,
            ..Default::default()
        });
        assert_eq!((s.mode, s.conflict_resolution), (SessionMode::Single, true));
    }

    #[test]
    fn truthy_values() {
        for on in ["1", "true", "Yes", " on "] {
            assert!(env_truthy(Some(on)), "{on}");
        }
        for off in ["", "0", "false", "no", "2"] {
            assert!(!env_truthy(Some(off)), "{off}");
        }
        assert!(!env_truthy(None));
    }
}
