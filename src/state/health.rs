//! What the health strip says about the connection: round-trip time, time since the last
//! message, this connection's uptime, reconnects today, and the server clock's offset.

/// No message or pong for this long (ms) marks the screen stale.
pub const DEFAULT_STALE_MS: f64 = 45_000.0;

/// The server clock's offset is that of the quickest of the last this many pongs (pings go
/// every 15 to 60 s): a clock that is set right, here or at the server, is followed within
/// minutes, and one quick trip does not decide it for ever.
pub const CLOCK_SAMPLES: usize = 8;

/// Connection health, updated from events and "now".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// When the current connection went live (ms), `None` while down.
    pub live_since_ms: Option<f64>,
    /// When the last frame of any kind arrived.
    pub last_message_ms: Option<f64>,
    /// Round-trip time of the last ping, ms.
    pub rtt_ms: Option<f64>,
    /// When the outstanding application ping was sent.
    pub ping_sent_ms: Option<f64>,
    /// Reconnections on the local day `day` (days since the epoch, in the browser's zone).
    reconnects: u32,
    day: i64,
    /// Server time minus local time (ms), from the best (lowest round trip) of the last
    /// [`CLOCK_SAMPLES`] pongs of this connection, or a rough one until the first pong.
    pub clock_offset_ms: Option<f64>,
    /// The last pongs' (round trip, offset), oldest first: `samples` of them.
    clock: [(f64, f64); CLOCK_SAMPLES],
    samples: usize,
    /// The live connection was lost (not closed because the page was left), until the next
    /// goes live: that one is a reconnect.
    lost: bool,
}

/// The page's clock: the browser's, but never going back. A clock set back (NTP correcting a
/// kiosk's clock after it booted, a person) would otherwise hold up every wait measured with it
/// (the feed's redraws, the ping deadlines) for as long as it was set back; from a step back on,
/// time goes on from where it was, at the clock's pace (so that what is measured with it, and the
/// server clock's offset from the pongs, stay right). A step forward is taken as it comes (a
/// machine waking up is one). After a step back it stays ahead of the browser's clock by the
/// step, so what is about the time of day itself, and what another page compares with its own
/// clock (the nightly reload's hour, a saved screen's time), reads the browser's clock instead.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SteadyClock {
    /// Added to the browser's clock: what it has been set back by, in all.
    shift: f64,
    last: f64,
}

impl SteadyClock {
    /// A clock not yet read.
    pub const fn new() -> SteadyClock {
        SteadyClock { shift: 0.0, last: 0.0 }
    }

    /// How far it runs ahead of the browser's clock.
    pub fn shift(&self) -> f64 {
        self.shift
    }

    /// The time now, given the browser's clock `wall`.
    pub fn at(&mut self, wall: f64) -> f64 {
        if wall + self.shift < self.last {
            self.shift = self.last - wall;
        }
        self.last = wall + self.shift;
        self.last
    }
}

/// The local day (days since the epoch, in a zone `tz_offset_minutes` east of UTC) of an instant.
pub fn local_day(now_ms: f64, tz_offset_minutes: i32) -> i64 {
    ((now_ms / 60_000.0).floor() as i64 + i64::from(tz_offset_minutes)).div_euclid(1440)
}

impl Health {
    /// The connection went live at `now_ms`, on the local day `day` ([`local_day`], of the
    /// browser's clock). After a connection lost it counts as a reconnect of that day; the
    /// page's first connection (however many attempts it took) and one made again as a page
    /// left is shown again do not.
    pub fn connected(&mut self, now_ms: f64, day: i64) {
        if day != self.day {
            self.day = day;
            self.reconnects = 0;
        }
        if std::mem::take(&mut self.lost) {
            self.reconnects += 1;
        }
        self.live_since_ms = Some(now_ms);
        self.last_message_ms = Some(now_ms);
        self.ping_sent_ms = None;
        // Perhaps another server, with its own clock: the offset so far stands until its pongs.
        self.samples = 0;
    }

