//! The feed: every notification, newest first, with gap markers.

use leptos::prelude::*;

use crate::app::Live;
use crate::browser::local_clock;
use crate::state::feed::{Change, FeedEntry, GapReason, Origin};
use crate::state::format::or_dash;

/// The notification feed.
#[component]
pub fn FeedPanel() -> impl IntoView {
    let live = expect_context::<Live>();
    let entries = move || live.feed.with(|f| f.iter().cloned().collect::<Vec<_>>());
    let count = move || live.feed.with(|f| f.len());
    view! {
        <section class="panel feed-panel" aria-labelledby="feed-title">
            <h2 id="feed-title">"Actividad" <span class="count">{count}</span></h2>
            <ol class="feed" data-testid="feed">
                <For each=entries key=FeedEntry::key let:entry>
                    {match entry {
                        FeedEntry::Change(change) => view! { <FeedItem change=change/> }.into_any(),
                        FeedEntry::Gap { from_ms, to_ms, reason, .. } => view! { <GapItem from_ms to_ms reason/> }.into_any(),
                    }}
                </For>
            </ol>
        </section>
    }
}

/// One notification.
#[component]
fn FeedItem(
    /// The notification and when it arrived.
    change: Change,
) -> impl IntoView {
    let n = &change.notification;
    let when = n.timestamp.map_or(change.received_ms, |t| t.unix_millis());
    let id = n.furniture.id();
    let message = if n.message.is_empty() { or_dash(n.furniture.nombre()) } else { n.message.clone() };
    view! {
        <li class=format!("feed-item action-{}", n.action.as_str()) data-testid="feed-item"
            data-action=n.action.as_str() data-furniture-id=id.clone().unwrap_or_default()>
            <div class="feed-body">
                <p class="feed-message">{message}</p>
                <p class="feed-meta">
                    <time>{local_clock(when)}</time>
                    {n.furniture.autor().map(|a| view! { <span>" · " {a}</span> })}
                    {n.seq.map(|s| view! { <span class="seq">" · #" {s}</span> })}
                    {match change.origin {
                        Origin::Live => None,
                        Origin::History => Some(view! { <span class="history">" · anterior"</span> }),
                        Origin::Recovered => Some(view! { <span class="replayed">" · recuperado"</span> }),
                    }}
                </p>
            </div>
        </li>
    }
}

/// A window in which changes may be missing.
#[component]
fn GapItem(
    /// Start of the window, ms since the epoch.
    from_ms: f64,
    /// End of the window.
    to_ms: f64,
    /// Why nothing can fill it.
    reason: GapReason,
) -> impl IntoView {
    let text = match reason {
        GapReason::Disconnected => format!(
            "Desconectado de {} a {}: pueden faltar cambios de ese intervalo",
            local_clock(from_ms),
            local_clock(to_ms)
        ),
        GapReason::HistoryTooShort => format!(
            "Desconectado de {} a {}: el historial del servidor no alcanza; el catálogo está al día, pero pueden faltar avisos",
            local_clock(from_ms),
            local_clock(to_ms)
        ),
    };
    view! {
        <li class="feed-gap" data-testid="feed-gap" role="note">
            <span class="feed-icon" aria-hidden="true">"⚠"</span>
            <p>{text}</p>
        </li>
    }
}
