//! Notifications received and not yet applied. The page applies them together (once per
//! animation frame, in chunks of a bounded size) so that a burst costs one redraw, not one per
//! message; the inbox itself is bounded, and when it is full everything is applied at once.

/// Notifications held at most before they are applied at once, whatever the frame rate.
pub const LIMIT: usize = 10_000;

/// Notifications applied in one task; a bigger backlog continues in the next task.
pub const CHUNK: usize = 2_000;

/// What the caller should do after [`Inbox::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// The inbox was empty: schedule a flush.
    First,
    /// A flush is already scheduled.
    Waiting,
    /// The inbox reached its limit: apply everything now.
    Full,
}

/// A bounded, ordered backlog.
#[derive(Debug, Clone)]
pub struct Inbox<T> {
    items: Vec<T>,
    limit: usize,
    chunk: usize,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Inbox::new(LIMIT, CHUNK)
    }
}

impl<T> Inbox<T> {
    pub fn new(limit: usize, chunk: usize) -> Inbox<T> {
        Inbox { items: Vec::new(), limit: limit.max(1), chunk: chunk.max(1) }
    }

    pub fn push(&mut self, item: T) -> Queued {
        self.items.push(item);
        if self.items.len() >= self.limit {
            Queued::Full
        } else if self.items.len() == 1 {
            Queued::First
        } else {
            Queued::Waiting
        }
    }

    /// Everything waiting, oldest first.
    pub fn take_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.items)
    }

    /// The oldest chunk, and whether more is waiting after it.
    pub fn take_chunk(&mut self) -> (Vec<T>, bool) {
        let rest = if self.items.len() > self.chunk { self.items.split_off(self.chunk) } else { Vec::new() };
        let chunk = std::mem::replace(&mut self.items, rest);
        (chunk, !self.items.is_empty())
    }
}

/// A redraw waits this many times as long as the previous one took beyond [`REDRAW_LONG_MS`],
/// after it ended.
pub const REDRAW_PACE: f64 = 2.0;

/// A redraw that took longer than this (ms, the long-task threshold) holds the next one back.
pub const REDRAW_LONG_MS: f64 = 100.0;

/// ... but never longer than this (ms).
pub const REDRAW_MAX_WAIT_MS: f64 = 1_000.0;

/// How often the screen may be redrawn while notifications keep coming: after a redraw that took
/// `t` > [`REDRAW_LONG_MS`], the next waits `REDRAW_PACE × (t − REDRAW_LONG_MS)`. A redraw that fits in a frame or a
/// few is never held back (changes show as soon as they can); in a burst that replaces every row
/// on screen, each redraw costs hundreds of milliseconds, and drawing every frame would leave no
/// time to take in what keeps arriving.
#[derive(Debug, Clone, Default)]
pub struct RedrawPace {
    ended_ms: f64,
    cost_ms: f64,
    /// A redraw is scheduled or running.
    pub pending: bool,
    /// Something changed while one was pending: draw again after it.
    again: bool,
    /// When a burst was last taken in (ms, as `Date.now()`).
    burst_asked_ms: f64,
    /// Changes taken in by bursts each within [`BURST_HOLD_MS`] of the one before.
    burst_changes: usize,
}

impl RedrawPace {
    /// How long to wait before the next redraw, from `now` (0: draw now).
    pub fn wait_ms(&self, now: f64) -> f64 {
        if self.cost_ms <= REDRAW_LONG_MS {
            return 0.0;
        }
        let due = self.ended_ms + ((self.cost_ms - REDRAW_LONG_MS) * REDRAW_PACE).min(REDRAW_MAX_WAIT_MS);
        (due - now).max(0.0)
    }

    /// [`RedrawPace::wait_ms`] for a burst's redraw: also at least [`BURST_INTERVAL_MS`] after
    /// the previous one ended, once the burst goes on.
    pub fn burst_wait_ms(&self, now: f64) -> f64 {
        if !self.burst_goes_on() {
            return self.wait_ms(now);
        }
        self.wait_ms(now).max(self.ended_ms + BURST_INTERVAL_MS - now)
    }

    /// A burst of `count` changes (more than a few at once) was taken in at `now`.
    pub fn burst(&mut self, now: f64, count: usize) {
        if now - self.burst_asked_ms > BURST_HOLD_MS {
            self.burst_changes = 0;
        }
        self.burst_changes = self.burst_changes.saturating_add(count);
        self.burst_asked_ms = now;
    }

