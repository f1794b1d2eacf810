//! A small time series of the load: one point a minute for seven days (live sessions,
//! distinct users, logins, server starts, crashes). Pure: minutes are passed in, and the
//! CSV text it reads and writes is stored by the caller.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Minutes kept: seven days.
pub const KEEP_MINUTES: i64 = 7 * 24 * 60;

/// Minutes since the Unix epoch (UTC).
pub type Minute = i64;

/// One minute of history. Live sessions and users are the most seen during the minute;
/// logins, starts and crashes are how many happened in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub minute: Minute,
    pub live: u32,
    pub users: u32,
    pub logins: u32,
    /// Server starts (by the admin or after a crash).
    pub starts: u32,
    /// Unexpected exits.
    pub crashes: u32,
}

impl Point {
    fn empty(minute: Minute) -> Self {
        Self {
            minute,
            ..Self::default()
        }
    }

    /// Folds `other` (a later minute of the same bucket) in: peaks stay peaks, events add up.
    fn absorb(&mut self, other: &Point) {
        self.live = self.live.max(other.live);
        self.users = self.users.max(other.users);
        self.logins = self.logins.saturating_add(other.logins);
        self.starts = self.starts.saturating_add(other.starts);
        self.crashes = self.crashes.saturating_add(other.crashes);
    }
}

/// What the chart shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Span {
    /// The last 24 hours, one point a minute.
    Day,
    /// The last 7 days, one point an hour.
    Week,
}

impl Span {
    pub fn minutes(self) -> i64 {
        match self {
            Span::Day => 24 * 60,
            Span::Week => KEEP_MINUTES,
        }
    }

    /// Minutes per point.
    pub fn step(self) -> i64 {
        match self {
            Span::Day => 1,
            Span::Week => 60,
        }
    }
}

/// The series for a chart: points in time order (minutes without a point are gaps: the
/// supervisor was not running).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Series {
    pub span: Span,
    /// Minutes per point.
    pub step: i64,
    pub from: Minute,
    pub to: Minute,
    pub points: Vec<Point>,
}

/// The busiest minute of a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    pub minute: Minute,
    pub live: u32,
    pub users: u32,
    /// Logins, starts and crashes over the whole period.
    pub logins: u32,
    pub starts: u32,
    pub crashes: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Oldest first; at most one point per minute.
    points: VecDeque<Point>,
    /// The login counter last seen, to turn it into logins per minute.
    logins_seen: Option<u64>,
    changed: bool,
}

/// Lines of the stored file that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub history: History,
    pub bad_lines: usize,
}

const HEADER: &str = "minute,live,users,logins,starts,crashes";

impl History {
    /// The point of `minute`, created when it is new. A clock that went back writes into the
    /// newest point rather than out of order.
    fn point(&mut self, minute: Minute) -> &mut Point {
        self.changed = true;
        let newest = self.points.back().map(|p| p.minute);
        if newest.is_none_or(|m| minute > m) {
            self.points.push_back(Point::empty(minute));
            while self
                .points
                .front()
                .is_some_and(|p| p.minute <= minute - KEEP_MINUTES)
            {
                self.points.pop_front();
            }
        }
        self.points.back_mut().expect("a point was just ensured")
    }

    /// Records what the session counts say at `minute`. `logins_seen` is the watcher's
    /// running total; when it goes down (a new watcher) it counts from zero again.
    pub fn observe(&mut self, minute: Minute, live: usize, users: usize, logins_seen: u64) {
        let new_logins = match self.logins_seen {
            Some(before) if logins_seen >= before => logins_seen - before,
            Some(_) => logins_seen,
            None => 0,
        };
        self.logins_seen = Some(logins_seen);
        let point = self.point(minute);
        point.live = point.live.max(saturate(live));
        point.users = point.users.max(saturate(users));
        point.logins = point.logins.saturating_add(saturate(new_logins));
    }

    pub fn server_started(&mut self, minute: Minute) {
        let p = self.point(minute);
        p.starts = p.starts.saturating_add(1);
    }

