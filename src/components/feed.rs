//! The feed: every notification, newest first, with gap markers.

use leptos::prelude::*;

use crate::app::Live;
use crate::browser::{local_clock, wall_ms};
use furniture_protocol::Action;

use crate::components::{action_label, show_more_label};
use crate::components::rows::{follow, Rows};
use crate::state::diff::describe;
use crate::state::feed::{distinct, Change, FeedEntry, FeedFilter, GapReason, Origin};
use crate::state::format::{headline, inert_bidi};
use crate::state::i18n::Lang;

/// Rows drawn at first, and added by each "show more". The feed keeps more (its cap, 500 by
/// default), all of them searched and filtered; a screen shows a dozen, and every row drawn costs
/// style and layout work on each change (BENCHMARKS.md: 100 rows instead of 500 cut the delay
/// before a change shows by a third).
pub const FEED_PAGE: usize = 100;

/// The notification feed.
#[component]
pub fn FeedPanel() -> impl IntoView {
    let live = expect_context::<Live>();
    let limit = RwSignal::new(FEED_PAGE);
    let entries = move || {
        let filter = live.filter.get();
        let limit = limit.get();
        live.feed.with(|f| f.iter().filter(|e| filter.matches(e, live.lang)).take(limit).cloned().collect::<Vec<_>>())
    };
    let hidden = move || {
        let filter = live.filter.get();
        live.feed.with(|f| f.iter().filter(|e| filter.matches(e, live.lang)).count()).saturating_sub(limit.get())
    };
    // Nothing to show: no change yet, or none that the filters let through (stops at the first
    // that does).
    let nothing = move || live.filter.with(|flt| live.feed.with(|f| !f.iter().any(|e| flt.matches(e, live.lang))));
    // Nobody clicks on a wall screen.
    let has_hidden = move || !live.kiosk && hidden() > 0;
    // Every change received (the history given at the start included): the feed keeps the last
    // 500, which would read as a count stuck at 500.
    let count = move || crate::state::format::count(live.feed.with(|f| f.count(Action::Created) + f.count(Action::Updated) + f.count(Action::Deleted)), live.lang);
    // Rows follow this, which changes only when the reader marks everything read, rather than
    // the feed, which changes with every notification.
    let read_key = Memo::new(move |_| live.feed.with(|f| f.read_key()));
    view! {
        <section class="panel feed-panel" aria-labelledby="feed-title">
            <h2 id="feed-title">{live.lang.t("Actividad", "Activity")} <span class="count">{move || count()}</span></h2>
            {(!live.kiosk).then(|| view! { <FeedControls/> })}
            <ol class="feed" data-testid="feed">
                <Rows each=entries key=FeedEntry::key children=move |entry| match entry {
                    FeedEntry::Change(change) => view! { <FeedItem change=change read_key/> }.into_any(),
                    FeedEntry::Gap { from_ms, to_ms, reason, .. } => view! { <GapItem from_ms to_ms reason/> }.into_any(),
                }/>
                {move || nothing().then(|| {
                    let unfiltered = live.filter.with(|f| f.is_empty());
                    view! {
                    <li class="empty" data-testid="feed-empty">
                        {if unfiltered {
                            live.lang.t("Todavía no hay actividad. Cada cambio del catálogo aparecerá aquí.", "No activity yet. Every change to the catalog appears here.")
                        } else {
                            live.lang.t("Ningún aviso coincide con los filtros. ", "No notification matches the filters. ")
                        }}
                        {(!unfiltered).then(|| view! {
                            <button type="button" class="link" data-testid="feed-clear-filters" on:click=move |_| live.filter.set(Default::default())>
                                {live.lang.t("Quitar los filtros", "Clear the filters")}
                            </button>
                        })}
                    </li>
                }})}
                // The catalog's "show more" is the same few lines: shared as a component or a
                // function they cost 0.5 KB more of wasm than written twice.
                <Show when=has_hidden>
                    <li class="feed-more">
                        <button type="button" class="chip" data-testid="feed-more" on:click=move |_| limit.update(|l| *l += FEED_PAGE)>
                            {move || show_more_label(FEED_PAGE, hidden(), live.lang)}
                        </button>
                    </li>
                </Show>
            </ol>
            {live.kiosk.then(|| view! { <crate::components::toasts::ToastStack/> })}
        </section>
    }
}