    /// Whether the bursts of late have brought more than [`BURST_AT_ONCE`] changes: a burst that
    /// goes on, drawn at its pace. Fewer (what a producer or a network that stalled for a moment
    /// let through together, in a frame or two) are drawn at once.
    fn burst_goes_on(&self) -> bool {
        self.burst_changes > BURST_AT_ONCE
    }

    /// A redraw was asked for while one is pending.
    pub fn ask_again(&mut self) {
        self.again = true;
    }

    /// A redraw ran from `started` to `ended` (ms). Returns whether another is wanted and, if so,
    /// whether it is still a burst's (one that goes on, taken in within [`BURST_HOLD_MS`]): while
    /// a burst lasts its redraws keep its pace, and changes that come one by one after it, or
    /// after a short burst, are drawn at once.
    pub fn drawn(&mut self, started: f64, ended: f64) -> Option<bool> {
        self.ended_ms = ended;
        self.cost_ms = (ended - started).max(0.0);
        self.pending = false;
        std::mem::take(&mut self.again).then_some(self.burst_goes_on() && ended - self.burst_asked_ms < BURST_HOLD_MS)
    }
}

/// A burst (more than a few notifications at once) is drawn at most this often (ms). With 50,
/// a burst of 10,000 was consistent on screen in 0.65-0.98 s (median 0.74) against 0.80-1.02 s
/// (median 0.94) drawing as often as it could, eight runs each (BENCHMARKS.md); 100 was as fast
/// but drew longer tasks (one of 103 ms in seven runs).
pub const BURST_INTERVAL_MS: f64 = 50.0;
/// A redraw asked for while another was pending keeps a burst's pace if a burst was taken in
/// this recently (ms): without an end, changes at 100 a second after any busy moment of the page
/// kept every redraw at the burst's pace. A burst is drawn at its pace only when it goes on, more
/// than [`BURST_AT_ONCE`] changes taken in by bursts each this soon after the one before: a
/// short one, five changes that a producer's 40 ms stall let through together, held the changes
/// after it for 50-110 ms for a quarter of a second (BENCHMARKS.md).
pub const BURST_HOLD_MS: f64 = 4.0 * BURST_INTERVAL_MS;

/// Notifications that came faster than this (per ms: 500 a second, five times the rate the
/// screen follows change by change) are a burst. Those that piled up at 100 a second while the
/// page was busy for a moment are not: counted as one, their burst's pace (a redraw per
/// [`BURST_INTERVAL_MS`]) gathered five at a time, each time a burst again, and held every change
/// for 40-90 ms for a quarter of a second or more (BENCHMARKS.md).
pub const BURST_PER_MS: f64 = 0.5;

/// More than this many at once are a burst however slowly they were sent: a replay of what a
/// page missed, which it takes in as fast as a burst. A burst that has brought more than this
/// many goes on, drawn at its pace ([`BURST_HOLD_MS`]).
pub const BURST_AT_ONCE: usize = 64;

/// Notifications applied in one frame beyond which their redraw waits for a task of its own
/// (and a burst's pace), when they came as a burst. At 100 changes a second a frame applies one
/// or two; the first frame of a burst often applies a few dozen, and redrawing them there as
/// well made it the burst's one long task: with 16 rather than 64, sixteen bursts of 10,000 had
/// a task over 50 ms in 5 runs instead of 9; with 4 rather than 16 (cards kept in place), in 1
/// run instead of 5, as fast (BENCHMARKS.md).
pub const FEW: usize = 4;

/// Whether `count` notifications applied in one frame, sent over `span_ms` (by the broker's
/// clock: a page that was busy receives what piled up meanwhile all at once), are a burst: more
/// than [`FEW`], and sent faster than [`BURST_PER_MS`] or more than [`BURST_AT_ONCE`].
pub fn came_as_burst(count: usize, span_ms: f64) -> bool {
    count > FEW && (count > BURST_AT_ONCE || count as f64 > BURST_PER_MS * span_ms.max(0.0))
}

/// The feed is drawn at most this often (ms) while notifications keep coming.
pub const FEED_INTERVAL_MS: f64 = 100.0;

/// At most one redraw per `interval` ms: a redraw asked for sooner is put off until the interval
/// has passed since the last one, and all asked for meanwhile become that one.
#[derive(Debug, Clone)]
pub struct Throttle {
    interval_ms: f64,
    last_ms: f64,
    /// A redraw is put off and scheduled.
    pending: bool,
}

