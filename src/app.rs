//! The app: the signals that hold the state, the handler that feeds broker frames into them,
//! and the page layout.

use std::rc::Rc;
use std::time::Duration;

use furniture_protocol::{decode_server, ServerFrame, SyncRequest};
use leptos::prelude::*;

use crate::browser::now_ms;
use crate::components::{catalog::CatalogPanel, feed::FeedPanel, status::StatusBar, toasts::ToastStack};
use crate::state::catalog_view::CatalogView;
use crate::state::connection::ConnState;
use crate::state::feed::{Feed, GapReason, Origin};
use crate::state::toasts::Toasts;
use crate::ws::{connect_forever, ConnectionOptions, WsEvent};

/// How long after a reconnect a broker has to answer `sync` before the dashboard decides it is
/// a broker without the extension and marks a gap in the feed.
const SYNC_GRACE_MS: f64 = 3_000.0;

/// Where the catalog on screen comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CatalogSource {
    /// Only what this page saw live, since then (ms): the broker did not answer `sync`.
    LiveSince(f64),
    /// The broker's own catalog, as of this `seq`.
    Synced { seq: u64 },
}

/// Frames that could not be used, counted and shown.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Diagnostics {
    pub invalid: u64,
    pub unknown: u64,
}

/// Everything on screen, one signal per panel so a change touches only its panel.
#[derive(Clone, Copy)]
pub struct Live {
    pub conn: RwSignal<ConnState>,
    pub url: StoredValue<String>,
    pub clients: RwSignal<Option<u64>>,
    pub feed: RwSignal<Feed>,
    pub catalog: RwSignal<CatalogView>,
    pub toasts: RwSignal<Toasts>,
    pub source: RwSignal<CatalogSource>,
    pub diagnostics: RwSignal<Diagnostics>,
    /// The clock, ticking every second, for countdowns and "n min ago".
    pub now: RwSignal<f64>,
    /// The broker's `seq` numbering last seen (our broker's `stream`).
    stream: RwSignal<Option<String>>,
    /// Set while disconnected: since when (ms).
    down_since: RwSignal<Option<f64>>,
    /// After a reconnect, the outage waiting to be filled by `sync`: (from, to, welcome at).
    pending_gap: RwSignal<Option<(f64, f64, f64)>>,
}

impl Live {
    /// The state of a page that connects to `url`, before anything arrived.
    pub fn new(url: String) -> Live {
        let now = now_ms();
        Live {
            conn: RwSignal::new(ConnState::Connecting),
            url: StoredValue::new(url),
            clients: RwSignal::new(None),
            feed: RwSignal::new(Feed::default()),
            catalog: RwSignal::new(CatalogView::default()),
            toasts: RwSignal::new(Toasts::default()),
            source: RwSignal::new(CatalogSource::LiveSince(now)),
            diagnostics: RwSignal::new(Diagnostics::default()),
            now: RwSignal::new(now),
            stream: RwSignal::new(None),
            down_since: RwSignal::new(None),
            pending_gap: RwSignal::new(None),
        }
    }

    /// Handles one event of the connection loop; may answer with a frame to send.
    fn on_event(&self, event: WsEvent) -> Option<String> {
        match event {
            WsEvent::State(state) => {
                if state != ConnState::Live && self.conn.get_untracked() == ConnState::Live {
                    self.down_since.set(Some(now_ms()));
                    self.clients.set(None);
                }
                self.conn.set(state);
                None
            }
            WsEvent::Frame(text) => self.on_frame(&text),
        }
    }

