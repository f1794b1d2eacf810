//! Supervisor settings: a versioned TOML file in the config folder. A corrupt or newer file
//! is backed up and replaced by defaults with a warning, never a crash.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const SETTINGS_VERSION: u32 = 1;
/// How a set secret is shown.
pub const SECRET_SET: &str = "(set)";
pub const SETTINGS_FILE: &str = "settings.toml";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileKind {
    /// The yam-server binary shipped beside the app.
    Embedded,
    /// The original Python YAM (`python app/server.py …` in a YAM folder).
    Python,
    /// Any command line.
    Custom,
}

impl ProfileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileKind::Embedded => "embedded",
            ProfileKind::Python => "python",
            ProfileKind::Custom => "custom",
        }
    }
}

/// How a restart (the admin's, a settings change's, a crash recovery's) replaces the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartMode {
    /// The supervisor keeps the port; the new server starts beside the old one, which
    /// answers until the new one is ready. Nobody notices.
    #[default]
    Overlap,
    /// The supervisor keeps the port; the old server stops first and requests wait (a few
    /// seconds) until the new one is ready. For a server that must never run twice.
    Hold,
    /// The old way: stop, then start; the port is closed in between and connections are
    /// refused. For comparison and troubleshooting.
    Direct,
}

impl RestartMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RestartMode::Overlap => "overlap",
            RestartMode::Hold => "hold",
            RestartMode::Direct => "direct",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub version: u32,
    pub profile: ProfileKind,
    /// Python profile: the YAM folder (holding `app/server.py`).
    pub yam_dir: Option<PathBuf>,
    /// Python profile: interpreter when the YAM folder has no venv.
    pub python: Option<PathBuf>,
    /// Custom profile: the command line.
    pub custom_command: Option<String>,
    /// Custom profile: URL that answers 200 when the server is healthy.
    pub custom_health_url: Option<String>,
    /// `0.0.0.0` (as server.bat) serves the LAN; `127.0.0.1` is "only this computer".
    pub host: String,
    pub port: u16,
    /// Also turns conflict resolution on, as YAM's flag does.
    pub multiple_sessions: bool,
    /// Advanced: conflict resolution on its own.
    pub conflict_resolution: bool,
    pub debug: bool,
    /// server.bat parity: log everyone out whenever the admin starts or restarts the server.
    pub clear_sessions_on_restart: bool,
    /// How restarts replace the server (see `RestartMode`).
    pub restart_mode: RestartMode,
    /// Where sessions live; default: the data folder's `sessions` (embedded).
    pub sessions_dir: Option<PathBuf>,
    /// Sessions in Redis instead of a folder: the built-in server stores them there
    /// (`--store`), and a Python YAM with Flask-Session's Redis backend is counted there.
    pub session_store: Option<String>,
    /// Key prefix in that Redis; default `yam:` (built-in server) or `session:` (Flask-Session).
    pub session_key_prefix: Option<String>,
    /// Python profile, signed-cookie sessions: YAM's `SECRET_KEY`, when its sources do not
    /// have it (it checks the cookies the door reads). Never shown.
    pub yam_secret_key: Option<String>,
    /// YAM's session cookie; default: what its sources set (`SESSION_COOKIE_NAME`), else
    /// Flask's `session`.
    pub session_cookie_name: Option<String>,
    /// Flask-Login's remember cookie; default `remember_token`.
    pub remember_cookie_name: Option<String>,
    /// The session fields that name the user's id, first found wins; default
    /// `_user_id,user_id` (Flask-Login's, then YAM's).
    pub session_user_fields: Option<String>,
    /// The session field with the user's name; default `username`.
    pub session_name_field: Option<String>,
    /// Start the server when the app or `yamctl up` starts.
    pub start_on_launch: bool,
    /// Start the app at login (tray only).
    pub autostart: bool,
    /// The first-start choice (built-in server or an existing YAM folder) was made.
    pub setup_done: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            version: SETTINGS_VERSION,
            profile: ProfileKind::Embedded,
            yam_dir: None,
            python: None,
            custom_command: None,
            custom_health_url: None,
            host: "0.0.0.0".into(),
            port: 5000,
            multiple_sessions: true,
            conflict_resolution: false,
            debug: false,
            clear_sessions_on_restart: false,
            restart_mode: RestartMode::Overlap,
            sessions_dir: None,
            session_store: None,
            session_key_prefix: None,
            yam_secret_key: None,
            session_cookie_name: None,
            remember_cookie_name: None,
            session_user_fields: None,
            session_name_field: None,
            start_on_launch: true,
            autostart: false,
            setup_done: false,
        }
    }
}