/// Unread count, mark-all-read, and the filters: action, material, author, text.
#[component]
fn FeedControls() -> impl IntoView {
    let live = expect_context::<Live>();
    let lang = live.lang;
    let unread = move || live.feed.with(|f| f.unread());
    // Memos: the options are rebuilt only when the set of materials or authors changes, not
    // with every notification.
    let materials = Memo::new(move |_| live.feed.with(|f| distinct(f, furniture_protocol::record::field::MATERIAL)));
    let authors = Memo::new(move |_| live.feed.with(|f| distinct(f, furniture_protocol::record::field::AUTOR)));
    let chip = move |action: Action| {
        let on = move || !live.filter.with(|f| f.hidden_actions.contains(&action));
        view! {
            <button class=format!("chip action-{}", action.as_str()) class:off=move || !on()
                aria-pressed=move || on().to_string() data-testid="filter-action" data-action=action.as_str()
                on:click=move |_| live.filter.update(|f| {
                    if let Some(i) = f.hidden_actions.iter().position(|a| *a == action) {
                        f.hidden_actions.remove(i);
                    } else {
                        f.hidden_actions.push(action);
                    }
                })>
                {action_label(action, lang)}
            </button>
        }
    };
    // The controls show the filter (cleared from the empty feed too). A list's options are made
    // again, in place, when a material or author arrives: each says whether it is the one chosen,
    // since a choice set on the list would stay with the option's place, not its value.
    let select = move |label: &'static str, testid: &'static str, options: Memo<Vec<String>>, field: fn(&FeedFilter) -> &Option<String>, set: fn(&mut FeedFilter, Option<String>)| {
        let chosen = move |o: Option<&str>| live.filter.with(|f| field(f).as_deref() == o);
        view! {
            <select aria-label=label data-testid=testid
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    live.filter.update(|f| set(f, (!v.is_empty()).then_some(v)));
                }>
                <option value="" prop:selected=move || chosen(None)>{label}</option>
                // The one chosen stays among them when no row in the feed has it any more (or
                // none had: a filter from the URL): the list showed "Material" for a feed still
                // filtered, and the choice could not be made again.
                {move || {
                    let mut options = options.get();
                    if let Some(c) = live.filter.with(|f| field(f).clone()).filter(|c| !options.contains(c)) {
                        options.insert(0, c);
                    }
                    options
                }.into_iter().map(|o| {
                    let mine = o.clone();
                    view! { <option value=o.clone() prop:selected=move || chosen(Some(&mine))>{inert_bidi(o.clone())}</option> }.into_any()
                }).collect::<Vec<_>>()}
            </select>
        }
    };
    view! {
        <div class="feed-controls">
            <div class="feed-unread">
                <span data-testid="unread-count" class=("has-unread", move || unread() > 0)>
                    {move || match (unread(), lang) {
                        (0, _) => lang.t("Todo leído", "All read").to_owned(),
                        (n, Lang::Es) => format!("{n} sin leer"),
                        (n, Lang::En) => format!("{n} unread"),
                    }}
                </span>
                <button class="link" data-testid="mark-read" disabled=move || unread() == 0
                    on:click=move |_| live.feed.update(|f| f.mark_all_read())>{lang.t("Marcar todo como leído", "Mark all read")}</button>
            </div>
            <div class="feed-filters">
                {Vec::from(Action::ALL.map(|a| chip(a).into_any()))}
            </div>
            <div class="feed-filters">
                <input type="search" placeholder=lang.t("Buscar…", "Search…") aria-label=lang.t("Buscar en la actividad", "Search the activity") data-testid="feed-search"
                    prop:value=move || live.filter.with(|f| f.text.clone())
                    on:input=move |ev| { let v = event_target_value(&ev); live.filter.update(|f| f.text = v); }/>
                {select(lang.t("Material", "Material"), "filter-material", materials, |f| &f.material, |f, v| f.material = v)}
                {select(lang.t("Autor", "Author"), "filter-author", authors, |f| &f.author, |f, v| f.author = v)}
            </div>
        </div>
    }
}