    pub fn server_crashed(&mut self, minute: Minute) {
        let p = self.point(minute);
        p.crashes = p.crashes.saturating_add(1);
    }

    /// Whether anything changed since the last [`History::to_csv`].
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The chart's points for `span` ending at `now`.
    pub fn series(&self, span: Span, now: Minute) -> Series {
        let step = span.step();
        let to = now - now.rem_euclid(step) + step;
        let from = to - span.minutes();
        let mut points: Vec<Point> = Vec::new();
        for p in self
            .points
            .iter()
            .filter(|p| p.minute >= from && p.minute < to)
        {
            let bucket = p.minute - p.minute.rem_euclid(step);
            match points.last_mut() {
                Some(last) if last.minute == bucket => last.absorb(p),
                _ => points.push(Point {
                    minute: bucket,
                    ..*p
                }),
            }
        }
        Series {
            span,
            step,
            from,
            to,
            points,
        }
    }

    /// The busiest minute since `since` (the most live sessions; the earliest of equals).
    pub fn peak_since(&self, since: Minute) -> Option<Peak> {
        let mut peak: Option<Peak> = None;
        for p in self.points.iter().filter(|p| p.minute >= since) {
            let total = peak.get_or_insert(Peak {
                minute: p.minute,
                live: p.live,
                users: p.users,
                logins: 0,
                starts: 0,
                crashes: 0,
            });
            if p.live > total.live {
                total.minute = p.minute;
                total.live = p.live;
                total.users = p.users;
            }
            total.logins = total.logins.saturating_add(p.logins);
            total.starts = total.starts.saturating_add(p.starts);
            total.crashes = total.crashes.saturating_add(p.crashes);
        }
        peak
    }

    /// The stored form: a header and one line per minute (about 20 bytes a line, so seven
    /// days stay under 250 KB). Marks the history unchanged.
    pub fn to_csv(&mut self) -> String {
        self.changed = false;
        let mut out = String::with_capacity(HEADER.len() + 1 + self.points.len() * 24);
        out.push_str(HEADER);
        out.push('\n');
        for p in &self.points {
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                p.minute, p.live, p.users, p.logins, p.starts, p.crashes
            ));
        }
        out
    }

    /// Reads the stored form, keeping what it can: lines that do not parse are skipped and
    /// counted; points are sorted and limited to the seven days before `now`.
    pub fn from_csv(text: &str, now: Minute) -> Loaded {
        let mut bad_lines = 0;
        let mut points: Vec<Point> = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line == HEADER {
                continue;
            }
            match parse_line(line) {
                Some(p) if p.minute > now - KEEP_MINUTES && p.minute <= now => points.push(p),
                Some(_) => {}
                None => bad_lines += 1,
            }
        }
        points.sort_by_key(|p| p.minute);
        points.dedup_by(|later, earlier| {
            let same = later.minute == earlier.minute;
            if same {
                earlier.absorb(later);
            }
            same
        });
        Loaded {
            history: History {
                points: points.into(),
                logins_seen: None,
                changed: false,
            },
            bad_lines,
        }
    }
}

