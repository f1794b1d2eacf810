//! What the door reads of the sessions passing it: a signed-cookie YAM's sign-ins (the door is
//! their only source), or a Flask-Session YAM's session ids (beside its folder or Redis).

use std::sync::Arc;

use axum::http::HeaderMap;

use super::server_side::{ServerSideSessions, SidPending};
use super::sessions::{DoorSessions, Pending};
use crate::signins::Client;

#[derive(Clone)]
pub enum AtDoor {
    Signed(Arc<DoorSessions>),
    ServerSide(Arc<ServerSideSessions>),
}

/// What the door noted about a request, for its answer.
pub enum Noted {
    Signed(Pending),
    ServerSide(SidPending),
}

impl AtDoor {
    pub fn on_request(&self, headers: &mut HeaderMap, client: Client) -> Noted {
        match self {
            AtDoor::Signed(s) => Noted::Signed(s.on_request(headers, client)),
            AtDoor::ServerSide(s) => Noted::ServerSide(s.on_request(headers, client)),
        }
    }

    pub fn on_answer(&self, noted: Noted, headers: &mut HeaderMap) {
        match (self, noted) {
            (AtDoor::Signed(s), Noted::Signed(p)) => s.on_answer(p, headers),
            (AtDoor::ServerSide(s), Noted::ServerSide(p)) => s.on_answer(p, headers),
            // The view changed while the request was under way: the new one never saw it.
            (AtDoor::Signed(_) | AtDoor::ServerSide(_), _) => {}
        }
    }
}
