//! The embedded server's users, as its admin API (`/api/admin/users`) gives and takes them:
//! the one vocabulary the control API, the tray's commands and the UI share.

use serde::{Deserialize, Deserializer, Serialize};

/// A user as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub username: String,
    pub email: Option<String>,
    pub admin: bool,
    pub disabled: bool,
    pub live_sessions: usize,
    pub created_at: String,
    pub last_login: Option<String>,
}

/// A user to add: the password is typed, or generated (and returned once) when absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// A change to a user; absent fields stay as they are, `"email": null` removes the email.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generate_password: bool,
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// Tells an absent field (`None`, by `default`) from an explicit `null` (`Some(None)`).
fn explicit_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// What a change did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserChanged {
    #[serde(default)]
    pub user: Option<UserView>,
    /// A generated password, shown once.
    #[serde(default)]
    pub generated_password: Option<String>,
    #[serde(default)]
    pub sessions_ended: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_tells_absent_from_null_both_ways() {
        let absent: UserPatch = serde_json::from_str(r#"{"admin": true}"#).expect("json");
        assert_eq!(absent.email, None);
        let null: UserPatch = serde_json::from_str(r#"{"email": null}"#).expect("json");
        assert_eq!(null.email, Some(None));
        assert_eq!(
            serde_json::to_string(&null).expect("json"),
            r#"{"email":null}"#
        );
        assert_eq!(
            serde_json::to_string(&absent).expect("json"),
            r#"{"admin":true}"#
        );
        assert!(serde_json::from_str::<UserPatch>(r#"{"role": "x"}"#).is_err());
    }
}
