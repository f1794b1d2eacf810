//! What admins change about users (the admin API and the CLI). Every backend applies a change
//! with the rule that the last active admin can never be removed, disabled or demoted,
//! checked inside its write transaction, so two admins (or the CLI) acting at once cannot
//! both pass it.

/// A change to one user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserChange {
    /// `Some(None)` removes the email.
    pub email: Option<Option<String>>,
    pub is_admin: Option<bool>,
    pub is_active: Option<bool>,
    pub password_hash: Option<String>,
}

impl UserChange {
    /// Whether the user's sessions must end: a new password or a disabled account.
    pub fn ends_sessions(&self) -> bool {
        self.password_hash.is_some() || self.is_active == Some(false)
    }
}
