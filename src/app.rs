//! The app: the signals that hold the state, the handler that feeds broker frames into them,
//! and the page layout.

use std::rc::Rc;
use std::time::Duration;

use furniture_protocol::{decode_server, CatalogEntry, Notification, ServerFrame, SyncRequest};
use leptos::prelude::*;

use crate::browser::{now_ms, page_visible, tz_offset_minutes, wall_ms};
use crate::components::{catalog::CatalogPanel, feed::FeedPanel, status::StatusBar, toasts::ToastStack};
use crate::state::activity::Activity;
use crate::state::catalog_view::{join_part, next_hundred, wall_page_label, CatalogView, SortBy};
use crate::state::connection::ConnState;
use crate::state::diagnostics::{Diagnostics, Direction};
use crate::state::diff::diff;
use crate::state::feed::{Feed, FeedFilter, GapReason, Origin, Saved, DEFAULT_FEED_CAP};
use crate::state::health::{local_day, Health};
use crate::state::i18n::Lang;
use crate::state::inbox::{came_as_burst, Inbox, Queued, RedrawPace, Throttle, FEED_INTERVAL_MS};
use crate::state::settings::Settings;
use crate::state::reload::{after_outage_due, local_minute, nightly_due, reload_minute, ReloadReason, DEFAULT_RELOAD_HOUR};
use crate::state::snapshot::Snapshot;
use crate::state::toasts::{Announcer, ToastPolicy, Toasts};
use crate::ws::{connect_forever, ConnectionOptions, Probe, WsEvent};

/// How long after a reconnect a broker has to answer `sync` before the dashboard decides it is
/// a broker without the extension and marks a gap in the feed.
const SYNC_GRACE_MS: f64 = 3_000.0;

/// The sessionStorage key of the snapshot a wall screen saves before reloading itself.
pub const SNAPSHOT_KEY: &str = "furniture-dashboard.snapshot";

/// How often a wall screen's layout drifts to a new offset (1 to 4 px), in seconds.
const DRIFT_EVERY_SECS: u64 = 300;

/// The time (ms) over which the broker sent `chunk`, by its timestamps; 0 when it gave none.
fn sent_over_ms(chunk: &[(Notification, f64, f64)]) -> f64 {
    let times = || chunk.iter().filter_map(|(n, ..)| n.timestamp).map(|t| t.unix_millis());
    (times().fold(f64::NEG_INFINITY, f64::max) - times().fold(f64::INFINITY, f64::min)).max(0.0)
}

/// A synced catalog's cards are drawn this many at first (a screenful: six rows of four on a
/// wall screen), then all in the next task.
const FIRST_CARDS: usize = 24;

/// Where the catalog on screen comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CatalogSource {
    /// Not known yet: no broker has welcomed the page, or the one that did (at this time, ms)
    /// may still answer `sync`.
    Waiting(Option<f64>),
    /// Only what this page saw live, since then (ms): the broker did not answer `sync`.
    LiveSince(f64),
    /// The broker's own catalog, as of this `seq`.
    Synced { seq: u64 },
}

/// The screen wake lock of a wall screen.
#[derive(Debug, Clone, PartialEq)]
pub enum WakeLock {
    /// Not asked for (desk mode) or not yet answered.
    Idle,
    /// The screen stays on.
    Held,
    /// The browser has no wake lock.
    Unsupported,
    /// Asked for and refused (the reason, as the browser gave it).
    Refused(String),
}

