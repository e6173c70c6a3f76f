//! The connection's state as shown on screen, and the reconnect backoff.

use crate::state::i18n::Lang;

/// What the screen says about the connection.
#[derive(Debug, Clone, Copy)]
pub enum ConnState {
    /// The first attempt since the page opened, or since it was shown again after it was left
    /// (back from the back-forward cache): not a reconnect.
    Connecting,
    /// Connected and receiving.
    Live,
    /// Waiting to try again: attempt number and when (ms since the epoch).
    Reconnecting { attempt: u32, next_try_ms: f64 },
    /// The browser reports no network; retrying continues.
    Offline { attempt: u32, next_try_ms: f64 },
}

impl ConnState {
    /// Connected and receiving. (A `match`, not a derived `==`, which compares the `f64`s of
    /// the other states: the page's code is smaller so.)
    pub fn is_live(self) -> bool {
        matches!(self, ConnState::Live)
    }

    /// The `data-state` value: `connecting`, `live`, `reconnecting`, `offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Live => "live",
            ConnState::Reconnecting { .. } => "reconnecting",
            ConnState::Offline { .. } => "offline",
        }
    }

    /// The label on screen at `now_ms`.
    pub fn label(self, now_ms: f64, lang: Lang) -> String {
        let secs = |t: f64| ((t - now_ms) / 1000.0).ceil().max(0.0) as u64;
        match (self, lang) {
            (ConnState::Connecting, _) => lang.t("Conectando…", "Connecting…").to_owned(),
            (ConnState::Live, _) => lang.t("En vivo", "Live").to_owned(),
            (ConnState::Reconnecting { attempt, next_try_ms }, Lang::Es) if next_try_ms > now_ms => {
                format!("Reconectando · intento {attempt} en {} s", secs(next_try_ms))
            }
            (ConnState::Reconnecting { attempt, next_try_ms }, Lang::En) if next_try_ms > now_ms => {
                format!("Reconnecting · attempt {attempt} in {} s", secs(next_try_ms))
            }
            (ConnState::Reconnecting { attempt, .. }, Lang::Es) => format!("Reconectando · intento {attempt}…"),
            (ConnState::Reconnecting { attempt, .. }, Lang::En) => format!("Reconnecting · attempt {attempt}…"),
            (ConnState::Offline { .. }, _) => lang.t("Sin red · reintentando", "No network · retrying").to_owned(),
        }
    }
}

/// A probe (the network back, the page shown, the machine awake) comes to every screen of an
/// office at the same moment: a reconnect waiting for its time then happens at a random moment
/// of the next this many ms, not at once, and never later than it would have.
pub const PROBE_SPREAD_MS: f64 = 2_000.0;

/// The wait before reconnecting after a probe, with `left_ms` left of the backoff's wait and a
/// uniform random number in `[0, 1)`. A wait already within the spread stays as it is: probes
/// that come together (the page shown and restored, the network flapping) would otherwise each
/// draw again, and the soonest of several draws bunches the screens at the spread's start.
pub fn wait_after_probe(left_ms: f64, random: f64) -> f64 {
    if left_ms <= PROBE_SPREAD_MS {
        return left_ms.max(0.0);
    }
    random.clamp(0.0, 1.0) * PROBE_SPREAD_MS
}

/// Exponential backoff with full jitter: attempt `n` waits a uniformly random time in
/// `[floor, min(cap, base · 2ⁿ⁻¹)]` (spread over all of it: none piles up at the floor). The
/// attempt count resets once a connection has been stable for `stable_ms`.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// First ceiling in ms (default 1000).
    pub base_ms: f64,
    /// Largest ceiling in ms (default 30 000).
    pub cap_ms: f64,
    /// Shortest wait in ms, so a flapping broker is not hammered (default 250).
    pub floor_ms: f64,
    /// A connection that lasted this long resets the attempt count (default 10 000).
    pub stable_ms: f64,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base_ms: 1000.0, cap_ms: 30_000.0, floor_ms: 250.0, stable_ms: 10_000.0, attempt: 0 }
    }
}

