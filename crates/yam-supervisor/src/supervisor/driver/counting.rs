//! Where the driver counts sessions: a plan's folders or Redis, or — a YAM with signed-cookie
//! sessions — the door, whose sessions are kept while their cookie rules stay the same.

use std::sync::Arc;

use super::Driver;
use crate::counting::{Counting, Source};
use crate::door::{AtDoor, CookieRules, DoorSessions, ServerSideSessions, SidRules};
use crate::profile::{DoorCookies, LaunchPlan, SessionIdCookies};
use crate::readers::flask_cookie::Secrets;

impl Driver {
    /// Counts where `plan` keeps sessions (a new watcher when that changed); a signed-cookie
    /// YAM's are read at the door.
    pub(in crate::supervisor) fn watch_plan(&mut self, plan: &LaunchPlan) {
        let at_door = plan
            .sessions_at_door
            .as_ref()
            .map(|rules| self.door_sessions_for(rules));
        let sids = plan
            .session_ids_at_door
            .as_ref()
            .map(|rules| self.door_sids_for(rules));
        self.door_sids_active = sids.is_some();
        if let Some((_, door)) = &self.door {
            door.set_sessions(
                at_door
                    .clone()
                    .map(AtDoor::Signed)
                    .or(sids.map(AtDoor::ServerSide)),
            );
        }
        let source = match (&at_door, &plan.sessions_redis) {
            (Some(d), _) => Source::Door(d),
            (None, Some(r)) => Source::Redis(r),
            (None, None) => Source::Folders(&plan.sessions_dirs),
        };
        if self.watcher.watches(&source) {
            return;
        }
        self.watcher = Counting::start(source);
        self.counts_rx = self.watcher.counts();
    }

    /// The Flask-Session ids the door follows now, if it does.
    pub(in crate::supervisor) fn sids_at_door(&self) -> Option<Arc<ServerSideSessions>> {
        self.door_sids
            .as_ref()
            .filter(|_| self.door_sids_active)
            .map(|(_, s)| Arc::clone(s))
    }

    /// The door's view of a Flask-Session YAM for `rules`: the same while they stay (a new
    /// lifetime is applied in place).
    fn door_sids_for(&mut self, rules: &SessionIdCookies) -> Arc<ServerSideSessions> {
        let lifetime_ms = rules.lifetime_hours * 3_600_000;
        let same_rules = |kept: &SessionIdCookies| {
            let kept = SessionIdCookies {
                lifetime_hours: rules.lifetime_hours,
                ..kept.clone()
            };
            kept == *rules
        };
        if let Some((kept, s)) = &self.door_sids
            && same_rules(kept)
        {
            s.set_lifetime(lifetime_ms);
            return Arc::clone(s);
        }
        let (s, warning) = ServerSideSessions::open(SidRules {
            session: rules.session_cookie.clone(),
            remember: rules.remember_cookie.clone(),
            key_prefix: rules.key_prefix.clone(),
            lifetime_ms,
            state_file: self.opts.data_dir.join(crate::door::SIGHTINGS_FILE),
        });
        self.warnings.extend(warning);
        let s = Arc::new(s);
        self.door_sids = Some((rules.clone(), Arc::clone(&s)));
        s
    }

    /// The door's sessions for `rules`: the same ones while the rules stay (a new lifetime is
    /// applied in place), new ones when they change.
    fn door_sessions_for(&mut self, rules: &DoorCookies) -> Arc<DoorSessions> {
        let lifetime_ms = rules.lifetime_hours * 3_600_000;
        let same_rules = |kept: &DoorCookies| {
            let kept = DoorCookies {
                lifetime_hours: rules.lifetime_hours,
                ..kept.clone()
            };
            kept == *rules
        };
        if let Some((kept, ds)) = &self.door_sessions
            && same_rules(kept)
        {
            ds.set_lifetime(lifetime_ms);
            return Arc::clone(ds);
        }
        let secrets = (!rules.secrets.is_empty())
            .then(|| Secrets::new(rules.secrets.iter().map(String::as_str)));
        let (ds, warning) = DoorSessions::open(CookieRules {
            session: rules.session_cookie.clone(),
            remember: rules.remember_cookie.clone(),
            id_fields: rules.id_fields.clone(),
            name_field: rules.name_field.clone(),
            secrets,
            lifetime_ms,
            state_file: self.opts.data_dir.join(crate::door::SESSIONS_FILE),
        });
        self.warnings.extend(warning);
        self.door_sessions = Some((rules.clone(), Arc::clone(&ds)));
        ds
    }
}