impl Throttle {
    pub fn new(interval_ms: f64) -> Throttle {
        Throttle { interval_ms, last_ms: f64::NEG_INFINITY, pending: false }
    }

    /// A redraw is wanted at `now`: `Some(0.0)` to draw now, `Some(wait)` to schedule one in
    /// `wait` ms, `None` when one is already scheduled.
    pub fn ask(&mut self, now: f64) -> Option<f64> {
        if self.pending {
            return None;
        }
        let wait = (self.last_ms + self.interval_ms - now).max(0.0);
        if wait > 0.0 {
            self.pending = true;
        } else {
            self.last_ms = now;
        }
        Some(wait)
    }

    /// The scheduled redraw runs at `now`.
    pub fn drawn(&mut self, now: f64) {
        self.pending = false;
        self.last_ms = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_that_piled_up_at_a_steady_rate_are_not_a_burst() {
        // 100 a second, held 80 ms by a busy page, or gathered by a burst's 50 ms pace.
        assert!(!came_as_burst(8, 80.0));
        assert!(!came_as_burst(5, 50.0));
        // A burst's first frame; a batch all sent in the same millisecond.
        assert!(came_as_burst(30, 16.0));
        assert!(came_as_burst(2_000, 0.0));
        // However fast, a few are drawn in the frame that takes them in.
        assert!(!came_as_burst(FEW, 0.0));
        assert!(came_as_burst(FEW + 1, 0.0));
        // A replay of half a minute missed: sent slowly, taken in at once.
        assert!(came_as_burst(2_000, 30_000.0));
        assert!(!came_as_burst(BURST_AT_ONCE, 1_000.0));
        assert!(came_as_burst(BURST_AT_ONCE + 1, 1_000.0));
        // The bound: more than half a change per millisecond.
        assert!(!came_as_burst(50, 100.0));
        assert!(came_as_burst(51, 100.0));
    }

    #[test]
    fn a_throttled_redraw_comes_at_once_when_rare_and_once_per_interval_when_not() {
        let mut t = Throttle::new(100.0);
        assert_eq!(t.ask(1_000.0), Some(0.0), "the first draws at once");
        assert_eq!(t.ask(1_030.0), Some(70.0), "30 ms later: put off to 100 ms after the last");
        assert_eq!(t.ask(1_050.0), None, "already scheduled: one redraw for both");
        t.drawn(1_100.0);
        assert_eq!(t.ask(1_150.0), Some(50.0));
        t.drawn(1_200.0);
        assert_eq!(t.ask(1_500.0), Some(0.0), "a while later: at once again");
        assert_eq!(t.ask(1_600.0), Some(0.0), "exactly one interval later: at once");
    }

    #[test]
    fn redraws_are_paced_by_what_the_last_one_cost() {
        let mut pace = RedrawPace::default();
        assert_eq!(pace.wait_ms(1_000.0), 0.0, "the first draws at once");
        assert_eq!(pace.drawn(1_000.0, 1_080.0), None);
        assert_eq!(pace.wait_ms(1_081.0), 0.0, "an 80 ms redraw: the next frame may draw");
        pace.ask_again();
        assert_eq!(pace.drawn(2_000.0, 2_300.0), Some(false), "asked for while it was pending");
        assert!(!pace.again);
        assert_eq!(pace.wait_ms(2_316.0), 384.0, "a 300 ms redraw: the next waits 400 ms after it");
        assert_eq!(pace.drawn(3_000.0, 5_000.0), None);
        assert_eq!(pace.wait_ms(5_000.0), REDRAW_MAX_WAIT_MS, "bounded");
    }

    #[test]
    fn a_bursts_redraws_come_at_most_once_per_interval() {
        let mut pace = RedrawPace::default();
        pace.burst(1_000.0, BURST_AT_ONCE + 1);
        assert_eq!(pace.burst_wait_ms(1_000.0), 0.0, "the first draws at once");
        assert_eq!(pace.drawn(1_000.0, 1_020.0), None);
        assert_eq!(pace.wait_ms(1_021.0), 0.0, "a few changes: the next frame may draw");
        assert_eq!(pace.burst_wait_ms(1_021.0), BURST_INTERVAL_MS - 1.0, "a burst: one interval after the last ended");
        assert_eq!(pace.burst_wait_ms(1_020.0 + BURST_INTERVAL_MS), 0.0, "at the interval: at once");
        assert_eq!(pace.drawn(2_000.0, 2_300.0), None);
        assert_eq!(pace.burst_wait_ms(2_316.0), 384.0, "a costly redraw holds a burst back as long as anything");
    }

    /// A page that once took in a few changes at once (a burst, by its size) must not go on
    /// drawing everything after at a burst's pace: changes arriving at 100 a second kept a
    /// pending redraw asked for again, and each came 50 ms after the last.
    #[test]
    fn the_pace_of_a_burst_ends_with_the_burst() {
        let mut pace = RedrawPace::default();
        pace.burst(1_000.0, 300);
        pace.ask_again();
        assert_eq!(pace.drawn(1_000.0, 1_010.0), Some(true), "a burst asked: drawn at its pace");
        // Its own redraws asked for again do not make it last.
        pace.ask_again();
        assert_eq!(pace.drawn(1_060.0, 1_065.0), Some(true), "while the burst may go on: still its pace");
        pace.ask_again();
        assert_eq!(pace.drawn(1_290.0, 1_000.0 + BURST_HOLD_MS + 100.0), Some(false), "after it: at once");
        assert_eq!(pace.drawn(1_400.0, 1_405.0), None, "nothing asked for");
    }

    /// A few changes let through together by a stalled producer are a burst by their rate, but
    /// a short one: they and the changes after them are drawn at once, not at a burst's pace.
    #[test]
    fn a_short_burst_is_drawn_at_once_and_only_one_that_goes_on_at_its_pace() {
        let mut pace = RedrawPace::default();
        pace.drawn(980.0, 990.0);
        pace.burst(1_000.0, 8);
        assert_eq!(pace.burst_wait_ms(1_000.0), 0.0, "a short burst: at once, 10 ms after the last redraw");
        pace.ask_again();
        assert_eq!(pace.drawn(1_000.0, 1_005.0), Some(false), "what came meanwhile: at once too");
        // The rest of it, taken in by the next frame: still short.
        pace.burst(1_016.0, 13);
        assert_eq!(pace.burst_wait_ms(1_016.0), 0.0);
        pace.ask_again();
        assert_eq!(pace.drawn(1_016.0, 1_020.0), Some(false));
        // More, at the end of the hold of the last: at the bound, still short.
        pace.drawn(1_190.0, 1_195.0);
        pace.burst(1_016.0 + BURST_HOLD_MS, BURST_AT_ONCE - 21);
        assert_eq!(pace.burst_wait_ms(1_216.0), 0.0, "exactly the bound: at once");
        // One more: past the bound, the burst goes on, at its pace.
        pace.burst(1_220.0, 1);
        assert_eq!(pace.burst_wait_ms(1_220.0), BURST_INTERVAL_MS - 25.0, "one interval after the last redraw ended");
        pace.ask_again();
        assert_eq!(pace.drawn(1_245.0, 1_250.0), Some(true));
        // A burst just after the hold starts the count again.
        pace.burst(1_221.0 + BURST_HOLD_MS, 10);
        assert_eq!(pace.burst_wait_ms(1_421.0), 0.0);
        pace.ask_again();
        assert_eq!(pace.drawn(1_421.0, 1_425.0), Some(false));
    }

    #[test]
    fn the_first_schedules_the_rest_wait_and_the_limit_forces_a_flush() {
        let mut inbox = Inbox::new(3, 2);
        assert_eq!(inbox.push(1), Queued::First);
        assert_eq!(inbox.push(2), Queued::Waiting);
        assert_eq!(inbox.push(3), Queued::Full, "at the limit");
        assert_eq!(inbox.take_all(), vec![1, 2, 3]);
        assert_eq!(inbox.push(4), Queued::First, "empty again");
    }

    #[test]
    fn chunks_come_oldest_first_and_say_when_more_waits() {
        let mut inbox = Inbox::new(LIMIT, 2);
        for i in 0..5 {
            inbox.push(i);
        }
        assert_eq!(inbox.take_chunk(), (vec![0, 1], true));
        assert_eq!(inbox.take_chunk(), (vec![2, 3], true));
        assert_eq!(inbox.take_chunk(), (vec![4], false));
        assert_eq!(inbox.take_chunk(), (vec![], false));
    }

    #[test]
    fn the_default_bound_is_ten_thousand() {
        let mut inbox = Inbox::default();
        for i in 0..LIMIT - 1 {
            assert_ne!(inbox.push(i), Queued::Full);
        }
        assert_eq!(inbox.push(LIMIT), Queued::Full);
        let (chunk, more) = inbox.take_chunk();
        assert_eq!((chunk.len(), more), (CHUNK, true));
    }
}
