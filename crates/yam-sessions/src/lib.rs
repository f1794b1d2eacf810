//! YAM's session engine: ids, records, policy, storage and the session manager.
//! It knows nothing about HTTP.

pub mod id;
pub mod manager;
pub mod markers;
pub mod policy;
pub mod private;
pub mod record;
pub mod store;
pub mod time;
pub mod words;

pub use id::{SessionId, SessionKey};
pub use manager::{
    AuthOutcome, Authenticated, DirectoryUnavailable, EndReason, Login, ManagerSettings,
    SessionManager, UserDirectory, UserInfo,
};
pub use policy::{Access, Renewal, SessionPolicy};
pub use record::{ClientInfo, Damage, DamageKind, SessionMode, SessionRecord, UserId};
pub use store::{
    FileStore, Loaded, MemoryStore, Quarantined, RecordSeal, RedisStore, Saved, ScanReport,
    SessionCounts, SessionStore, SessionSummary, StoreError,
};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