/// Everything on screen, one signal per panel so a change touches only its panel.
#[derive(Clone, Copy)]
pub struct Live {
    /// Wall-screen mode (`?kiosk`).
    pub kiosk: bool,
    /// The screen's language (`?lang=es|en`).
    pub lang: Lang,
    /// When this page was opened (ms).
    pub opened_ms: f64,
    /// The local minute of the day of a wall screen's nightly reload: a random one in the first
    /// half of the hour `?reload_hour=` (default 3).
    pub reload_at: u32,
    /// Seconds a wall screen shows each page of its catalog (`?page_seconds=`, 0: never pages).
    pub page_every: u64,
    /// Which page of how many the wall's catalog shows ("página 2 de 5"; empty for one page),
    /// and of which cards, when it has more than it draws ("101–200 de 340 · página 2 de 5").
    pub catalog_page: RwSignal<String>,
    /// Where in the catalog's order the hundred cards a wall draws begin (0 on a desk). Items
    /// created or deleted ahead of them move them by as many places: a card at their edge may
    /// then be shown twice in a round, or wait for the next.
    pub catalog_from: RwSignal<usize>,
    /// When the wall's catalog last went on a page (ms; none before the first tick).
    paged_at: StoredValue<Option<f64>>,
    pub conn: RwSignal<ConnState>,
    pub health: RwSignal<Health>,
    /// Server time minus local time (ms): changes only when the estimate does, so that the many
    /// "n min ago" labels do not re-render on every frame.
    clock_offset_ms: RwSignal<f64>,
    pub wake_lock: RwSignal<WakeLock>,
    /// Wall screens shift the whole layout by a few pixels every few minutes against burn-in.
    pub drift_px: RwSignal<(i32, i32)>,
    /// The latest summary for screen readers (at most one every 10 s).
    pub announcement: RwSignal<String>,
    announcer: StoredValue<Announcer>,
    /// Notifications received and not yet applied: they are applied together once per animation
    /// frame, so a burst costs one render, not one per message.
    inbox: StoredValue<Inbox<(Notification, f64, f64)>>,
    /// When the screen may be redrawn next while notifications keep coming.
    pace: StoredValue<RedrawPace>,
    /// The feed's redraws, at most one per [`FEED_INTERVAL_MS`].
    feed_pace: StoredValue<Throttle>,
    pub url: StoredValue<String>,
    pub clients: RwSignal<Option<u64>>,
    pub feed: RwSignal<Feed>,
    /// Notifications per minute, the last hour.
    pub activity: RwSignal<Activity>,
    /// What the feed shows (desk only).
    pub filter: RwSignal<FeedFilter>,
    pub catalog: RwSignal<CatalogView>,
    /// Live items per material (`CatalogView::material_counts`), counted once per change for the
    /// catalog's chips and the material chart alike; unchanged counts notify neither.
    pub material_counts: Memo<Vec<(String, usize)>>,
    /// The catalog's order (`?sort=name|newest|size`).
    pub sort: RwSignal<SortBy>,
    /// Cards grouped by material (`?group=material`).
    pub group_by_material: RwSignal<bool>,
    /// At most this many cards drawn for now: [`FIRST_CARDS`] while a synced catalog's first
    /// screenful is drawn, else no cap (the page's own limit applies).
    pub card_cap: RwSignal<usize>,
    pub toasts: RwSignal<Toasts>,
    pub source: RwSignal<CatalogSource>,
    pub diagnostics: RwSignal<Diagnostics>,
    /// The diagnostics overlay is open (`?debug`, or the D key).
    pub debug: RwSignal<bool>,
    /// The clock, ticking every second, for countdowns and "n s ago".
    pub now: RwSignal<f64>,
    /// Whole minutes of the clock: changes once a minute. Old cards' "n min ago" follows this
    /// instead of `now`, so a big catalog is not re-rendered every second. A whole number in an
    /// `f64`, as `now` is: one type of signal for the three, so its code is in the wasm once.
    pub minutes: RwSignal<f64>,
    /// Whole ten-minute periods of the clock, for "n h ago".
    pub ten_minutes: RwSignal<f64>,
    // Not drawn: stored values, which spare the code that notifies a signal's subscribers.
    /// The broker's `seq` numbering last seen (our broker's `stream`).
    stream: StoredValue<Option<String>>,
    /// Set while disconnected: since when (ms).
    down_since: StoredValue<Option<f64>>,
    /// After a reconnect, the outage waiting to be filled by `sync`: (from, to, since when the
    /// broker has had to answer: its welcome; infinite for a broker that numbers its changes,
    /// which answers however late, and for one restored from before a reload until the first
    /// welcome).
    pending_gap: StoredValue<Option<(f64, f64, f64)>>,
    /// The catalog entries of the `sync_part` frames received so far, until the `sync` reply
    /// they precede (parts are taken while they hold fewer than the catalog's own limit,
    /// `DEFAULT_MAX_ITEMS`).
    sync_parts: StoredValue<Vec<CatalogEntry>>,
}

impl Live {
    /// The state of a page that connects to `url`, before anything arrived.
    pub fn new(url: String, kiosk: bool, lang: Lang) -> Live {
        let now = now_ms();
        let catalog = RwSignal::new(CatalogView::default());
        Live {
            kiosk,
            lang,
            opened_ms: now,
            reload_at: DEFAULT_RELOAD_HOUR * 60,
            page_every: crate::state::catalog_view::DEFAULT_PAGE_SECONDS,
            catalog_page: RwSignal::new(String::new()),
            catalog_from: RwSignal::new(0),
            paged_at: StoredValue::new(None),
            conn: RwSignal::new(ConnState::Connecting),
            health: RwSignal::new(Health::default()),
            clock_offset_ms: RwSignal::new(0.0),
            wake_lock: RwSignal::new(WakeLock::Idle),
            drift_px: RwSignal::new((0, 0)),
            announcement: RwSignal::new(String::new()),
            announcer: StoredValue::new(Announcer::default()),
            inbox: StoredValue::new(Inbox::default()),
            pace: StoredValue::new(RedrawPace::default()),
            feed_pace: StoredValue::new(Throttle::new(FEED_INTERVAL_MS)),
            url: StoredValue::new(url),
            clients: RwSignal::new(None),
            feed: RwSignal::new(Feed::default()),
            filter: RwSignal::new(FeedFilter::default()),
            activity: RwSignal::new(Activity::whole_from(now)),
            catalog,
            material_counts: Memo::new(move |_| catalog.with(|c| c.material_counts())),
            sort: RwSignal::new(SortBy::default()),
            group_by_material: RwSignal::new(false),
            card_cap: RwSignal::new(usize::MAX),
            toasts: RwSignal::new(Toasts::new(if kiosk { ToastPolicy::wall() } else { ToastPolicy::desk() }).with_lang(lang)),
            source: RwSignal::new(CatalogSource::Waiting(None)),
            diagnostics: RwSignal::new(Diagnostics::default()),
            debug: RwSignal::new(false),
            now: RwSignal::new(now),
            minutes: RwSignal::new((now / 60_000.0).floor()),
            ten_minutes: RwSignal::new((now / 600_000.0).floor()),
            stream: StoredValue::new(None),
            down_since: StoredValue::new(None),
            pending_gap: StoredValue::new(None),
            sync_parts: StoredValue::new(Vec::new()),
        }
    }

