//! Notifications per minute over the last hour, for the sparkline.

use std::collections::VecDeque;

use crate::state::format::tenths;

/// Minutes shown.
pub const MINUTES: usize = 60;

/// Counts per minute, the last [`MINUTES`] minutes (older ones are dropped).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// (minute since the epoch, count), oldest first, at most [`MINUTES`].
    buckets: VecDeque<(i64, u32)>,
    /// The counts are whole from this time on (ms): what came before the page opened, and what
    /// the broker could not give back after an outage, is not known, so that a window reaching
    /// back past it is counted since then.
    pub whole_since: f64,
}

fn minute(ms: f64) -> i64 {
    (ms / 60_000.0).floor() as i64
}

impl Activity {
    /// No counts yet, and none known before `ms`.
    pub fn whole_from(ms: f64) -> Activity {
        Activity { whole_since: ms, ..Activity::default() }
    }

    /// One notification at `at_ms` (live ones now, replayed ones at their broker time).
    pub fn record(&mut self, at_ms: f64) {
        let m = minute(at_ms);
        let newest = self.buckets.back().map_or(m, |(last, _)| (*last).max(m));
        if newest - m >= MINUTES as i64 {
            return; // older than the hour shown
        }
        match self.buckets.iter().position(|(b, _)| *b >= m) {
            Some(i) if self.buckets[i].0 == m => self.buckets[i].1 += 1,
            Some(i) => self.buckets.insert(i, (m, 1)),
            None => self.buckets.push_back((m, 1)),
        }
        while self.buckets.front().is_some_and(|(first, _)| newest - first >= MINUTES as i64) {
            self.buckets.pop_front();
        }
    }

    /// The activity of a page that reloaded itself, counted again from the changes it kept, at
    /// the times in `times`, oldest first: whole since `whole_since`, as the page before said, and
    /// when its feed was `full` (so that it held only the last of them) since the oldest kept.
    pub fn restored(whole_since: f64, times: impl IntoIterator<Item = f64>, full: bool) -> Activity {
        let mut a = Activity::whole_from(whole_since);
        for (i, at) in times.into_iter().enumerate() {
            if i == 0 && full {
                a.whole_since = a.whole_since.max(at);
            }
            a.record(at);
        }
        a
    }

    /// True when the `window_ms` before `now_ms` reach back past what is known: the count over
    /// them is the count since [`Activity::whole_since`].
    pub fn partial(&self, window_ms: f64, now_ms: f64) -> bool {
        self.whole_since > now_ms - window_ms
    }

    /// Where the minutes the page knows begin in [`Activity::series`] (0 when it knows the hour),
    /// at most the minute before the current one, so that a line has two points.
    pub fn first_known(&self, now_ms: f64) -> usize {
        let unknown = MINUTES as i64 - 1 - (minute(now_ms) - minute(self.whole_since));
        unknown.clamp(0, MINUTES as i64 - 2) as usize
    }

    /// The notifications of the last hour, or, when [`Activity::whole_since`] is within it, those
    /// since then (from its minute on, as near as minutes tell): a count said to be "since 10:25"
    /// leaves out what came before an outage that ended then.
    pub fn count_known(&self, now_ms: f64) -> u32 {
        let unknown = MINUTES as i64 - 1 - (minute(now_ms) - minute(self.whole_since));
        self.series(now_ms)[unknown.clamp(0, MINUTES as i64 - 1) as usize..].iter().sum()
    }

    /// The counts of the last [`MINUTES`] minutes ending with the current one, oldest first.
    pub fn series(&self, now_ms: f64) -> [u32; MINUTES] {
        let now = minute(now_ms);
        let mut out = [0; MINUTES];
        for (m, n) in &self.buckets {
            let age = now - m;
            if (0..MINUTES as i64).contains(&age) {
                out[MINUTES - 1 - age as usize] = *n;
            }
        }
        out
    }