    /// Reconnections on the local day `day`: none on a day after the last one counted.
    pub fn reconnects_on(&self, day: i64) -> u32 {
        if day == self.day {
            self.reconnects
        } else {
            0
        }
    }

    /// (day, reconnections that day), for the page that follows a reload.
    pub fn reconnects(&self) -> (i64, u32) {
        (self.day, self.reconnects)
    }

    /// What the page before a reload counted: its last connection, which this page's first
    /// one goes on from, is not counted again.
    pub fn restore_reconnects(&mut self, day: i64, count: u32) {
        (self.day, self.reconnects) = (day, count);
    }

    /// The live connection ended: `lost`, or closed as the page was left.
    pub fn disconnected(&mut self, lost: bool) {
        self.lost = lost;
        self.live_since_ms = None;
        self.ping_sent_ms = None;
        // A round trip of a connection that is gone says nothing of the next one.
        self.rtt_ms = None;
    }

    /// Any frame arrived; `server_ms` is its timestamp when it has one (a weak clock sample with
    /// an unknown one-way delay, used only until a ping gives a better one).
    pub fn message(&mut self, now_ms: f64, server_ms: Option<f64>) {
        self.last_message_ms = Some(now_ms);
        if let (Some(server), None) = (server_ms, self.clock_offset_ms) {
            self.clock_offset_ms = Some(server - now_ms);
        }
    }

    pub fn ping_sent(&mut self, now_ms: f64) {
        self.ping_sent_ms = Some(now_ms);
    }

    /// A pong arrived: round-trip time, and a clock sample taken at the middle of the trip.
    pub fn pong(&mut self, now_ms: f64, server_ms: Option<f64>) {
        self.last_message_ms = Some(now_ms);
        let Some(sent) = self.ping_sent_ms.take() else { return };
        let rtt = (now_ms - sent).max(0.0);
        self.rtt_ms = Some(rtt);
        if let Some(server) = server_ms {
            if self.samples == CLOCK_SAMPLES {
                self.clock.copy_within(1.., 0);
                self.samples -= 1;
            }
            self.clock[self.samples] = (rtt, server - (sent + now_ms) / 2.0);
            self.samples += 1;
            // The quickest trip; of equal ones, the latest.
            let mut best = self.clock[0];
            for sample in &self.clock[1..self.samples] {
                if sample.0 <= best.0 {
                    best = *sample;
                }
            }
            self.clock_offset_ms = Some(best.1);
        }
    }

    /// Local time converted to the server's clock.
    pub fn server_now(&self, now_ms: f64) -> f64 {
        now_ms + self.clock_offset_ms.unwrap_or(0.0)
    }

    /// True when live but nothing arrived for `stale_ms`.
    pub fn is_stale(&self, now_ms: f64, stale_ms: f64) -> bool {
        self.live_since_ms.is_some() && self.last_message_ms.is_some_and(|t| now_ms - t > stale_ms)
    }
}

