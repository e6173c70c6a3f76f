//! When a wall screen reloads itself: once a night at a quiet hour, and after a long outage, so
//! that it picks up a new dashboard and sheds whatever a browser accumulates over weeks.

/// The local hour of the nightly reload by default (03:00).
pub const DEFAULT_RELOAD_HOUR: u32 = 3;
/// An outage at least this long (ms) is followed by a reload once the broker is back.
pub const LONG_OUTAGE_MS: f64 = 30.0 * 60_000.0;
/// A page younger than this (ms) never reloads for the night (no reload loops).
pub const MIN_UPTIME_MS: f64 = 60.0 * 60_000.0;

/// Why a reload is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadReason {
    Nightly,
    AfterOutage,
}

/// The nightly reload is due when the local hour is `reload_hour`, the page has been up for at
/// least [`MIN_UPTIME_MS`] (so it reloads once, not all hour long) and the broker is answering
/// (`live`): the broker usually serves the page too, and a reload while it is down would leave
/// the browser's error page on the wall. A screen offline at that hour reloads as soon as it is
/// live again within the hour, or the next night.
pub fn nightly_due(local_hour: u32, uptime_ms: f64, reload_hour: u32, live: bool) -> bool {
    live && local_hour == reload_hour && uptime_ms >= MIN_UPTIME_MS
}

/// After reconnecting: due when the outage lasted at least [`LONG_OUTAGE_MS`].
pub fn after_outage_due(outage_ms: f64) -> bool {
    outage_ms >= LONG_OUTAGE_MS
}

/// The local hour (0-23) of an instant, in a zone `offset_minutes` east of UTC.
pub fn local_hour(now_ms: f64, offset_minutes: i32) -> u32 {
    let minutes = (now_ms / 60_000.0).floor() as i64 + i64::from(offset_minutes);
    (minutes.rem_euclid(1440) / 60) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nightly_reload_only_at_the_hour_and_not_twice() {
        assert!(nightly_due(3, MIN_UPTIME_MS, 3, true));
        assert!(!nightly_due(4, 10.0 * MIN_UPTIME_MS, 3, true));
        assert!(!nightly_due(3, MIN_UPTIME_MS - 1.0, 3, true), "a page reloaded at 03:00 stays until tomorrow");
    }

    #[test]
    fn no_nightly_reload_while_the_broker_is_unreachable() {
        assert!(!nightly_due(3, 10.0 * MIN_UPTIME_MS, 3, false), "the reload would fetch the page from a broker that is down");
    }

    #[test]
    fn long_outages_only() {
        assert!(!after_outage_due(LONG_OUTAGE_MS - 1.0));
        assert!(after_outage_due(LONG_OUTAGE_MS));
    }

    #[test]
    fn local_hours() {
        assert_eq!(local_hour(0.0, 0), 0);
        assert_eq!(local_hour(3.5 * 3_600_000.0, 0), 3);
        assert_eq!(local_hour(2.5 * 3_600_000.0, 60), 3);
        assert_eq!(local_hour(0.5 * 3_600_000.0, -60), 23);
    }
}