    fn on_frame(&self, text: &str) -> Option<String> {
        let now = now_ms();
        match decode_server(text) {
            ServerFrame::Welcome { client_count, stream, .. } => {
                self.clients.set(client_count);
                if stream.is_some() && stream != self.stream.get_untracked() {
                    if self.stream.get_untracked().is_some() {
                        // The broker started its numbering over: our last seq means nothing now.
                        self.feed.update(Feed::new_stream);
                    }
                    self.stream.set(stream);
                }
                if let Some(from) = self.down_since.get_untracked() {
                    self.down_since.set(None);
                    self.pending_gap.set(Some((from, now, now)));
                }
                // Our broker answers with its catalog and what we missed; others ignore it.
                let since = self.feed.with_untracked(|f| f.last_seq()).unwrap_or(0);
                Some(SyncRequest { since: Some(since) }.encode())
            }
            ServerFrame::Notification(n) => {
                let fresh = self.feed.try_update(|f| f.push(&n, now, Origin::Live)).unwrap_or(false);
                if fresh {
                    self.catalog.update(|c| {
                        c.apply(&n, now);
                    });
                    self.toasts.update(|t| t.push(&n, now));
                    if let (CatalogSource::Synced { .. }, Some(seq)) = (self.source.get_untracked(), n.seq) {
                        self.source.set(CatalogSource::Synced { seq });
                    }
                }
                None
            }
            ServerFrame::Sync(reply) => {
                let first_sync = !matches!(self.source.get_untracked(), CatalogSource::Synced { .. });
                let origin = if first_sync { Origin::History } else { Origin::Recovered };
                self.feed.update(|f| {
                    for n in &reply.missed {
                        f.push(n, now, origin);
                    }
                });
                self.catalog.update(|c| c.replace(reply.catalog, now));
                self.source.set(CatalogSource::Synced { seq: reply.seq });
                if let Some((from, to, _)) = self.pending_gap.get_untracked() {
                    self.pending_gap.set(None);
                    if !reply.complete {
                        self.feed.update(|f| f.push_gap(from, to, GapReason::HistoryTooShort));
                    }
                } else if !reply.complete && !first_sync {
                    self.feed.update(|f| f.push_gap(now, now, GapReason::HistoryTooShort));
                }
                None
            }
            ServerFrame::Pong { .. } => None,
            ServerFrame::Unknown { .. } => {
                self.diagnostics.update(|d| d.unknown += 1);
                None
            }
            ServerFrame::Invalid(reason) => {
                leptos::logging::warn!("unusable frame from the broker: {reason}");
                self.diagnostics.update(|d| d.invalid += 1);
                None
            }
        }
    }

    /// Once a second: the clock, toast expiry, lingering cards, and the gap decision for brokers
    /// that did not answer `sync`.
    fn tick(&self) {
        let now = now_ms();
        self.now.set(now);
        if self.toasts.with_untracked(|t| t.iter().any(|x| x.expires_ms <= now)) {
            self.toasts.update(|t| {
                t.expire(now);
            });
        }
        if self.catalog.with_untracked(|c| c.has_expired(now)) {
            self.catalog.update(|c| {
                c.prune(now);
            });
        }
        if let Some((from, to, welcomed)) = self.pending_gap.get_untracked() {
            if now - welcomed > SYNC_GRACE_MS {
                self.pending_gap.set(None);
                if !matches!(self.source.get_untracked(), CatalogSource::Synced { .. }) {
                    self.feed.update(|f| f.push_gap(from, to, GapReason::Disconnected));
                }
            }
        }
    }
}

/// The whole dashboard.
#[component]
pub fn App() -> impl IntoView {
    let live = Live::new(crate::browser::broker_url());
    provide_context(live);
    let handler_live = live;
    connect_forever(
        live.url.get_value(),
        ConnectionOptions::default(),
        Rc::new(move |event| handler_live.on_event(event)),
    );
    if let Ok(handle) = set_interval_with_handle(move || live.tick(), Duration::from_secs(1)) {
        on_cleanup(move || handle.clear());
    }
    view! {
        <div class="app">
            <StatusBar/>
            <main class="panels">
                <CatalogPanel/>
                <FeedPanel/>
            </main>
            <ToastStack/>
        </div>
    }
}