    /// Notifications in the last 60 s, as near as minutes tell: the current minute's, and the
    /// part of the minute before that is still within 60 s, at its average rate. (The current
    /// minute alone read as a drop to nothing at every minute's start.)
    pub fn last_60_s(&self, now_ms: f64) -> u32 {
        rate_of(&self.series(now_ms), now_ms)
    }

    /// The sparkline's points: the last hour's minutes, the current one as [`Activity::last_60_s`]
    /// (counted alone, the minute under way drew the line falling to nothing at every minute's
    /// start, on a wall all day long).
    pub fn line(&self, now_ms: f64) -> [u32; MINUTES] {
        let mut s = self.series(now_ms);
        s[MINUTES - 1] = rate_of(&s, now_ms);
        s
    }
}

/// [`Activity::last_60_s`] from the minutes' counts at `now_ms`.
fn rate_of(s: &[u32; MINUTES], now_ms: f64) -> u32 {
    // Not `rem_euclid`: that is `fmod`, which wasm has no instruction for (1 KB of code).
    let minutes = now_ms / 60_000.0;
    let into = minutes - minutes.floor();
    (f64::from(s[MINUTES - 1]) + f64::from(s[MINUTES - 2]) * (1.0 - into)).round() as u32
}

/// An SVG path through `values` from the one at `from` (those before it are not known, and not
/// drawn), scaled into `width` × `height`: the first value at the left, the top the maximum.
pub fn sparkline_path(values: &[u32], from: usize, width: f64, height: f64) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if values.len() > 1 { width / (values.len() - 1) as f64 } else { 0.0 };
    values
        .iter()
        .enumerate()
        .skip(from)
        .map(|(i, v)| {
            let (x, y) = (i as f64 * step, height - (*v as f64 / max) * height);
            format!("{}{},{}", if i == from { "M" } else { "L" }, tenths(x), tenths(y))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window that reaches back past what is known is partial; one within it is whole.
    #[test]
    fn a_window_past_what_is_known_is_partial() {
        let opened = 1.8e12;
        let a = Activity::whole_from(opened);
        assert!(a.partial(60_000.0, opened + 30_000.0));
        assert!(!a.partial(60_000.0, opened + 60_000.0));
        assert!(a.partial(3_600_000.0, opened + 60_000.0));
        assert!(!Activity::default().partial(3_600_000.0, opened), "all known (whole since 1970)");
    }

    /// A reloaded page counts the hour as the page before did, from the changes that page kept;
    /// from the oldest of them when the feed kept only the last.
    #[test]
    fn a_restored_activity_counts_the_changes_kept() {
        let now = 1.8e12;
        let times = [now - 7_200_000.0, now - 1_800_000.0, now - 1_790_000.0, now - 5_000.0];
        let a = Activity::restored(now - 3.0 * 3_600_000.0, times, false);
        assert_eq!(a.count_known(now), 3, "an hour ago and older left out");
        assert!(!a.partial(3_600_000.0, now));
        let a = Activity::restored(now - 3.0 * 3_600_000.0, times[1..].iter().copied(), true);
        assert_eq!((a.count_known(now), a.whole_since), (3, now - 1_800_000.0), "whole since the oldest kept");
        let a = Activity::restored(now - 60_000.0, times, true);
        assert_eq!(a.whole_since, now - 60_000.0, "or since what the page before knew");
    }

    /// The count is the hour's when the hour is known, else the count since it is: what came
    /// before an outage is not counted since its end.
    #[test]
    fn the_count_is_of_the_minutes_known() {
        let at = |min: f64| min * 60_000.0;
        let mut a = Activity::whole_from(at(1_000.0));
        for m in 1_000..1_050 {
            a.record(at(f64::from(m) + 0.5));
        }
        assert_eq!(a.count_known(at(1_059.5)), 50, "the whole hour known");
        assert_eq!(a.count_known(at(1_070.5)), 39, "the hour's, the first 11 minutes past it");
        // Cut off from 1,050 to 1,055, which the broker could not fill; 5 since.
        a.whole_since = at(1_055.0);
        for m in 1_055..1_060 {
            a.record(at(f64::from(m) + 0.5));
        }
        assert_eq!(a.count_known(at(1_059.5)), 5, "since the outage's end, not the 50 before");
        assert_eq!(a.count_known(at(1_200.0)), 0, "nothing in the hour");
    }

    /// One a second, steadily: 60 in the last 60 s at any moment of a minute, its start too.
    #[test]
    fn a_steady_rate_reads_the_same_all_minute() {
        let times: Vec<f64> = (0..180).map(|s| f64::from(s) * 1000.0 + 500.0).collect();
        for now in [120_000.0, 120_900.0, 135_000.0, 150_000.0, 179_999.0] {
            let mut a = Activity::default();
            times.iter().filter(|t| **t <= now).for_each(|t| a.record(*t));
            let shown = a.last_60_s(now);
            assert!(shown.abs_diff(60) <= 1, "at {now}: {shown}");
        }
        // The line's last point too: no dip as a minute starts.
        let mut a = Activity::default();
        times.iter().filter(|t| **t <= 150_500.0).for_each(|t| a.record(*t));
        let line = a.line(150_500.0);
        assert!(line[MINUTES - 1].abs_diff(60) <= 1 && line[MINUTES - 2] == 60, "{line:?}");
        // Quiet since: nothing after a minute and a bit.
        let mut a = Activity::default();
        times.iter().for_each(|t| a.record(*t));
        assert_eq!(a.last_60_s(180_000.0 + 60_000.0), 0);
    }

    #[test]
    fn counts_per_minute_for_the_last_hour() {
        let mut a = Activity::default();
        a.record(0.0);
        a.record(30_000.0);
        a.record(60_000.0);
        let s = a.series(60_000.0);
        assert_eq!((s[MINUTES - 2], s[MINUTES - 1]), (2, 1));
        // An hour later the first minute has gone.
        a.record(60.0 * 60_000.0);
        let s = a.series(60.0 * 60_000.0);
        assert_eq!(s.iter().sum::<u32>(), 2, "the minute from an hour ago is out");
        assert!(a.buckets.len() <= MINUTES);
    }

    #[test]
    fn replayed_notifications_land_in_their_own_minute() {
        let mut a = Activity::default();
        a.record(10.0 * 60_000.0);
        a.record(8.0 * 60_000.0 + 5.0);
        a.record(8.0 * 60_000.0 + 9.0);
        a.record(-100.0 * 60_000.0);
        let s = a.series(10.0 * 60_000.0);
        assert_eq!((s[MINUTES - 3], s[MINUTES - 1]), (2, 1));
        assert_eq!(s.iter().sum::<u32>(), 3, "an hour-old one is not counted");
    }

    #[test]
    fn the_path_spans_the_box() {
        assert_eq!(sparkline_path(&[0, 2, 1], 0, 100.0, 10.0), "M0.0,10.0 L50.0,0.0 L100.0,5.0");
        assert_eq!(sparkline_path(&[0, 0], 0, 10.0, 10.0), "M0.0,10.0 L10.0,10.0");
        assert_eq!(sparkline_path(&[0, 0, 2, 1], 2, 30.0, 10.0), "M20.0,0.0 L30.0,5.0", "from the first minute known");
    }

    /// The minutes known begin at the one the page began knowing in, never later than the one
    /// before the current; all of them when it knows the hour.
    #[test]
    fn the_line_begins_where_the_page_began_knowing() {
        let opened = 1_000.0 * 60_000.0 + 30_000.0;
        let a = Activity::whole_from(opened);
        assert_eq!(a.first_known(opened), MINUTES - 2);
        assert_eq!(a.first_known(opened + 10.0 * 60_000.0), MINUTES - 11);
        assert_eq!(a.first_known(opened + 100.0 * 60_000.0), 0);
        assert_eq!(Activity::default().first_known(opened), 0);
    }
}