fn saturate(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

fn parse_line(line: &str) -> Option<Point> {
    let mut fields = line.split(',');
    let minute = fields.next()?.parse().ok()?;
    let mut next = || fields.next()?.parse::<u32>().ok();
    let point = Point {
        minute,
        live: next()?,
        users: next()?,
        logins: next()?,
        starts: next()?,
        crashes: next()?,
    };
    fields.next().is_none().then_some(point)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Minute = 29_000_000;

    #[test]
    fn a_minute_keeps_its_peak_and_adds_up_events() {
        let mut h = History::default();
        h.observe(T0, 3, 2, 10);
        h.observe(T0, 7, 4, 12);
        h.observe(T0, 5, 4, 15);
        h.server_crashed(T0);
        h.server_started(T0);
        h.observe(T0 + 1, 1, 1, 15);
        let s = h.series(Span::Day, T0 + 1);
        assert_eq!(
            s.points,
            vec![
                Point {
                    minute: T0,
                    live: 7,
                    users: 4,
                    logins: 5,
                    starts: 1,
                    crashes: 1
                },
                Point {
                    minute: T0 + 1,
                    live: 1,
                    users: 1,
                    ..Point::default()
                }
            ]
        );
        assert_eq!((s.from, s.to, s.step), (T0 + 2 - 1440, T0 + 2, 1));
    }

    #[test]
    fn a_restarted_login_counter_counts_from_zero() {
        let mut h = History::default();
        h.observe(T0, 0, 0, 40);
        h.observe(T0, 0, 0, 42);
        h.observe(T0 + 1, 0, 0, 3);
        let logins: Vec<u32> = h
            .series(Span::Day, T0 + 1)
            .points
            .iter()
            .map(|p| p.logins)
            .collect();
        assert_eq!(logins, vec![2, 3]);
    }

    #[test]
    fn seven_days_are_kept_and_the_week_is_hourly() {
        let mut h = History::default();
        let start = T0 - T0.rem_euclid(60);
        for m in 0..(KEEP_MINUTES + 120) {
            h.observe(start + m, (m % 60) as usize, 1, 0);
        }
        assert_eq!(h.len(), KEEP_MINUTES as usize);
        let now = start + KEEP_MINUTES + 119;
        let week = h.series(Span::Week, now);
        assert_eq!(week.step, 60);
        assert_eq!(week.points.len(), 168);
        assert!(
            week.points
                .iter()
                .all(|p| p.live == 59 && p.minute % 60 == 0)
        );
        let day = h.series(Span::Day, now);
        assert_eq!(day.points.len(), 1440);
        // Stored, it stays small: a few hundred KB at most.
        let csv = h.to_csv();
        assert!(csv.len() < 300_000, "{} bytes", csv.len());
    }

    #[test]
    fn a_clock_that_goes_back_writes_into_the_newest_minute() {
        let mut h = History::default();
        h.observe(T0 + 5, 1, 1, 0);
        h.server_crashed(T0 + 2);
        assert_eq!(h.len(), 1);
        assert_eq!(h.series(Span::Day, T0 + 5).points[0].crashes, 1);
    }

    #[test]
    fn peak_since_is_the_busiest_minute_and_the_period_totals() {
        let mut h = History::default();
        h.observe(T0 - 10, 50, 20, 0);
        h.observe(T0, 4, 3, 0);
        h.observe(T0 + 1, 9, 6, 5);
        h.observe(T0 + 2, 9, 7, 6);
        h.server_crashed(T0 + 2);
        let peak = h.peak_since(T0).expect("a peak");
        assert_eq!(
            peak,
            Peak {
                minute: T0 + 1,
                live: 9,
                users: 6,
                logins: 6,
                starts: 0,
                crashes: 1
            }
        );
        assert_eq!(h.peak_since(T0 + 100), None);
    }

    #[test]
    fn csv_round_trips_and_bad_lines_are_skipped_not_fatal() {
        let mut h = History::default();
        h.observe(T0, 3, 2, 0);
        h.server_started(T0 + 1);
        assert!(h.is_changed());
        let csv = h.to_csv();
        assert!(!h.is_changed());
        let back = History::from_csv(&csv, T0 + 1);
        assert_eq!(back.bad_lines, 0);
        assert_eq!(back.history.points, h.points);

        let damaged = format!(
            "{csv}garbage\n{T0},1,2\n{},1,1,0,0,0\n{},9,9,9,9,9,9\n{},1,1,0,0,0\n{},2,0,1,0,0\n",
            T0 - KEEP_MINUTES - 5,
            T0 + 3,
            T0 + 50,
            T0
        );
        let loaded = History::from_csv(&damaged, T0 + 10);
        assert_eq!(loaded.bad_lines, 3);
        // Too old and in the future are dropped; a duplicate minute is merged.
        let points = loaded.history.series(Span::Day, T0 + 10).points;
        assert_eq!(points.len(), 2);
        assert_eq!((points[0].live, points[0].logins), (3, 1));
    }
}
