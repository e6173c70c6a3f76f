//! When a wall screen reloads itself: once a night at a quiet hour, and after a long outage, so
//! that it picks up a new dashboard and sheds whatever a browser accumulates over weeks.

/// The local hour of the nightly reload by default (03:00).
pub const DEFAULT_RELOAD_HOUR: u32 = 3;
/// An outage at least this long (ms) is followed by a reload once the broker is back.
pub const LONG_OUTAGE_MS: f64 = 30.0 * 60_000.0;
/// A page younger than this (ms) never reloads for the night (no reload loops).
pub const MIN_UPTIME_MS: f64 = 60.0 * 60_000.0;
/// Each wall screen reloads at a random minute of the first this many of its reload hour, so
/// that an office's screens, their clocks in step, do not all reload and reconnect at once.
pub const NIGHTLY_SPREAD_MINUTES: f64 = 30.0;

/// Why a reload is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadReason {
    Nightly,
    AfterOutage,
}

/// The nightly reload is due from the local minute of the day `reload_at` to the end of its
/// hour, once the page has been up for at least [`MIN_UPTIME_MS`] (so it reloads once, not all
/// hour long) and while the broker is answering (`live`): the broker usually serves the page
/// too, and a reload while it is down would leave the browser's error page on the wall. A screen
/// offline then reloads as soon as it is live again within the hour, or the next night.
pub fn nightly_due(local_minute: u32, uptime_ms: f64, reload_at: u32, live: bool) -> bool {
    live && local_minute >= reload_at && local_minute / 60 == reload_at / 60 && uptime_ms >= MIN_UPTIME_MS
}

/// The local minute of the day of a page's nightly reload: in the first
/// [`NIGHTLY_SPREAD_MINUTES`] of `hour`, as the uniform random number in `[0, 1)` `random` picks.
pub fn reload_minute(hour: u32, random: f64) -> u32 {
    hour * 60 + (random.clamp(0.0, 0.999_999) * NIGHTLY_SPREAD_MINUTES) as u32
}

/// After reconnecting: due when the outage lasted at least [`LONG_OUTAGE_MS`].
pub fn after_outage_due(outage_ms: f64) -> bool {
    outage_ms >= LONG_OUTAGE_MS
}

/// The local minute of the day (0-1439) of an instant, in a zone `offset_minutes` east of UTC.
pub fn local_minute(now_ms: f64, offset_minutes: i32) -> u32 {
    let minutes = (now_ms / 60_000.0).floor() as i64 + i64::from(offset_minutes);
    minutes.rem_euclid(1440) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nightly_reload_only_from_its_minute_to_the_hours_end_and_not_twice() {
        let at = 3 * 60 + 17;
        assert!(!nightly_due(3 * 60 + 16, 10.0 * MIN_UPTIME_MS, at, true), "not before its minute");
        assert!(nightly_due(at, MIN_UPTIME_MS, at, true));
        assert!(nightly_due(3 * 60 + 59, MIN_UPTIME_MS, at, true), "later in the hour, had it been offline");
        assert!(!nightly_due(4 * 60, 10.0 * MIN_UPTIME_MS, at, true));
        assert!(!nightly_due(at, MIN_UPTIME_MS - 1.0, at, true), "a page reloaded at 03:17 stays until tomorrow");
    }

    /// Screens reload over the first half of the hour, every minute of it, none after.
    #[test]
    fn reload_minutes_spread_over_the_first_half_of_the_hour() {
        let minutes: std::collections::BTreeSet<u32> = (0..600).map(|i| reload_minute(3, f64::from(i) / 600.0)).collect();
        assert_eq!(minutes, (180..210).collect(), "03:00 to 03:29");
        assert_eq!(reload_minute(3, 1.0), 209, "never the next half hour, whatever the random number");
    }

    #[test]
    fn no_nightly_reload_while_the_broker_is_unreachable() {
        assert!(!nightly_due(3 * 60, 10.0 * MIN_UPTIME_MS, 3 * 60, false), "the reload would fetch the page from a broker that is down");
    }

    #[test]
    fn long_outages_only() {
        assert!(!after_outage_due(LONG_OUTAGE_MS - 1.0));
        assert!(after_outage_due(LONG_OUTAGE_MS));
    }

    #[test]
    fn local_minutes() {
        assert_eq!(local_minute(0.0, 0), 0);
        assert_eq!(local_minute(3.5 * 3_600_000.0, 0), 3 * 60 + 30);
        assert_eq!(local_minute(2.5 * 3_600_000.0, 60), 3 * 60 + 30);
        assert_eq!(local_minute(0.5 * 3_600_000.0, -60), 23 * 60 + 30);
    }
}
