//! Errors the window receives: the same shape as the control API's (`kind`, `message`, and
//! `errors` per settings field), so `ui/js/transport.js` handles both alike.

use serde::Serialize;
use yam_supervisor::settings::SettingError;
use yam_supervisor::supervisor::ActionError;

#[derive(Debug, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrayError {
    #[error("{message}")]
    Action { message: String },
    #[error("some settings need attention")]
    Settings {
        message: String,
        errors: Vec<SettingError>,
    },
    #[error("{message}")]
    Shell { message: String },
    #[error("the supervisor is not running yet")]
    NotReady { message: String },
}

impl From<ActionError> for TrayError {
    fn from(e: ActionError) -> Self {
        TrayError::Action {
            message: e.to_string(),
        }
    }
}

impl From<Vec<SettingError>> for TrayError {
    fn from(errors: Vec<SettingError>) -> Self {
        TrayError::Settings {
            message: errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            errors,
        }
    }
}

impl TrayError {
    pub fn shell(what: &str, e: impl std::fmt::Display) -> Self {
        TrayError::Shell {
            message: format!("could not {what}: {e}"),
        }
    }

    pub fn not_ready() -> Self {
        TrayError::NotReady {
            message: "The supervisor is still starting; try again in a moment.".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_like_the_control_api() {
        let e = TrayError::from(ActionError::NotSupported("no".into()));
        assert_eq!(
            serde_json::to_value(&e).expect("json"),
            serde_json::json!({ "kind": "action", "message": "no" })
        );
        let e = TrayError::from(vec![SettingError {
            field: "port".into(),
            message: "bad".into(),
        }]);
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["errors"][0]["field"], "port");
        assert_eq!(v["message"], "port: bad");
    }
}