/// One notification.
#[component]
fn FeedItem(
    /// The notification and when it arrived.
    change: std::sync::Arc<Change>,
    /// Changes up to this key are read.
    read_key: Memo<u64>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let key = change.key;
    let news = change.origin == Origin::Live;
    let unread = follow(move || news && key > read_key.get());
    let unread = move || unread.get();
    let n = &change.notification;
    let lang = live.lang;
    let diff = (!change.changes.is_empty()).then(|| describe(&change.changes, lang));
    let when = n.timestamp.map_or_else(|| wall_ms(change.received_ms), |t| t.unix_millis());
    let id = n.furniture.id();
    let message = headline(n, lang);
    view! {
        <li class=format!("feed-item action-{}", n.action.as_str()) class:unread=unread data-testid="feed-item"
            data-action=n.action.as_str() data-furniture-id=id.clone().unwrap_or_default()>
            <div class="feed-body">
                <p class="feed-message">{message}</p>
                {diff.map(|d| view! { <p class="feed-diff" data-testid="feed-diff">{d}</p> })}
                <p class="feed-meta">
                    <time>{local_clock(when)}</time>
                    {n.furniture.autor().map(|a| view! { <span>" · " {inert_bidi(a)}</span> })}
                    {n.seq.map(|s| view! { <span class="seq">" · #" {s}</span> })}
                    {match change.origin {
                        Origin::Live => None,
                        Origin::History => Some(view! { <span class="history">" · " {lang.t("antes de abrir la página", "before the page opened")}</span> }),
                        Origin::Recovered => Some(view! { <span class="replayed">" · " {lang.t("recuperado", "recovered")}</span> }),
                    }}
                </p>
            </div>
        </li>
    }
}

/// A window in which changes may be missing, or the broker's coming back with another state.
#[component]
fn GapItem(
    /// Start of the window, ms since the epoch.
    from_ms: f64,
    /// End of the window.
    to_ms: f64,
    /// Why nothing can fill it.
    reason: GapReason,
) -> impl IntoView {
    let lang = expect_context::<Live>().lang;
    let (from, to) = (local_clock(wall_ms(from_ms)), local_clock(wall_ms(to_ms)));
    let t = |es, en| lang.t(es, en);
    // A new state without an outage that the clock shows (a page restored, or the broker's
    // numbering gone back under the same connection's welcome): the time alone.
    let mut text = if reason != GapReason::NewState || from != to {
        format!("{} {from} {} {to}: ", t("Desconectado de", "Disconnected from"), t("a", "to"))
    } else {
        format!("{} {to} ", t("A las", "At"))
    };
    text += match reason {
        GapReason::Disconnected => t("pueden faltar cambios de ese intervalo", "changes in this window may be missing"),
        GapReason::HistoryTooShort => t(
            "el historial del servidor no alcanza; el catálogo está al día, pero pueden faltar avisos",
            "the broker's history does not reach back; the catalog is up to date, some notifications may be missing",
        ),
        GapReason::NewState => t(
            "el servidor volvió con otro estado; los muebles que ya no tiene se muestran como eliminados",
            "the broker came back with another state; items it no longer has are shown as deleted",
        ),
    };
    view! {
        <li class="feed-gap" data-testid="feed-item" data-action="gap" role="note">
            <span class="feed-icon" aria-hidden="true">"⚠"</span>
            <p>{text}</p>
        </li>
    }
}