/// Settings that decide which program the supervisor runs, or where it deletes files: only
/// the owner (control token, tray, `yamctl` on this account) may change them, never a
/// dashboard cookie alone.
pub const OWNER_ONLY_KEYS: [&str; 9] = [
    "profile",
    "yam_dir",
    "python",
    "custom_command",
    "custom_health_url",
    "sessions_dir",
    "session_store",
    "session_key_prefix",
    "yam_secret_key",
];

/// A setting that cannot be used, with the field it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> SettingError {
    SettingError {
        field: field.into(),
        message: message.into(),
    }
}

impl Settings {
    pub fn conflict_resolution_effective(&self) -> bool {
        self.multiple_sessions || self.conflict_resolution
    }

    /// Every problem, so a form can show each next to its field.
    pub fn validate(&self) -> Vec<SettingError> {
        let mut errors = Vec::new();
        if self.host != "localhost" && self.host.parse::<IpAddr>().is_err() {
            errors.push(err(
                "host",
                "use an IP address such as 0.0.0.0 (LAN) or 127.0.0.1 (only this computer)",
            ));
        }
        if self.port == 0 {
            errors.push(err("port", "choose a port between 1 and 65535"));
        }
        if let Some(store) = &self.session_store {
            let scheme = store.split("://").next().unwrap_or("");
            if !store.contains("://") || !matches!(scheme, "redis" | "redis+unix") {
                errors.push(err(
                    "session_store",
                    "use a Redis address such as redis://127.0.0.1:6379/0 (TLS, rediss://, is not built in), or leave it empty for the sessions folder",
                ));
            } else if self.profile == ProfileKind::Custom {
                errors.push(err(
                    "session_store",
                    "a custom server's sessions can be counted from a folder only",
                ));
            }
        }
        if let Some(prefix) = &self.session_key_prefix
            && prefix.contains(char::is_whitespace)
        {
            errors.push(err("session_key_prefix", "a key prefix has no spaces"));
        }
        for (field, name) in [
            ("session_cookie_name", &self.session_cookie_name),
            ("remember_cookie_name", &self.remember_cookie_name),
            ("session_name_field", &self.session_name_field),
        ] {
            if let Some(n) = name
                && (n.len() > 64
                    || !n
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)))
            {
                errors.push(err(field, "letters, digits, '_', '-' or '.', at most 64"));
            }
        }
        if let Some(fields) = &self.session_user_fields
            && (fields.len() > 256
                || !fields
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-., ".contains(&b)))
        {
            errors.push(err(
                "session_user_fields",
                "field names separated by commas, such as _user_id,user_id",
            ));
        }

        match self.profile {
            ProfileKind::Embedded => {}
            ProfileKind::Python => match &self.yam_dir {
                None => errors.push(err(
                    "yam_dir",
                    "choose the YAM folder (the one holding app/server.py)",
                )),
                Some(dir) if !dir.join("app").join("server.py").is_file() => errors.push(err(
                    "yam_dir",
                    format!("{} has no app/server.py", dir.display()),
                )),
                Some(_) => {}
            },
            ProfileKind::Custom => {
                if self
                    .custom_command
                    .as_deref()
                    .is_none_or(|c| c.trim().is_empty())
                {
                    errors.push(err(
                        "custom_command",
                        "enter the command that starts the server",
                    ));
                }
                if let Some(url) = &self.custom_health_url
                    && !url.is_empty()
                    && !url.starts_with("http://")
                    && !url.starts_with("https://")
                {
                    errors.push(err("custom_health_url", "use an http:// URL"));
                }
            }
        }
        errors
    }

    /// Applies one `key = value` change from text (`yamctl set`, the settings form).
    /// Nothing changes when the value is refused.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        let mut next = self.clone();
        next.apply(key, value)?;
        if let Some(e) = next.validate().into_iter().find(|e| e.field == key) {
            return Err(e);
        }
        *self = next;
        Ok(())
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        let v = value.trim();
        let path = |v: &str| (!v.is_empty()).then(|| PathBuf::from(v));
        let text = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        match key {
            "profile" => {
                self.profile = match v {
                    "embedded" => ProfileKind::Embedded,
                    "python" => ProfileKind::Python,
                    "custom" => ProfileKind::Custom,
                    _ => return Err(err(key, "use embedded, python or custom")),
                }
            }
            "yam_dir" => self.yam_dir = path(v),
            "python" => self.python = path(v),
            "custom_command" => self.custom_command = text(v),
            "custom_health_url" => self.custom_health_url = text(v),
            "host" => self.host = v.to_owned(),
            "port" => {
                self.port = v
                    .parse()
                    .map_err(|_| err(key, "use a number between 1 and 65535"))?
            }
            "multiple_sessions" => self.multiple_sessions = parse_bool(key, v)?,
            "conflict_resolution" => self.conflict_resolution = parse_bool(key, v)?,
            "debug" => self.debug = parse_bool(key, v)?,
            "clear_sessions_on_restart" => self.clear_sessions_on_restart = parse_bool(key, v)?,
            "restart_mode" => {
                self.restart_mode = match v {
                    "overlap" => RestartMode::Overlap,
                    "hold" => RestartMode::Hold,
                    "direct" => RestartMode::Direct,
                    _ => return Err(err(key, "use overlap, hold or direct")),
                }
            }
            "sessions_dir" => self.sessions_dir = path(v),
            // A form sends back what it was shown: the masked address means "unchanged".
            "session_store"
                if self
                    .session_store
                    .as_deref()
                    .is_some_and(|real| yam_sessions::store::redact(real) == v) => {}
            "session_store" => self.session_store = text(v),
            "session_key_prefix" => self.session_key_prefix = text(v),
            "yam_secret_key" if v == SECRET_SET => {}
            "yam_secret_key" => self.yam_secret_key = text(v),
            "session_cookie_name" => self.session_cookie_name = text(v),
            "remember_cookie_name" => self.remember_cookie_name = text(v),
            "session_user_fields" => self.session_user_fields = text(v),
            "session_name_field" => self.session_name_field = text(v),
            "start_on_launch" => self.start_on_launch = parse_bool(key, v)?,
            "autostart" => self.autostart = parse_bool(key, v)?,
            "setup_done" => self.setup_done = parse_bool(key, v)?,
            _ => return Err(err(key, "unknown setting")),
        }
        Ok(())
    }

    /// Applies several changes (from a form or JSON object); all problems are reported and
    /// nothing changes unless every value is accepted.
    pub fn with_changes<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Result<Settings, Vec<SettingError>> {
        let (next, errors) = self.apply_changes(changes);
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(errors)
        }
    }

    /// The settings with every value that could be read applied, and every problem (values
    /// that could not be read, then what the result fails to validate).
    pub fn apply_changes<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a str, String)>,
    ) -> (Settings, Vec<SettingError>) {
        let mut next = self.clone();
        let mut errors = Vec::new();
        for (key, value) in changes {
            if key == "version" {
                continue;
            }
            if let Err(e) = next.apply(key, &value) {
                errors.push(e);
            }
        }
        for e in next.validate() {
            if !errors.iter().any(|x| x.field == e.field) {
                errors.push(e);
            }
        }
        (next, errors)
    }

    /// The owner-only settings (`OWNER_ONLY_KEYS`) whose values differ in `next`.
    pub fn owner_only_differences(&self, next: &Settings) -> Vec<&'static str> {
        let differs = [
            self.profile != next.profile,
            self.yam_dir != next.yam_dir,
            self.python != next.python,
            self.custom_command != next.custom_command,
            self.custom_health_url != next.custom_health_url,
            self.sessions_dir != next.sessions_dir,
            self.session_store != next.session_store,
            self.session_key_prefix != next.session_key_prefix,
            self.yam_secret_key != next.yam_secret_key,
        ];
        OWNER_ONLY_KEYS
            .into_iter()
            .zip(differs)
            .filter_map(|(key, changed)| changed.then_some(key))
            .collect()
    }

    /// As shown to a window or a dashboard: secrets out (YAM's secret key as "(set)", a Redis
    /// password masked).
    pub fn redacted(&self) -> Settings {
        let mut shown = self.clone();
        if shown.yam_secret_key.is_some() {
            shown.yam_secret_key = Some(SECRET_SET.into());
        }
        shown.session_store = shown
            .session_store
            .as_deref()
            .map(yam_sessions::store::redact);
        shown
    }

    /// Whether a change needs a server restart to take effect.
    pub fn needs_restart(&self, before: &Settings) -> bool {
        let mut a = self.clone();
        let mut b = before.clone();
        for s in [&mut a, &mut b] {
            s.start_on_launch = false;
            s.autostart = false;
            s.setup_done = false;
            s.clear_sessions_on_restart = false;
            // Applies from the next restart.
            s.restart_mode = RestartMode::Overlap;
        }
        a != b
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, SettingError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(err(key, "use true or false")),
    }
}

