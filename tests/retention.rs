//! What a long stream of changes leaves behind in the dashboard's memory, counted allocation by
//! allocation (wasm-bindgen-test, in the browser).
//!
//! This test binary counts every allocation: which are still live, and during which stretch of
//! changes each was made. A wall screen runs for weeks, so whatever the page allocated while
//! drawing a change must be given back once the rows it drew are gone: what was allocated during
//! one stretch of changes and is still live after a second, longer stretch has replaced every
//! row of the first is retained for ever.

#![cfg(target_arch = "wasm32")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use furniture_dashboard::app::Live;
use furniture_dashboard::components::{catalog::CatalogPanel, charts::Charts, diagnostics::DiagnosticsOverlay, feed::FeedPanel, status::StatusBar, toasts::ToastStack};
use furniture_dashboard::state::connection::ConnState;
use furniture_dashboard::state::settings::Settings;
use furniture_dashboard::ws::WsEvent;
use leptos::prelude::*;
use wasm_bindgen_test::*;

mod browser;
use browser::{host, play};

wasm_bindgen_test_configure!(run_in_browser);

/// The allocator of this test binary: the system one, plus a record of live allocations made
/// while a stretch is being recorded (address → size, stretch).
struct Counting;

thread_local! {
    /// The stretch being recorded (0: none).
    static STRETCH: Cell<u8> = const { Cell::new(0) };
    /// Set while the record itself allocates, so that those allocations are not recorded.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    static LIVE: RefCell<HashMap<usize, (usize, u8)>> = RefCell::new(HashMap::new());
}

/// Runs `f` on the record unless the record is already in use (its own allocations).
fn record(f: impl FnOnce(&mut HashMap<usize, (usize, u8)>)) {
    if BUSY.with(|b| b.replace(true)) {
        return;
    }
    LIVE.with(|live| f(&mut live.borrow_mut()));
    BUSY.with(|b| b.set(false));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        let stretch = STRETCH.with(Cell::get);
        if stretch != 0 && !ptr.is_null() {
            record(|live| {
                live.insert(ptr as usize, (layout.size(), stretch));
            });
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(|live| {
            live.remove(&(ptr as usize));
        });
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Every panel of the desk view drawn, 3,000 changes after a warm-up: whatever they allocated is
/// given back once 4,000 more changes have replaced every feed row, card and toast they drew.
/// Before the lists were made to give back their rows (`components::rows`), this retained about
/// 0.3 KB per change: each row's owner, and the subscriptions its reactive parts left in the feed
/// and clock signals.
#[wasm_bindgen_test]
async fn a_stream_of_changes_leaves_nothing_behind() {
    let host = host();
    let live = Live::new("ws://127.0.0.1:9/".into(), false, furniture_dashboard::state::i18n::Lang::Es);
    let _mounted = leptos::mount::mount_to(host.clone(), move || {
        provide_context(live);
        provide_context(Settings::default());
        view! { <StatusBar/> <Charts/> <CatalogPanel/> <FeedPanel/> <ToastStack/> <DiagnosticsOverlay/> }
    });
    live.on_event(WsEvent::State(ConnState::Live));
    play(live, 1, 2_000).await;
    STRETCH.with(|s| s.set(1));
    play(live, 2_001, 3_000).await;
    STRETCH.with(|s| s.set(2));
    play(live, 5_001, 4_000).await;
    STRETCH.with(|s| s.set(0));

    let cards = host.query_selector_all("[data-testid=catalog-item]").unwrap().length();
    let rows = host.query_selector_all("[data-testid=feed-item]").unwrap().length();
    assert!(cards > 0 && rows > 0, "the panels are drawn: {cards} cards, {rows} feed rows");
    // Reading the record allocates: stop recording first.
    BUSY.with(|b| b.set(true));
    let (count, bytes) = LIVE.with(|live| {
        live.borrow().values().filter(|(_, stretch)| *stretch == 1).fold((0, 0), |(n, b), (size, _)| (n + 1, b + size))
    });
    let mut sizes: Vec<usize> = LIVE.with(|live| live.borrow().values().filter(|(_, stretch)| *stretch == 1).map(|(size, _)| *size).collect());
    sizes.sort_unstable();
    leptos::logging::log!("retained from the first stretch: {count} allocations, {bytes} bytes: {sizes:?}");
    // What is kept for good is counted in allocations: a trace of each change would be thousands.
    // Today a few dozen remain, buffers that grew to their working size during the first stretch
    // (the inbox, the feed's ring, hash tables: each bounded, from 5 allocations of 29 KB to 30
    // of 0.8 MB from run to run, as bursts come). Before the lists gave back their rows: 15,668
    // allocations, 916 KB.
    assert!(count < 100, "{count} allocations ({bytes} bytes) made during 3,000 changes are still live after 4,000 more");
}