impl Backoff {
    /// The next attempt's number and wait in ms, given a uniform random number in `[0, 1)`.
    pub fn next_delay(&mut self, random: f64) -> (u32, f64) {
        self.attempt = self.attempt.saturating_add(1);
        let exp = (self.attempt - 1).min(30) as i32;
        let ceiling = (self.base_ms * 2f64.powi(exp)).min(self.cap_ms);
        let floor = self.floor_ms.min(ceiling);
        let delay = floor + random.clamp(0.0, 1.0) * (ceiling - floor);
        (self.attempt, delay)
    }

    /// Call when a connection ends after lasting `lasted_ms`: a stable one resets the count.
    pub fn connection_ended(&mut self, lasted_ms: f64) {
        if lasted_ms >= self.stable_ms {
            self.attempt = 0;
        }
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let mut b = Backoff::default();
        let ceilings: Vec<f64> = (0..8).map(|_| b.next_delay(0.999_999).1.round()).collect();
        assert_eq!(ceilings, [1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 30000.0, 30000.0, 30000.0]);
    }

    #[test]
    fn jitter_spreads_over_the_whole_window_with_a_floor() {
        let mut b = Backoff::default();
        for _ in 0..5 {
            b.next_delay(0.5);
        }
        let mut low = b.clone();
        let mut mid = b.clone();
        assert_eq!(low.next_delay(0.0).1, 250.0);
        assert_eq!(mid.next_delay(0.5).1, 15_125.0);
    }

    /// Pages cut off together (a broker restart) come back spread over the whole window: none
    /// piles up at the floor, where a wait cut to it would send many at the same moment.
    #[test]
    fn first_retries_are_spread_evenly_not_piled_at_the_floor() {
        let delays: Vec<f64> = (0..1000).map(|i| Backoff::default().next_delay(f64::from(i) / 1000.0).1).collect();
        let mut buckets = [0u32; 8];
        for d in &delays {
            assert!((250.0..1000.0).contains(d), "{d}");
            buckets[((d - 250.0) / 750.0 * 8.0) as usize] += 1;
        }
        assert!(buckets.iter().all(|n| (115..=135).contains(n)), "{buckets:?}");
    }

    #[test]
    fn it_never_gives_up_and_resets_after_a_stable_connection() {
        let mut b = Backoff::default();
        for _ in 0..10_000 {
            let (_, d) = b.next_delay(0.3);
            assert!(d > 0.0 && d <= 30_000.0);
        }
        assert_eq!(b.attempt(), 10_000);
        b.connection_ended(500.0);
        assert_eq!(b.attempt(), 10_000, "a short connection does not reset");
        b.connection_ended(10_000.0);
        assert_eq!(b.next_delay(0.999).0, 1);
    }

    /// Screens that all hear the network come back at once reconnect spread over the next 2 s,
    /// none later than its backoff said.
    #[test]
    fn a_probe_cuts_the_wait_to_a_random_moment_of_the_next_two_seconds() {
        let waits: Vec<f64> = (0..1000).map(|i| wait_after_probe(20_000.0, f64::from(i) / 1000.0)).collect();
        let mut buckets = [0u32; 4];
        for w in &waits {
            assert!((0.0..PROBE_SPREAD_MS).contains(w), "{w}");
            buckets[(w / PROBE_SPREAD_MS * 4.0) as usize] += 1;
        }
        assert_eq!(buckets, [250; 4]);
        assert_eq!(wait_after_probe(300.0, 0.9), 300.0, "never later than the backoff's time");
        assert_eq!(wait_after_probe(-5.0, 0.9), 0.0);
        // A second probe of the same wait draws nothing again: it would pull the wait earlier.
        let first = wait_after_probe(20_000.0, 0.6);
        assert_eq!(wait_after_probe(first, 0.1), first);
        assert_eq!(wait_after_probe(PROBE_SPREAD_MS, 0.1), PROBE_SPREAD_MS);
    }

    #[test]
    fn labels_count_down() {
        let s = ConnState::Reconnecting { attempt: 3, next_try_ms: 5_500.0 };
        assert_eq!(s.label(1_000.0, Lang::Es), "Reconectando · intento 3 en 5 s");
        assert_eq!(s.label(1_000.0, Lang::En), "Reconnecting · attempt 3 in 5 s");
        assert_eq!(s.as_str(), "reconnecting");
        assert_eq!(ConnState::Live.as_str(), "live");
    }
}