/// Settings as loaded, with a warning when the file could not be used.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub warning: Option<String>,
}

pub fn load(dir: &Path) -> Loaded {
    let path = dir.join(SETTINGS_FILE);
    // A regular file of this user, at most 1 MB: never a link, a FIFO or /dev/zero.
    let text = match yam_sessions::private::read_owned(&path, 1024 * 1024, false) {
        Ok(t) => {
            // Written by an older version, or by hand: it may hold passwords.
            let _ = yam_sessions::private::restrict_to_owner(&path, 0o600);
            t
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded {
                settings: Settings::default(),
                warning: None,
            };
        }
        Err(e) => return backed_up(&path, &format!("could not be read ({e})")),
    };
    match toml::from_str::<Settings>(&text) {
        Ok(s) if s.version > SETTINGS_VERSION => backed_up(
            &path,
            &format!("was written by a newer version (format {})", s.version),
        ),
        Ok(s) => Loaded {
            settings: s,
            warning: None,
        },
        Err(e) => backed_up(&path, &format!("is not valid ({})", e.message())),
    }
}

fn backed_up(path: &Path, why: &str) -> Loaded {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let backup = path.with_extension(format!("toml.bad-{stamp}"));
    let kept = fs::rename(path, &backup).is_ok();
    let warning = format!(
        "The settings file {} {why}; defaults are in use{}.",
        path.display(),
        if kept {
            format!(" and the old file was kept as {}", backup.display())
        } else {
            String::new()
        }
    );
    tracing::warn!("{warning}");
    Loaded {
        settings: Settings::default(),
        warning: Some(warning),
    }
}

