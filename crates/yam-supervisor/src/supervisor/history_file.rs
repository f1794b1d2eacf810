//! The history kept on disk: loaded at start, fed by the driver, saved every few minutes
//! (when it changed) and when the supervisor stops.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{Local, TimeZone as _};

use crate::history::{History, Minute, Peak, Series, Span};
use crate::tally::Counts;

const SAVE_EVERY: Duration = Duration::from_secs(300);
pub const FILE_NAME: &str = "history.csv";
/// Larger than any history this program writes (a line per minute with sessions).
const MAX_BYTES: u64 = 64 * 1024 * 1024;

pub(super) struct HistoryFile {
    history: History,
    path: PathBuf,
    next_save: Instant,
    last_minute: Option<Minute>,
}

/// The current minute (UTC, since the epoch).
pub fn minute_now() -> Minute {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs / 60).unwrap_or(i64::MAX)
}

/// The first minute of today in the local time zone.
pub fn local_midnight(now: Minute) -> Minute {
    let local = Local
        .timestamp_opt(now * 60, 0)
        .single()
        .unwrap_or_else(Local::now);
    let midnight = local
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(Local).earliest());
    midnight.map_or(now - now.rem_euclid(1440), |m| m.timestamp().div_euclid(60))
}

impl HistoryFile {
    /// Loads `data_dir/history.csv`. A file that cannot be read is set aside (renamed with a
    /// `.unreadable` suffix), never overwritten; the warning says so.
    pub fn load(data_dir: &Path) -> (Self, Option<String>) {
        let path = data_dir.join(FILE_NAME);
        // Never a link, a FIFO or a device; a year of minutes is well under the cap.
        let (history, warning) = match yam_sessions::private::read_owned(&path, MAX_BYTES, false)
            .map(String::into_bytes)
        {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (History::default(), None),
            Err(e) => (
                History::default(),
                Some(set_aside(&path, &format!("it cannot be read ({e})"))),
            ),
            Ok(bytes) => match String::from_utf8(bytes) {
                Err(_) => (History::default(), Some(set_aside(&path, "it is not text"))),
                Ok(text) => {
                    let loaded = History::from_csv(&text, minute_now());
                    let warning = (loaded.bad_lines > 0).then(|| {
                        format!(
                            "{} line(s) of {} could not be read and were skipped",
                            loaded.bad_lines,
                            path.display()
                        )
                    });
                    (loaded.history, warning)
                }
            },
        };
        let file = Self {
            history,
            path,
            next_save: Instant::now() + SAVE_EVERY,
            last_minute: None,
        };
        (file, warning)
    }

    pub fn observe(&mut self, counts: &Counts) {
        let minute = minute_now();
        self.last_minute = Some(minute);
        self.history
            .observe(minute, counts.live, counts.users, counts.logins_seen);
    }

    /// Once a minute even when nothing changes (a quiet minute is a point too), and the
    /// periodic save. Whether a point was added.
    pub fn tick(&mut self, counts: &Counts) -> bool {
        let new_minute = self.last_minute != Some(minute_now());
        if new_minute {
            self.observe(counts);
        }
        if Instant::now() >= self.next_save {
            self.next_save = Instant::now() + SAVE_EVERY;
            if self.history.is_changed() {
                let (path, csv) = (self.path.clone(), self.history.to_csv());
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = write(&path, &csv) {
                        tracing::warn!("could not save {}: {e}", path.display());
                    }
                });
            }
        }
        new_minute
    }

    pub fn server_started(&mut self) {
        self.history.server_started(minute_now());
    }

    pub fn server_crashed(&mut self) {
        self.history.server_crashed(minute_now());
    }

    /// Saves now (the supervisor is stopping).
    pub fn save(&mut self) -> std::io::Result<()> {
        if !self.history.is_changed() {
            return Ok(());
        }
        write(&self.path, &self.history.to_csv())
    }

    pub fn series(&self, span: Span) -> Series {
        self.history.series(span, minute_now())
    }

    pub fn today_peak(&self) -> Option<Peak> {
        let now = minute_now();
        self.history.peak_since(local_midnight(now))
    }
}

fn write(path: &Path, csv: &str) -> std::io::Result<()> {
    yam_sessions::private::write_private(path, csv)
}

fn set_aside(path: &Path, why: &str) -> String {
    let aside = path.with_extension("csv.unreadable");
    match std::fs::rename(path, &aside) {
        Ok(()) => format!(
            "The load history in {} was set aside as {} because {why}; a new one was started",
            path.display(),
            aside.display()
        ),
        Err(e) => format!(
            "The load history in {} cannot be used because {why}, and it could not be set aside ({e})",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_midnight_is_a_day_start_at_or_before_now() {
        let now = minute_now();
        let midnight = local_midnight(now);
        assert!(
            midnight <= now && now - midnight < 1440 + 60,
            "{midnight} {now}"
        );
        let local = Local
            .timestamp_opt(midnight * 60, 0)
            .single()
            .expect("one local time");
        assert_eq!(local.format("%H:%M").to_string(), "00:00");
    }

    #[test]
    fn an_unreadable_history_is_set_aside_not_overwritten() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, b"\xff\xfe not text").expect("write");
        let (mut file, warning) = HistoryFile::load(dir.path());
        assert!(warning.expect("a warning").contains("set aside"));
        assert_eq!(
            std::fs::read(dir.path().join("history.csv.unreadable")).expect("set aside"),
            b"\xff\xfe not text"
        );
        file.server_started();
        file.save().expect("save");
        let (again, warning) = HistoryFile::load(dir.path());
        assert_eq!(warning, None);
        assert_eq!(again.history.len(), 1);
    }
}