    /// Handles one event of the connection loop; may answer with a frame to send. Public so
    /// that component tests can play frames into a mounted page without a socket.
    pub fn on_event(&self, event: WsEvent) -> Option<String> {
        match event {
            WsEvent::State(state) => {
                let was_live = self.conn.get_untracked().is_live();
                if !state.is_live() && was_live {
                    self.down_since.set_value(Some(now_ms()));
                    self.clients.set(None);
                    // Closed as the page was left (it connects anew when shown): not lost.
                    self.health.update(|h| h.disconnected(!matches!(state, ConnState::Connecting)));
                }
                if state.is_live() && !was_live {
                    let now = now_ms();
                    let day = local_day(wall_ms(now), tz_offset_minutes());
                    self.health.update(|h| h.connected(now, day));
                }
                if let ConnState::Reconnecting { attempt, next_try_ms } | ConnState::Offline { attempt, next_try_ms } = state {
                    let now = now_ms();
                    self.diagnostics.update(|d| d.reconnect(now, attempt, next_try_ms - now));
                }
                self.conn.set(state);
                None
            }
            WsEvent::PingSent => {
                let now = now_ms();
                self.health.update(|h| h.ping_sent(now));
                self.diagnostics.update(|d| d.frame(now, Direction::Out, r#"{"type":"ping"}"#));
                None
            }
            WsEvent::Closed { code, reason } => {
                self.diagnostics.update(|d| d.closed(now_ms(), code, reason));
                None
            }
            WsEvent::Frame(text) => {
                let now = now_ms();
                // A `batch` frame is its frames one after the other (our broker sends no frame
                // that wants an answer in one, but the last answer would go).
                let frames = furniture_protocol::split_batch(&text).unwrap_or_else(|| vec![text.as_str()]);
                let mut reply = None;
                for frame in frames {
                    // Untracked: a burst of frames redraws the overlay once (`redraw`), not per
                    // frame.
                    self.diagnostics.update_untracked(|d| d.frame(now, Direction::In, frame));
                    if let Some(out) = self.on_frame(frame) {
                        self.diagnostics.update(|d| d.frame(now, Direction::Out, &out));
                        reply = Some(out);
                    }
                }
                reply
            }
        }
    }

    fn on_frame(&self, text: &str) -> Option<String> {
        let now = now_ms();
        let frame = decode_server(text);
        let server_ms = match &frame {
            ServerFrame::Welcome { timestamp, .. } => timestamp.map(|t| t.unix_millis()),
            ServerFrame::Notification(n) => n.timestamp.map(|t| t.unix_millis()),
            _ => None,
        };
        if let ServerFrame::Pong { timestamp, client_count } = &frame {
            self.health.update(|h| h.pong(now, timestamp.map(|t| t.unix_millis())));
            // Our broker says how many clients it has now (the welcome's count goes stale).
            if let Some(n) = *client_count {
                if self.clients.get_untracked() != Some(n) {
                    self.clients.set(Some(n));
                }
            }
        } else {
            // Notified with the batch (`redraw`), or just below for other frames.
            self.health.update_untracked(|h| h.message(now, server_ms));
        }
        if !matches!(frame, ServerFrame::Notification(_)) {
            self.health.notify();
            self.diagnostics.notify();
        }
        let offset = self.health.with_untracked(|h| h.clock_offset_ms.unwrap_or(0.0));
        if offset != self.clock_offset_ms.get_untracked() {
            self.clock_offset_ms.set(offset);
        }
        let server_now = now + offset;
        if !matches!(frame, ServerFrame::Notification(_) | ServerFrame::Pong { .. }) {
            // Whatever came before this frame is applied before it.
            self.flush_all();
        }
        match frame {
            ServerFrame::Welcome { client_count, stream, .. } => {
                // Parts of a reply that a lost connection cut short.
                self.sync_parts.set_value(Vec::new());
                // Each welcome starts the wait for the answer to `sync` anew; so does one
                // without a numbering after a broker that synced (the Python one put back at the
                // address): what comes from now on is only what the page sees live.
                if matches!((self.source.get_untracked(), &stream), (CatalogSource::Waiting(_), _) | (CatalogSource::Synced { .. }, None)) {
                    self.source.set(CatalogSource::Waiting(Some(now)));
                }
                self.clients.set(client_count);
                let numbered = stream.is_some();
                let mut renumbered = false;
                if stream.is_some() && stream != self.stream.get_value() {
                    if self.stream.get_value().is_some() {
                        // The broker started its numbering over: our last seq means nothing now.
                        self.feed.update(Feed::new_stream);
                        renumbered = true;
                    }
                    self.stream.set_value(stream);
                }
                let mut outage_ms = None;
                // A broker that numbers its changes (ours) answers `sync`, however late (a big
                // catalog, a busy machine): what was missed waits for its answer. From the others
                // (the Python one) it waits `SYNC_GRACE_MS`, then is marked as a gap.
                let grace_from = if numbered { f64::INFINITY } else { now };
                if let Some(from) = self.down_since.get_value() {
                    self.down_since.set_value(None);
                    // An outage whose answer never came (the connection lost again at once)
                    // is part of this one.
                    let start = self.pending_gap.get_value().map_or(from, |(earlier, _, _)| earlier.min(from));
                    self.pending_gap.set_value(Some((start, now, grace_from)));
                    outage_ms = Some(now - from);
                } else if let Some((from, _, _)) = self.pending_gap.get_value().filter(|g| g.2.is_infinite()) {
                    // What a page that reloaded itself missed: this is the welcome it waited for.
                    self.pending_gap.set_value(Some((from, now, grace_from)));
                }
                if renumbered {
                    // Whatever was missed belongs to a state the broker no longer has: the feed
                    // says why the catalog changed under the cards instead.
                    self.new_state(now);
                }
                if self.kiosk && outage_ms.is_some_and(after_outage_due) {
                    self.save_and_reload(ReloadReason::AfterOutage);
                    return None;
                }
                // Our broker answers with its catalog (a large one in parts: one browser task
                // each) and what we missed, and from then on sends what piles up for us in
                // `batch` frames (one browser task for many); others ignore it.
                let mut since = 0;
                self.feed.update_untracked(|f| since = f.ask_since());
                Some(SyncRequest { since: Some(since), batch: true, parts: true }.encode())
            }
            ServerFrame::Notification(n) => {
                self.queue(n, now, server_now);
                None
            }
            ServerFrame::SyncPart(entries) => {
                let limit = furniture_protocol::catalog::DEFAULT_MAX_ITEMS;
                if self.sync_parts.try_update_value(|p| join_part(p, entries, limit)) == Some(false) {
                    self.diagnostics.update(|d| d.invalid(now, "sync_part past the catalog's limit".into()));
                }
                None
            }
            ServerFrame::Sync(mut reply) => {
                let mut catalog = self.sync_parts.try_update_value(std::mem::take).unwrap_or_default();
                catalog.append(&mut reply.catalog);
                let first_sync = !matches!(self.source.get_untracked(), CatalogSource::Synced { .. });
                // Asked from the numbering's start (a new one), whose history it need not keep.
                let from_start = self.feed.with_untracked(|f| f.last_seq()).is_none();
                // A page that reloaded itself asks from what the page before saw: what it is given
                // back was missed, as after an outage.
                let origin = if first_sync && self.feed.with_untracked(Feed::asked) == 0 { Origin::History } else { Origin::Recovered };
                // Behind what we saw of its numbering (its state put back from a copy): the seqs
                // it hands out next are not the ones we saw.
                let behind = self.feed.with_untracked(|f| f.last_seq()).is_some_and(|seen| reply.seq < seen);
                if behind {
                    self.feed.update_untracked(Feed::new_stream);
                    self.new_state(now);
                }
                // Taken in now, drawn in the next task: a big catalog's take-in and its drawing
                // are two tasks instead of one long one.
                let mut complete = reply.complete;
                self.feed.update_untracked(|f| {
                    complete = f.synced(reply.seq, complete, reply.missed.first().and_then(|n| n.seq));
                    for n in &reply.missed {
                        if f.push(n, now, origin) {
                            let at = n.timestamp.map_or(now, |t| t.unix_millis() - offset);
                            self.activity.update_untracked(|a| {
                                a.record(at);
                                // Asked from the numbering's start: what the history holds is
                                // whole from its first notification (from the start, below,
                                // when it goes back to it).
                                if from_start {
                                    a.whole_since = a.whole_since.min(at);
                                }
                            });
                        }
                    }
                });
                if from_start && reply.complete {
                    self.activity.update_untracked(|a| a.whole_since = 0.0);
                }
                self.catalog.update_untracked(|c| {
                    c.replace(catalog, server_now);
                    c.tell_last_actions(&reply.missed);
                });
                self.source.update_untracked(|s| *s = CatalogSource::Synced { seq: reply.seq });
                if let Some((from, to, _)) = self.pending_gap.get_value() {
                    self.pending_gap.set_value(None);
                    if !complete {
                        self.gap(from, to, GapReason::HistoryTooShort);
                    }
                } else if !complete && !first_sync && !from_start && !behind {
                    self.gap(now, now, GapReason::HistoryTooShort);
                }
                // Drawn in the tasks that follow.
                let live = *self;
                set_timeout(move || live.draw_synced(), std::time::Duration::ZERO);
                None
            }
            ServerFrame::Pong { .. } => None,
            ServerFrame::Unknown { kind } => {
                self.diagnostics.update(|d| d.unknown(now, &kind));
                None
            }
            // The dashboard only reads; a refusal can only answer something it never sends.
            ServerFrame::Error { reason, .. } => {
                self.diagnostics.update(|d| d.unknown(now, &format!("error: {reason}")));
                None
            }
            ServerFrame::Invalid(reason) => {
                leptos::logging::warn!("unusable frame from the broker: {reason}");
                self.diagnostics.update(|d| d.invalid(now, reason));
                None
            }
        }
    }

    /// Holds a notification until the next animation frame (or, in a hidden page, the next
    /// timer), when [`Live::flush`] applies everything received meanwhile at once.
    fn queue(&self, n: Notification, now: f64, server_now: f64) {
        match self.inbox.try_update_value(|q| q.push((n, now, server_now))) {
            // Frames are not coming (a throttled page, a stalled renderer): apply now, bounded.
            Some(Queued::Full) => self.flush_all(),
            Some(Queued::First) if page_visible() => {
                let live = *self;
                request_animation_frame(move || live.flush());
            }
            Some(Queued::First) => self.flush_soon(),
            _ => {}
        }
    }

    /// Flushes in the next task.
    fn flush_soon(&self) {
        let live = *self;
        set_timeout(move || live.flush(), std::time::Duration::ZERO);
    }

    /// Applies everything waiting, whatever its size, then redraws once (when anything was
    /// waiting: this runs before every frame that is not a notification).
    fn flush_all(&self) {
        self.apply_waiting(page_visible());
    }

    /// [`Live::flush_all`], the changes taken as seen (`visible`: toasts) or not (counted for the
    /// "while you were away" digest).
    fn apply_waiting(&self, visible: bool) {
        let waiting = self.inbox.try_update_value(Inbox::take_all).unwrap_or_default();
        if waiting.is_empty() {
            return;
        }
        for (n, now, server_now) in waiting {
            self.apply_notification(n, now, server_now, visible);
        }
        self.redraw();
    }

    /// Applies the notifications waiting in the inbox, in order, a chunk per task so that no
    /// task runs long, and redraws when the inbox is empty: a burst of thousands costs one
    /// render, not one per message or per chunk; while they keep coming, redraws are paced by
    /// what they cost ([`RedrawPace`]).
    fn flush(&self) {
        let (chunk, more) = self.inbox.try_update_value(Inbox::take_chunk).unwrap_or_default();
        let many = came_as_burst(chunk.len(), sent_over_ms(&chunk));
        if many {
            let count = chunk.len();
            self.pace.update_value(|p| p.burst(now_ms(), count));
        }
        let visible = page_visible();
        for (n, now, server_now) in chunk {
            self.apply_notification(n, now, server_now, visible);
        }
        if more {
            self.flush_soon();
        } else if many {
            // Drawing them is a task of its own: applying a burst, redrawing, and laying the
            // page out again in one task would hold the page for longer than either.
            let live = *self;
            set_timeout(move || live.redraw_paced(true), std::time::Duration::ZERO);
        } else {
            self.redraw_paced(false);
        }
    }

    /// Redraws now, or when the pace allows (once, however many flushes ask meanwhile).
    ///
    /// `many`: a burst is being drawn; it is then drawn at most once per
    /// [`BURST_INTERVAL_MS`](crate::state::inbox::BURST_INTERVAL_MS)
    /// (each redraw replaces most cards on screen: fewer leave more time to take the burst in),
    /// the cards in a task of their own, before the rest of the page.
    fn redraw_paced(&self, many: bool) {
        let Some((wait, pending)) = self.pace.try_with_value(|p| (if many { p.burst_wait_ms(now_ms()) } else { p.wait_ms(now_ms()) }, p.pending)) else { return };
        if pending {
            self.pace.update_value(RedrawPace::ask_again);
            return;
        }
        let live = *self;
        let draw = move || {
            let started = now_ms();
            // The screen's effects run in microtasks, before the next task: its start is when the
            // redraw ended. What was applied meanwhile is drawn next.
            let drawn = move || {
                if let Some(Some(burst)) = live.pace.try_update_value(|p| p.drawn(started, now_ms())) {
                    live.redraw_paced(burst);
                }
            };
            if many {
                live.catalog.notify();
                set_timeout(
                    move || {
                        live.redraw_all_but_catalog();
                        set_timeout(drawn, std::time::Duration::ZERO);
                    },
                    std::time::Duration::ZERO,
                );
            } else {
                live.redraw();
                set_timeout(drawn, std::time::Duration::ZERO);
            }
        };
        self.pace.update_value(|p| p.pending = true);
        if wait <= 0.0 {
            draw();
        } else {
            set_timeout(draw, std::time::Duration::from_millis(wait.ceil() as u64));
        }
    }

    /// Tells the screen that feed, catalog, toasts, activity and source changed (notifications
    /// are applied without notifying, see [`Live::apply_notification`]).
    fn redraw(&self) {
        self.catalog.notify();
        self.redraw_all_but_catalog();
    }

    /// Draws a synced catalog in three tasks: a screenful of cards, the rest of the cards, then
    /// the rest of the page (feed, charts). In a browser that is still starting (a wall screen
    /// booting), its code not yet optimised, drawing a page of cards and laying it out at once
    /// made most loads' one task over 50 ms (BENCHMARKS.md).
    fn draw_synced(self) {
        self.card_cap.set(FIRST_CARDS);
        self.catalog.notify();
        set_timeout(
            move || {
                self.card_cap.set(usize::MAX);
                set_timeout(move || self.redraw_all_but_catalog(), std::time::Duration::ZERO);
            },
            std::time::Duration::ZERO,
        );
    }

    /// A wall's catalog: on to its next page when `advance`, after the last page of the hundred
    /// cards drawn the next hundred (or the first again, and the first when the catalog shrank
    /// under them), and the heading says which it shows.
    fn page_catalog(self, advance: bool) {
        let cards = self.catalog.with_untracked(CatalogView::cards_len);
        let from = self.catalog_from.get_untracked();
        let (page, pages, wrapped) = crate::browser::catalog_page(advance).unwrap_or((1, 1, false));
        let next = if wrapped || from >= cards { next_hundred(from, cards) } else { from };
        if wrapped || next != from {
            crate::browser::catalog_to_top();
        }
        // The next hundred: which page of how many it says at the next second, once drawn.
        let (page, pages) = if next != from {
            self.catalog_from.set(next);
            (1, 1)
        } else if wrapped {
            (1, pages)
        } else {
            (page, pages)
        };
        let label = wall_page_label(next, cards, page, pages, self.lang);
        if self.catalog_page.with_untracked(|l| *l != label) {
            self.catalog_page.set(label);
        }
    }

    /// [`Live::redraw`] without the catalog, which a burst redraws in a task of its own.
    fn redraw_all_but_catalog(&self) {
        self.toasts.notify();
        self.redraw_feed();
    }

    /// The feed and the counts around the page (status bar, chart, diagnostics), which change
    /// with every notification: what they show, drawn at most every [`FEED_INTERVAL_MS`].
    fn draw_feed_and_counts(&self) {
        self.feed.notify();
        self.activity.notify();
        self.source.notify();
        self.health.notify();
        self.diagnostics.notify();
    }

    /// Redraws the feed and the counts now, or once [`FEED_INTERVAL_MS`] has passed since they
    /// were last drawn.
    fn redraw_feed(&self) {
        match self.feed_pace.try_update_value(|t| t.ask(now_ms())).flatten() {
            Some(wait) if wait <= 0.0 => self.draw_feed_and_counts(),
            Some(wait) => {
                let live = *self;
                set_timeout(
                    move || {
                        live.feed_pace.update_value(|t| t.drawn(now_ms()));
                        live.draw_feed_and_counts();
                    },
                    std::time::Duration::from_millis(wait.ceil() as u64),
                );
            }
            None => {}
        }
    }

    /// One notification into feed, catalog, toasts and the spoken summary.
    /// `visible`: whether the page is (asked once per batch, not per notification).
    fn apply_notification(&self, n: Notification, now: f64, server_now: f64, visible: bool) {
        // What it changes in the item on screen, worked out once for the feed and the catalog.
        let changes = n
            .furniture
            .id()
            .filter(|_| n.action != furniture_protocol::Action::Deleted)
            .and_then(|id| self.catalog.with_untracked(|c| c.furniture(&id).map(|old| diff(old, &n.furniture))))
            .unwrap_or_default();
        let changed_fields: Vec<&'static str> = changes.iter().map(|c| c.key).collect();
        let changes = if n.action == furniture_protocol::Action::Updated { changes } else { Vec::new() };
        // Untracked: the caller redraws once for the whole batch (`redraw`).
        if let Some(entry) = self.feed.try_update_untracked(|f| f.push_with_changes(&n, now, Origin::Live, changes)).flatten() {
            self.activity.update_untracked(|a| a.record(now));
            let changed = n.timestamp.map_or(server_now, |t| t.unix_millis());
            self.catalog.update_untracked(|c| {
                // While changes keep coming, cards stay where they are until the second's tick.
                c.changes_at(server_now);
                c.apply_diffed(&n, changed, changed_fields);
            });
            // An update's toast says what changed, as its feed row does.
            let what = || (!entry.changes.is_empty()).then(|| crate::state::diff::describe(&entry.changes, self.lang));
            self.toasts.update_untracked(|t| t.push_described(&n, what, now, visible));
            self.announcer.update_value(|a| a.note(n.action));
            if let (CatalogSource::Synced { .. }, Some(seq)) = (self.source.get_untracked(), n.seq) {
                self.source.update_untracked(|s| *s = CatalogSource::Synced { seq });
            }
        }
    }

    /// Once a second: the clock, toast expiry, cards put in order, lingering cards, and the gap
    /// decision for brokers that did not answer `sync`. Public so that component tests can
    /// advance a mounted page by a tick.
    pub fn tick(&self) {
        let now = now_ms();
        self.now.set(now);
        let minutes = (now / 60_000.0).floor();
        if self.minutes.get_untracked() != minutes {
            self.minutes.set(minutes);
        }
        let tens = (now / 600_000.0).floor();
        if self.ten_minutes.get_untracked() != tens {
            self.ten_minutes.set(tens);
        }
        if self.toasts.with_untracked(|t| t.has_expired(now)) {
            self.toasts.update(|t| {
                t.expire(now);
            });
        }
        let server_now = now + self.clock_offset_ms.get_untracked();
        if self.catalog.try_update_untracked(|c| c.put_in_order(server_now)) == Some(true) {
            self.catalog.notify();
        }
        if self.catalog.with_untracked(|c| c.has_expired(server_now)) {
            self.catalog.update(|c| {
                c.prune(server_now);
            });
        }
        let lang = self.lang;
        if let Some(text) = self.announcer.try_update_value(|a| a.due(now, lang)).flatten() {
            self.announcement.set(text);
        }
        let live = self.conn.get_untracked().is_live();
        // The time of day by the browser's clock itself: the page's runs ahead of it after a step back.
        if self.kiosk && nightly_due(local_minute(js_sys::Date::now(), tz_offset_minutes()), now - self.opened_ms, self.reload_at, live) {
            self.save_and_reload(ReloadReason::Nightly);
        }
        // A wall's catalog goes on to its next page once a period, and says each second which it
        // shows (cards come and go). By the time since it last did, not the clock's seconds: a
        // late tick is followed by one that catches up, and two in one second skipped a page.
        if self.kiosk && self.page_every > 0 {
            let last = self.paged_at.get_value();
            let due = last.is_some_and(|at| now - at >= (self.page_every * 1000) as f64 - 500.0);
            if due || last.is_none() {
                self.paged_at.set_value(Some(now));
            }
            self.page_catalog(due);
        }
        if self.kiosk && (now / 1000.0) as u64 % DRIFT_EVERY_SECS == 0 {
            let px = |r: f64| 1 + (r * 4.0) as i32 % 4;
            let sign = |r: f64| if r < 0.5 { -1 } else { 1 };
            let (a, b, c, d) = (js_sys::Math::random(), js_sys::Math::random(), js_sys::Math::random(), js_sys::Math::random());
            self.drift_px.set((sign(a) * px(b), sign(c) * px(d)));
        }
        // A broker that does not answer `sync` (the Python one): the catalog is what comes live.
        if let CatalogSource::Waiting(Some(welcomed)) = self.source.get_untracked() {
            if now - welcomed > SYNC_GRACE_MS && self.conn.get_untracked().is_live() {
                self.source.set(CatalogSource::LiveSince(welcomed));
            }
        }
        // A broker that does not answer `sync` (the Python one) cannot fill an outage. One that
        // answered before, or numbers its changes, does answer, however late, and its reply says
        // whether it filled it.
        if let Some((from, to, welcomed)) = self.pending_gap.get_value() {
            if now - welcomed > SYNC_GRACE_MS && !matches!(self.source.get_untracked(), CatalogSource::Synced { .. }) {
                self.pending_gap.set_value(None);
                self.gap(from, to, GapReason::Disconnected);
                self.feed.notify();
            }
        }
    }

    /// Marks in the feed that the broker came back with another state, over the outage that
    /// waited for its answer (or now, without one).
    fn new_state(&self, now: f64) {
        let (from, to, _) = self.pending_gap.get_value().unwrap_or((now, now, now));
        self.pending_gap.set_value(None);
        self.gap(from, to, GapReason::NewState);
    }

    /// Marks a window of the feed in which changes may be missing (drawn with the feed's next
    /// redraw).
    fn gap(&self, from: f64, to: f64, reason: GapReason) {
        self.feed.update_untracked(|f| f.push_gap(from, to, reason));
        self.activity.update_untracked(|a| a.whole_since = a.whole_since.max(to));
    }

    /// The server's clock now, read without subscribing.
    pub fn server_now_untracked(&self) -> f64 {
        now_ms() + self.clock_offset_ms.get_untracked()
    }

    /// Saves feed and catalog to sessionStorage, then reloads the page, which restores them.
    fn save_and_reload(&self, reason: ReloadReason) {
        self.flush_all();
        // Times by the browser's clock, which the next page's starts from.
        let mut feed = self.feed.with_untracked(Feed::saved);
        for saved in &mut feed {
            match saved {
                Saved::Change(c) => c.received_ms = wall_ms(c.received_ms),
                Saved::Gap(from, to, _) => (*from, *to) = (wall_ms(*from), wall_ms(*to)),
            }
        }
        let mut snapshot = Snapshot {
            saved_ms: js_sys::Date::now(),
            stream: self.stream.get_value(),
            seq: self.feed.with_untracked(Feed::last_seq),
            catalog: self.catalog.with_untracked(|c| c.entries()),
            feed,
            outage: self.pending_gap.get_value().map(|(from, to, _)| (wall_ms(from), wall_ms(to))),
            reconnects: Some(self.health.with_untracked(Health::reconnects)),
            counts: Some(self.feed.with_untracked(Feed::counts)),
            activity_since: Some(wall_ms(self.activity.with_untracked(|a| a.whole_since))),
        };
        let why = match reason {
            ReloadReason::Nightly => "nightly",
            ReloadReason::AfterOutage => "after an outage",
        };
        leptos::logging::log!("reloading ({why}); the screen is saved for the next page");
        let Some(window) = web_sys::window() else { return };
        match window.session_storage() {
            Ok(Some(storage)) => {
                if let Err(e) = save_snapshot(&storage, &mut snapshot) {
                    let e = crate::browser::error_text(&e, "refused");
                    leptos::logging::warn!("could not save the screen before reloading: {e}");
                }
            }
            _ => leptos::logging::warn!("no sessionStorage: reloading without saving the screen"),
        }
        let _ = window.location().reload();
    }

    /// Restores what a previous page saved before it reloaded itself (then forgets it).
    fn restore(&self) {
        let Some(storage) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) else { return };
        let Ok(Some(text)) = storage.get_item(SNAPSHOT_KEY) else { return };
        let _ = storage.remove_item(SNAPSHOT_KEY);
        let Some(snapshot) = Snapshot::decode(&text, now_ms()) else { return };
        let now = now_ms();
        self.stream.set_value(snapshot.stream);
        self.catalog.update(|c| {
            c.replace(snapshot.catalog, now);
            c.tell_last_actions(snapshot.feed.iter().filter_map(|s| match s {
                Saved::Change(c) => Some(&c.notification),
                Saved::Gap(..) => None,
            }));
        });
        // The hour's counts as the page before had them, from the changes it kept: those that
        // came live when they came, the others at the broker's time.
        if let Some(since) = snapshot.activity_since {
            let times = snapshot.feed.iter().filter_map(|s| match s {
                Saved::Change(c) => Some(c.notification.timestamp.filter(|_| c.origin != Origin::Live).map_or(c.received_ms, |t| t.unix_millis())),
                Saved::Gap(..) => None,
            });
            self.activity.update_untracked(|a| *a = Activity::restored(since, times, snapshot.feed.len() >= DEFAULT_FEED_CAP));
        }
        self.feed.update(|f| f.restore(snapshot.feed, snapshot.counts, snapshot.seq));
        if let Some((day, count)) = snapshot.reconnects {
            self.health.update(|h| h.restore_reconnects(day, count));
        }
        // What came while no page listened (an outage the page before had not heard the answer
        // for, and the reload's own seconds) waits for the first welcome, then for the broker's
        // answer, as an outage does: a broker that replays it fills it, the Python one cannot.
        let from = snapshot.outage.map_or(snapshot.saved_ms, |(from, _)| from);
        self.pending_gap.set_value(Some((from, from, f64::INFINITY)));
    }

    /// The server's clock now, by the best offset estimate (for "n min ago").
    pub fn server_now(&self) -> f64 {
        self.now.get() + self.clock_offset_ms.get()
    }

    /// "n s/min/h ago" of a change at `then_ms` (server time), subscribing to the coarsest clock
    /// that can change the text: seconds in its first minute, minutes in its first hour, ten
    /// minutes after. With thousands of cards, this is what keeps every second's tick cheap.
    pub fn ago(&self, then_ms: f64) -> String {
        let now = self.server_now_untracked();
        let age = now - then_ms;
        if age < 60_000.0 {
            self.now.track();
        } else if age < 3_600_000.0 {
            self.minutes.track();
        } else {
            self.ten_minutes.track();
        }
        self.clock_offset_ms.track();
        crate::state::format::ago(then_ms, now, self.lang)
    }

    /// True while less than `window_ms` has passed since `then_ms` (server time); once it is
    /// false it stays false without watching the clock.
    pub fn within(&self, then_ms: f64, window_ms: f64) -> bool {
        if self.server_now_untracked() - then_ms >= window_ms {
            return false;
        }
        self.server_now() - then_ms < window_ms
    }

    /// The page became visible: a digest of what happened meanwhile, those still waiting to be
    /// taken in (a hidden page's timers are slowed down) included, and on a wall screen the wake
    /// lock again (browsers release it whenever a page is hidden). Public so that component
    /// tests can show a page.
    pub fn page_shown(&self) {
        self.apply_waiting(false);
        self.toasts.update(|t| t.page_shown(now_ms()));
        if self.kiosk {
            self.take_wake_lock();
        }
    }

    fn take_wake_lock(&self) {
        let status = self.wake_lock;
        leptos::task::spawn_local(async move {
            status.set(match crate::browser::request_wake_lock().await {
                Ok(true) => WakeLock::Held,
                Ok(false) => WakeLock::Unsupported,
                Err(e) => WakeLock::Refused(e),
            });
        });
    }
}

/// The whole dashboard.
#[component]
pub fn App() -> impl IntoView {
    let kiosk = crate::browser::query_param("kiosk").is_some();
    let settings = Settings::resolve(crate::browser::stored_settings().as_deref(), &crate::browser::query_pairs());
    let lang = settings.lang;
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("lang", lang.code());
        let _ = root.set_attribute("data-theme", settings.theme.as_str());
        let _ = root.set_attribute("style", &format!("--scale: {}", crate::state::format::plain_number(settings.scale)));
        if kiosk {
            let _ = root.set_attribute("class", "kiosk");
        }
    }
    let live = Live::new(crate::browser::broker_url(), kiosk, lang);
    live.toasts.update(|t| {
        let mut policy = t.policy().clone();
        policy.max_visible = settings.toasts;
        if let Some(s) = settings.toast_seconds {
            policy.min_ms = s * 1000.0;
            policy.max_ms = policy.max_ms.max(policy.min_ms);
        }
        *t = Toasts::new(policy).with_lang(lang);
    });
    live.catalog.set(CatalogView::new(furniture_protocol::Catalog::default(), settings.linger_seconds * 1000.0));
    provide_context(settings.clone());
    if let Some(sort) = crate::browser::query_param("sort").as_deref().and_then(SortBy::parse) {
        live.sort.set(sort);
    }
    live.group_by_material.set(crate::browser::query_param("group").as_deref() == Some("material"));
    let live = Live {
        reload_at: reload_minute(
            crate::browser::query_param("reload_hour").and_then(|h| h.parse().ok()).filter(|h| *h < 24).unwrap_or(DEFAULT_RELOAD_HOUR),
            js_sys::Math::random(),
        ),
        page_every: crate::state::catalog_view::page_seconds(crate::browser::query_param("page_seconds").as_deref()),
        ..live
    };
    live.restore();
    provide_context(live);
    let (probe, probes) = futures_channel::mpsc::unbounded::<Probe>();
    let handler_live = live;
    let ms = |name: &str| crate::browser::query_param(name).and_then(|v| crate::state::format::parse_number(&v)).filter(|v| *v >= 100.0);
    let mut options = ConnectionOptions::default();
    if let Some(v) = ms("ping_after") {
        options.ping_after_ms = v;
    }
    if let Some(v) = ms("ping_every") {
        options.ping_every_ms = v;
    }
    if let Some(v) = ms("pong_timeout") {
        options.pong_deadline_ms = v;
    }
    connect_forever(
        live.url.get_value(),
        options,
        Rc::new(move |event| handler_live.on_event(event)),
        probes,
    );
    if let Some(window) = web_sys::window() {
        // Network changes, and the page coming back from the back-forward cache, check the
        // connection at once (going offline pings a live socket, with a short deadline); the page
        // being left closes it.
        for (event, what) in [("online", Probe::Check), ("offline", Probe::Check), ("pageshow", Probe::Check), ("pagehide", Probe::Leave)] {
            let p = probe.clone();
            crate::browser::listen(&window, event, move || {
                let _ = p.unbounded_send(what);
            });
        }
        if let Some(document) = window.document() {
            crate::browser::listen(&document, "visibilitychange", move || {
                if page_visible() {
                    let _ = probe.unbounded_send(Probe::Check);
                    live.page_shown();
                } else {
                    // What waits for an animation frame, which a hidden page does not get: taken
                    // in now, and what comes next by timers.
                    live.flush_all();
                }
            });
        }
    }
    live.debug.set(crate::browser::query_param("debug").is_some());
    if let Some(window) = web_sys::window() {
        crate::browser::listen_key(&window, move |key| {
            if key == "d" || key == "D" {
                live.debug.update(|d| *d = !*d);
            }
        });
    }
    if kiosk {
        if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = root.set_attribute("data-kiosk", "");
        }
        live.take_wake_lock();
    }
    if let Ok(handle) = set_interval_with_handle(move || live.tick(), Duration::from_secs(1)) {
        on_cleanup(move || handle.clear());
    }
    // The status bar, then the panels and charts, are drawn in tasks of their own: the page's
    // first task (its code compiled and started on a fresh browser) sets up the state and opens
    // the socket, and stays short. Whatever arrives meanwhile waits in the state.
    let (bar, panels) = (RwSignal::new(false), RwSignal::new(false));
    set_timeout(
        move || {
            bar.set(true);
            set_timeout(move || panels.set(true), Duration::ZERO);
        },
        Duration::ZERO,
    );
    view! {
        <div class="app" class:kiosk=kiosk
            style:transform=move || {
                let (x, y) = live.drift_px.get();
                (x != 0 || y != 0).then(|| format!("translate({x}px, {y}px)"))
            }>
            <Show when=move || bar.get()>
                <StatusBar/>
            </Show>
            <Show when=move || panels.get()>
                <Panels/>
            </Show>
            // On a wall the toasts take the feed's lowest place (FeedPanel), rather than stand over
            // its rows.
            {(!kiosk).then(|| view! { <ToastStack/> })}
            <Show when=move || live.debug.get()>
                <crate::components::diagnostics::DiagnosticsOverlay/>
            </Show>
            <div class="sr-only" aria-live="polite" data-testid="announcer">{move || live.announcement.get()}</div>
        </div>
    }
}

/// The charts, the catalog and the feed: the page below its status bar.
#[component]
fn Panels() -> impl IntoView {
    view! {
        <crate::components::charts::Charts/>
        <main class="panels">
            <CatalogPanel/>
            <FeedPanel/>
        </main>
    }
}

/// Keeps `snapshot` in `storage` for the next page; one too big for it (a big catalog) is kept
/// without its catalog, which the broker sends again, so that the feed and the outage still are.
pub fn save_snapshot(storage: &web_sys::Storage, snapshot: &mut Snapshot) -> Result<(), wasm_bindgen::JsValue> {
    storage.set_item(SNAPSHOT_KEY, &snapshot.encode()).or_else(|_| {
        snapshot.catalog.clear();
        storage.set_item(SNAPSHOT_KEY, &snapshot.encode())
    })
}