/// A duration in ms as `4 s`, `3 min`, `2 h 5 min`, `3 d 4 h`, with no-break spaces: a
/// narrow line breaks around it, not inside.
pub fn duration(ms: f64) -> String {
    let s = (ms.max(0.0) / 1000.0) as u64;
    match s {
        0..=59 => format!("{s}\u{a0}s"),
        60..=3599 => format!("{}\u{a0}min", s / 60),
        3600..=86_399 => format!("{}\u{a0}h\u{a0}{}\u{a0}min", s / 3600, s % 3600 / 60),
        _ => format!("{}\u{a0}d\u{a0}{}\u{a0}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set back an hour, the clock goes on from where it was at the browser clock's pace; set
    /// forward, it follows at once.
    #[test]
    fn the_steady_clock_never_goes_back() {
        let mut c = SteadyClock::new();
        assert_eq!(c.at(1_000_000.0), 1_000_000.0);
        assert_eq!(c.at(1_000_500.0), 1_000_500.0);
        assert_eq!(c.at(1_000_500.0 - 3_600_000.0), 1_000_500.0, "set back an hour");
        assert_eq!(c.at(1_000_500.0 - 3_600_000.0 + 250.0), 1_000_750.0, "then on at its pace");
        assert_eq!(c.at(1_000_500.0 - 3_600_000.0 + 100.0), 1_000_750.0, "set back again, a little");
        assert_eq!(c.shift(), 3_600_150.0, "ahead of the browser's clock by both steps");
        assert_eq!(c.at(5_000_000.0), 5_000_000.0 + 3_600_150.0, "a step forward is taken, in full");
    }

    const DAY: f64 = 86_400_000.0;

    #[test]
    fn reconnects_are_counted_per_local_day() {
        let mut h = Health::default();
        let day = |ms: f64| local_day(ms, 0);
        let again = |h: &mut Health, ms: f64| {
            h.disconnected(true);
            h.connected(ms, day(ms));
        };
        h.connected(10.0 * DAY + 1000.0, day(10.0 * DAY + 1000.0));
        assert_eq!(h.reconnects_on(10), 0, "the first connection is not a reconnect");
        again(&mut h, 10.0 * DAY + 2000.0);
        again(&mut h, 10.0 * DAY + 3000.0);
        assert_eq!(h.reconnects_on(10), 2);
        assert_eq!(h.reconnects_on(11), 0, "shown as none the next day, before any reconnect");
        again(&mut h, 11.0 * DAY + 1.0);
        assert_eq!(h.reconnects_on(11), 1, "a new day starts from zero");
        // 23:30 UTC is already tomorrow at UTC+1.
        let mut h = Health::default();
        h.connected(10.0 * DAY, local_day(10.0 * DAY, 60));
        h.disconnected(true);
        h.connected(11.0 * DAY - 1_800_000.0, local_day(11.0 * DAY - 1_800_000.0, 60));
        assert_eq!(h.reconnects_on(11), 1);
    }

    /// Only a connection that follows one lost is a reconnect: not the page's first, however
    /// many attempts it took, nor one made again as a page left for another is shown again; a
    /// connection lost, then its retry cut short by the page being left, still is.
    #[test]
    fn only_a_connection_lost_makes_a_reconnect() {
        let mut h = Health::default();
        h.connected(0.0, 0);
        assert_eq!(h.reconnects_on(0), 0, "the first, after failed attempts (no disconnection: never live)");
        h.disconnected(false);
        h.connected(1000.0, 0);
        assert_eq!(h.reconnects_on(0), 0, "back after the page was left");
        h.disconnected(true);
        h.connected(2000.0, 0);
        assert_eq!(h.reconnects_on(0), 1, "lost, then back");
        // Lost; the retry cut short as the page is left (no live connection ended: no
        // disconnection); shown again, it connects.
        h.disconnected(true);
        h.connected(3000.0, 0);
        assert_eq!(h.reconnects_on(0), 2);
    }

    /// After a reload, the page goes on with the count of the page before; its first connection
    /// is the one the page before counted (or no reconnect at all, at the nightly reload).
    #[test]
    fn reconnects_go_on_after_a_reload() {
        let mut before = Health::default();
        before.connected(10.0 * DAY, 10);
        before.disconnected(true);
        before.connected(10.0 * DAY + 1000.0, 10);
        let mut after = Health::default();
        let (day, count) = before.reconnects();
        after.restore_reconnects(day, count);
        after.connected(10.0 * DAY + 2000.0, 10);
        assert_eq!(after.reconnects_on(10), 1);
        after.disconnected(true);
        after.connected(10.0 * DAY + 3000.0, 10);
        assert_eq!(after.reconnects_on(10), 2);
        let mut next_day = Health::default();
        next_day.restore_reconnects(day, count);
        next_day.connected(11.0 * DAY, 11);
        assert_eq!(next_day.reconnects_on(11), 0, "yesterday's are not today's");
    }

    #[test]
    fn pongs_give_rtt_and_the_best_clock_offset() {
        let mut h = Health::default();
        h.connected(0.0, 0);
        h.message(100.0, Some(5_100.0));
        assert_eq!(h.clock_offset_ms, Some(5_000.0), "a first rough sample from a timestamp");
        h.ping_sent(1_000.0);
        h.pong(1_200.0, Some(6_000.0));
        assert_eq!(h.rtt_ms, Some(200.0));
        assert_eq!(h.clock_offset_ms, Some(4_900.0), "server time at the middle of the trip");
        h.ping_sent(2_000.0);
        h.pong(3_000.0, Some(9_999.0));
        assert_eq!(h.rtt_ms, Some(1_000.0));
        assert_eq!(h.clock_offset_ms, Some(4_900.0), "a slower trip is a worse sample: kept the old");
        assert_eq!(h.server_now(10.0), 4_910.0);
        h.pong(3_100.0, Some(1.0));
        assert_eq!(h.rtt_ms, Some(1_000.0), "a pong without a ping changes nothing");
        h.disconnected(true);
        assert_eq!(h.rtt_ms, None, "no round trip shown for a connection that is gone");
        assert_eq!(h.clock_offset_ms, Some(4_900.0), "the server's clock is still known");
    }

    #[test]
    fn the_clock_offset_follows_a_clock_set_right_within_its_window() {
        let mut h = Health::default();
        h.connected(0.0, 0);
        // One very quick trip (a clock step during the ping can make it 0 ms), offset 5 s.
        h.ping_sent(1_000.0);
        h.pong(1_000.0, Some(6_000.0));
        assert_eq!(h.clock_offset_ms, Some(5_000.0));
        // Then the server's clock is 2 s ahead of ours, seen through slower trips: the quick
        // sample decides until it is older than the window, then the newer ones do.
        for i in 1..=CLOCK_SAMPLES {
            let sent = 1_000.0 + 15_000.0 * i as f64;
            h.ping_sent(sent);
            h.pong(sent + 10.0, Some(sent + 5.0 + 2_000.0));
            let expected = if i < CLOCK_SAMPLES { 5_000.0 } else { 2_000.0 };
            assert_eq!(h.clock_offset_ms, Some(expected), "after {i} slower pongs");
        }
        // A reconnect (perhaps to another server) keeps the offset until the first pong.
        h.connected(200_000.0, 0);
        assert_eq!(h.clock_offset_ms, Some(2_000.0));
        h.ping_sent(200_000.0);
        h.pong(200_050.0, Some(200_025.0 - 300.0));
        assert_eq!(h.clock_offset_ms, Some(-300.0), "the new connection's first pong, however slow");
    }

    #[test]
    fn stale_means_live_and_silent() {
        let mut h = Health::default();
        assert!(!h.is_stale(1e9, 10.0), "not live is not stale, it is down");
        h.connected(0.0, 0);
        assert!(!h.is_stale(DEFAULT_STALE_MS, DEFAULT_STALE_MS));
        assert!(h.is_stale(DEFAULT_STALE_MS + 1.0, DEFAULT_STALE_MS));
        h.message(DEFAULT_STALE_MS, None);
        assert!(!h.is_stale(DEFAULT_STALE_MS + 1.0, DEFAULT_STALE_MS));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(4_000.0), "4\u{a0}s");
        assert_eq!(duration(180_000.0), "3\u{a0}min");
        assert_eq!(duration(7_500_000.0), "2\u{a0}h\u{a0}5\u{a0}min");
        assert_eq!(duration(3.0 * DAY + 4.0 * 3_600_000.0), "3\u{a0}d\u{a0}4\u{a0}h");
        assert_eq!(duration(-5.0), "0\u{a0}s");
    }
}
