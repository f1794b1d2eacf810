//! What admins change about users (the admin API and the CLI). Every backend applies a change
//! with the rule that the last active admin can never be removed, disabled or demoted,
//! checked inside its write transaction, so two admins (or the CLI) acting at once cannot
//! both pass it.

use super::UserRow;

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
    /// The user as this change leaves it: what every backend writes.
    pub fn applied_to(&self, user: &UserRow) -> UserRow {
        let mut next = user.clone();
        if let Some(email) = &self.email {
            next.email = email.clone();
        }
        next.info.is_admin = self.is_admin.unwrap_or(user.info.is_admin);
        next.info.is_active = self.is_active.unwrap_or(user.info.is_active);
        if let Some(hash) = &self.password_hash {
            next.password_hash = hash.clone();
        }
        next
    }

    /// Whether the user's sessions must end: a new password or a disabled account.
    pub fn ends_sessions(&self) -> bool {
        self.password_hash.is_some() || self.is_active == Some(false)
    }
}