/// Owner-only (0600 in a 0700 folder): the file may hold a database password and YAM's
/// secret key.
pub fn save(dir: &Path, settings: &Settings) -> std::io::Result<()> {
    yam_sessions::private::private_dir(dir)?;
    let text = toml::to_string_pretty(settings).map_err(std::io::Error::other)?;
    yam_sessions::private::write_private(&dir.join(SETTINGS_FILE), &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_server_bat() {
        let s = Settings::default();
        assert_eq!((s.host.as_str(), s.port), ("0.0.0.0", 5000));
        assert!(s.multiple_sessions && s.conflict_resolution_effective());
        assert!(!s.clear_sessions_on_restart);
        assert!(s.validate().is_empty());
    }

    #[test]
    fn round_trip_and_corrupt_files() {
        let dir = tempfile::tempdir().expect("tmp");
        assert_eq!(load(dir.path()).settings, Settings::default());
        let mut s = Settings::default();
        s.set("port", "5050").expect("port");
        s.set("multiple_sessions", "off").expect("bool");
        save(dir.path(), &s).expect("save");
        let loaded = load(dir.path());
        assert_eq!((loaded.settings, loaded.warning), (s, None));

        fs::write(dir.path().join(SETTINGS_FILE), "port = [nonsense").expect("w");
        let loaded = load(dir.path());
        assert_eq!(loaded.settings, Settings::default());
        assert!(loaded.warning.expect("warning").contains("is not valid"));
        let backups = fs::read_dir(dir.path()).expect("ls").filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().contains(".bad-"))
        });
        assert_eq!(backups.count(), 1);

        fs::write(dir.path().join(SETTINGS_FILE), "version = 99\n").expect("w");
        assert!(
            load(dir.path())
                .warning
                .expect("w")
                .contains("newer version")
        );
    }

    #[test]
    fn set_validates_each_field() {
        let mut s = Settings::default();
        assert_eq!(s.set("port", "0").expect_err("0").field, "port");
        assert!(s.set("port", "70000").is_err());
        assert!(s.set("host", "not an ip").is_err());
        assert!(s.set("multiple_sessions", "maybe").is_err());
        assert!(s.set("colour", "blue").is_err());
        assert_eq!(s, Settings::default(), "refused values change nothing");
        let e = s.set("profile", "python");
        assert!(e.is_ok(), "the profile itself is valid: {e:?}");
        assert_eq!(s.validate()[0].field, "yam_dir");
        let dir = tempfile::tempdir().expect("tmp");
        assert!(
            s.set("yam_dir", &dir.path().display().to_string()).is_err(),
            "no app/server.py"
        );
        fs::create_dir_all(dir.path().join("app")).expect("mkdir");
        fs::write(dir.path().join("app/server.py"), "").expect("w");
        s.set("yam_dir", &dir.path().display().to_string())
            .expect("valid folder");
    }

    #[test]
    fn several_changes_at_once_are_all_or_nothing() {
        let s = Settings::default();
        let next = s
            .with_changes([("port", "5001".to_owned()), ("debug", "true".to_owned())])
            .expect("valid");
        assert_eq!((next.port, next.debug), (5001, true));
        let errors = s
            .with_changes([
                ("port", "x".to_owned()),
                ("host", "nowhere".to_owned()),
                ("debug", "true".to_owned()),
            ])
            .expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["port", "host"]);
    }

    #[test]
    fn changing_the_command_or_folders_is_owner_only() {
        let now = Settings::default();
        let same = now
            .with_changes([
                ("profile", "embedded".to_owned()),
                ("port", "5001".to_owned()),
            ])
            .expect("valid");
        assert!(
            now.owner_only_differences(&same).is_empty(),
            "values unchanged"
        );
        let mut next = now.clone();
        next.profile = ProfileKind::Custom;
        next.custom_command = Some("touch /tmp/x".into());
        next.debug = true;
        assert_eq!(
            now.owner_only_differences(&next),
            vec!["profile", "custom_command"]
        );
    }

    #[test]
    fn which_changes_restart_the_server() {
        let a = Settings::default();
        let mut b = a.clone();
        b.autostart = true;
        assert!(!b.needs_restart(&a));
        b.multiple_sessions = false;
        assert!(b.needs_restart(&a));
    }
}
