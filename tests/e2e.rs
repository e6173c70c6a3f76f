//! End to end in real headless Chromium through ChromeDriver: the release dashboard served by the
//! real broker, changes sent by the real notifier, and the page's own reconnection.
//!
//! Needs `dist/` (scripts/build-dashboard) and chromedriver; the project's test command provides
//! both and sets FURNITURE_REQUIRE_ALL=1, which turns a missing piece into a failure. Run by hand
//! without them, the tests say SKIPPED and why.

#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use furniture_notify::{Action, Furniture, ProducerMessage};
use serde_json::{json, Value};
use support::{Browser, Dashboard, TestBroker};

fn mesa(nombre: &str, material: &str, altura: i64) -> Furniture {
    Furniture::new("e2e-mesa-1", nombre, "Mesa de pruebas", altura, 120, material, "juan")
}

/// The dashboard `broker` serves, connected to `to` through a fault proxy and pinging every
/// second with a pong due within 1.5 s, so that a link the proxy swallows is noticed in 2.5 s.
async fn open_through_a_proxy(browser: &Browser, broker: &TestBroker, to: std::net::SocketAddr) -> (furniture_faultproxy::FaultProxy, Dashboard) {
    let proxy = furniture_faultproxy::FaultProxy::start(to).await.unwrap();
    let url = format!("{}?ws=ws://{}/&ping_after=1000&pong_timeout=1500", broker.page_url(), proxy.addr);
    let page = Dashboard::open(browser, &url).await;
    (proxy, page)
}

/// Created, updated and deleted show in the feed, the catalog and the toasts; a restarted broker
/// is reconnected to without help and the next change shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_show_up_and_the_page_survives_a_broker_restart() {
    let Some(browser) = Browser::start().await else { return };
    let mut broker = TestBroker::start(None).await;
    // Deleted cards linger for 2 s here (120 s by default) so that the test sees them go.
    let page = Dashboard::open(&browser, &format!("{}?linger=2", broker.page_url())).await;
    page.wait_state("live").await;
    page.wait_until("the client count", "return document.querySelector('[data-testid=client-count]').textContent.trim().startsWith('1 ')").await;

    let hostile = "Mesa <img src=x onerror=\"window.__pwned=1\"> de <b>Roble</b>";
    broker.send(Action::Created, mesa(hostile, "roble", 75)).await;
    page.wait_feed("created", "e2e-mesa-1").await;
    let card = page.wait_card("e2e-mesa-1", |c| c.name == hostile).await;
    assert!(!card.deleted);
    assert_eq!(card.material, "roble");
    page.wait_toast("created").await;
    assert!(page.eval_bool("return document.querySelectorAll('.card img, .card b, .feed img, .toasts img').length === 0").await, "names are text, not HTML");
    assert!(page.eval_bool("return window.__pwned === undefined").await);

    broker.send(Action::Updated, mesa("Mesa de Roble XL", "pino", 80)).await;
    page.wait_feed("updated", "e2e-mesa-1").await;
    let card = page.wait_card("e2e-mesa-1", |c| c.name == "Mesa de Roble XL").await;
    assert_eq!((card.material.as_str(), card.size.as_str()), ("pino", "120\u{a0}×\u{a0}80\u{a0}cm"));
    page.wait_toast("updated").await;
    assert_eq!(page.count("[data-testid=catalog-item]").await, 1, "the update replaced the card");

    broker.send(Action::Deleted, mesa("Mesa de Roble XL", "pino", 80)).await;
    page.wait_feed("deleted", "e2e-mesa-1").await;
    page.wait_card("e2e-mesa-1", |c| c.deleted).await;
    page.wait_toast("deleted").await;
    page.wait_until("the deleted card to go", "return !document.querySelector('[data-testid=catalog-item][data-furniture-id=\"e2e-mesa-1\"]')").await;
    assert_eq!(page.count("[data-testid=feed-item]").await, 3);
    page.screenshot("desk").await;

    broker.restart().await;
    page.wait_state("live").await;
    broker.send(Action::Created, Furniture::new("e2e-silla-2", "Silla Windsor", "", 95, 45, "haya", "ana")).await;
    page.wait_feed("created", "e2e-silla-2").await;
    page.wait_card("e2e-silla-2", |c| c.name == "Silla Windsor").await;
    // The restarted broker starts from an empty state (in memory), so nothing is replayed
    // twice, and the feed says that it came back with another state.
    assert_eq!(page.eval(FEED_ACTIONS).await, "created gap deleted updated created");
    assert!(page.text("[data-testid=feed-item][data-action=gap]").await.contains("el servidor volvió con otro estado"));
    page.close().await;
}

/// A page opened late gets the catalog and recent history from our broker's `sync` extension; a
/// card's last action is the history's (an item updated before the page opened shows as updated).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_page_gets_the_catalog_from_the_broker() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    for i in 0..5 {
        let f = Furniture::new(&format!("late-{i}"), &format!("Cómoda {i}"), "", 90, 100, "nogal", "ana");
        broker.send(Action::Created, f.clone()).await;
        if i == 4 {
            broker.send(Action::Deleted, f).await;
        } else if i == 1 {
            broker.send(Action::Updated, Furniture::new("late-1", "Cómoda 1 (rebajada)", "", 90, 100, "nogal", "ana")).await;
        }
    }
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    page.wait_until("four cards", "return document.querySelectorAll('[data-testid=catalog-item]:not([data-deleted])').length === 4").await;
    page.wait_until("seven history items", "return document.querySelectorAll('[data-testid=feed-item]').length === 7").await;
    let action = |id: &str| format!("return document.querySelector('[data-testid=catalog-item][data-furniture-id={id}]').className");
    assert!(page.eval(&action("late-1")).await.as_str().unwrap().contains("action-updated"), "the updated card shown as updated");
    assert!(page.eval(&action("late-0")).await.as_str().unwrap().contains("action-created"));
    assert_eq!(page.count("[data-testid=toast]").await, 0, "history raises no toasts");
    assert_eq!(page.count("[data-testid=feed-item] .history").await, 7, "each row says it came before the page opened");
    assert!(page.text("[data-testid=catalog-source]").await.contains("Sincronizado"));
    // The charts count the replayed history and the catalog by material.
    page.wait_until("the activity chart", "return document.querySelector('[data-testid=activity-chart] svg').getAttribute('aria-label') === '7 avisos en la última hora'").await;
    assert_eq!(page.eval("return document.querySelector('[data-testid=material-chart] [data-material=nogal] .bar-value').textContent").await, "4");
    // The page's module came gzip'd, as the build wrote it beside (some 40 % of its size).
    let sizes = page.eval("const r = performance.getEntriesByType('resource').find(e => e.name.endsWith('_bg.wasm')); return [r.encodedBodySize, r.decodedBodySize]").await;
    let (sent, module) = (sizes[0].as_f64().unwrap(), sizes[1].as_f64().unwrap());
    assert!(sent > 0.0 && sent < module / 2.0, "{sent} bytes sent for a module of {module}");
    page.close().await;
}

/// A catalog too big for one message comes in `sync_part` frames, each a message of its own, and
/// the page shows all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_catalog_comes_in_parts_and_is_shown_whole() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    let mut producer = furniture_notify::Notifier::new(broker.ws_url()).connect().await.unwrap();
    let count = 4_000;
    for i in 0..count {
        let f = Furniture::new(&format!("big-{i:04}"), &format!("Mesa {i}"), &"Tablero de roble macizo. ".repeat(6), 75, 120, "roble", "ana");
        producer.send(&ProducerMessage { action: Action::Created, furniture: f }).await.unwrap();
    }
    producer.close().await;
    // Counts the parts as the page receives them.
    let preload = r#"window.__parts = 0;
      const Socket = window.WebSocket;
      window.WebSocket = class extends Socket {
        constructor(...args) {
          super(...args);
          this.addEventListener('message', e => { if (typeof e.data === 'string' && e.data.startsWith('{"type":"sync_part"')) window.__parts++; });
        }
      };"#;
    let page = Dashboard::open_with(&browser, &format!("{}?lang=en", broker.page_url()), Some(preload)).await;
    page.wait_state("live").await;
    page.wait_until("every item counted", "return document.querySelector('[data-testid=item-count]').textContent === '4,000 items'").await;
    let parts = page.eval("return window.__parts").await.as_u64().unwrap_or(0);
    assert!(parts >= 2, "{parts} parts");
    page.wait_card("big-0000", |c| c.name == "Mesa 0").await;
    assert!(page.text("[data-testid=catalog-source]").await.contains("In sync"));
    page.close().await;
}

/// Against a broker without our extension (one written with Python's `websockets`, as
/// PROTOCOL.md describes the original), the page shows every change and says the catalog is built
/// from live events only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_against_a_python_broker() {
    let Some(browser) = Browser::start().await else { return };
    let Some(python) = support::PythonBroker::start() else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &format!("{}?ws={}", broker.page_url(), python.url)).await;
    page.wait_state("live").await;
    let notifier = furniture_notify::Notifier::new(python.url.clone());
    let f = Furniture::new("py-1", "Vitrina", "Luz interior", 190, 90, "vidrio", "elena");
    notifier.send(&ProducerMessage { action: Action::Created, furniture: f }).await.unwrap();
    page.wait_feed("created", "py-1").await;
    page.wait_card("py-1", |c| c.name == "Vitrina").await;
    page.wait_toast("created").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    page.wait_until("the catalog said to be built from live events", "return document.querySelector('[data-testid=catalog-source]').textContent.includes('eventos en vivo')").await;
    // Python's `json` reads and writes NaN: the change is shown, the value as a dash.
    use futures_util::SinkExt;
    let (mut producer, _) = tokio_tungstenite::connect_async(python.url.as_str()).await.unwrap();
    let nan = r#"{"type":"furniture_created","furniture":{"furniture_id":"py-nan","nombre":"Mesa rara","altura":NaN,"ancho":120,"material":"pino","autor_username":"qa"}}"#;
    producer.send(tokio_tungstenite::tungstenite::Message::text(nan)).await.unwrap();
    page.wait_card("py-nan", |c| c.name == "Mesa rara" && c.size == "120\u{a0}×\u{a0}—\u{a0}cm").await;
    page.wait_feed("created", "py-nan").await;
    // So are a lone surrogate (shown as U+FFFD), an integer past a double's range and nesting
    // past serde_json's 128 levels, which Python's `json` reads and writes: each costs its value
    // (a dash), not the change.
    let odd = format!(
        r#"{{"type":"furniture_created","furniture":{{"furniture_id":"py-odd","nombre":"Mesa \ud800","descripcion":{}0{},"altura":{},"ancho":120,"material":"pino","autor_username":"qa"}}}}"#,
        "[".repeat(200),
        "]".repeat(200),
        "9".repeat(400)
    );
    producer.send(tokio_tungstenite::tungstenite::Message::text(odd)).await.unwrap();
    page.wait_card("py-odd", |c| c.name == "Mesa \u{fffd}" && c.size == "120\u{a0}×\u{a0}—\u{a0}cm").await;
    page.wait_feed("created", "py-odd").await;
    assert_eq!(page.count(".diag").await, 0, "no message counted as unreadable");
    page.close().await;
}

/// Wall-screen mode: a clock, the health strip with a measured round trip, the wake lock's
/// status, a dark theme, no cursor; a burst of changes becomes one digest toast while the feed
/// keeps every change; the screen-reader summary speaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_screen_mode_shows_health_and_calms_bursts() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    for i in 0..6 {
        let f = Furniture::new(&format!("wall-{i}"), &format!("Aparador {i}"), "Tres puertas", 80, 160, "nogal", "lucia");
        broker.send(Action::Created, f).await;
    }
    let page = Dashboard::open(&browser, &format!("{}?kiosk", broker.page_url())).await;
    page.wait_state("live").await;
    page.wait_until("a clock", "return /^\\d\\d:\\d\\d$/.test(document.querySelector('[data-testid=clock]')?.textContent ?? '')").await;
    page.wait_until("a measured round trip", "return /latencia \\d+\\sms/.test(document.querySelector('[data-testid=health]').textContent)").await;
    page.wait_until("the wake lock status", "return !!document.querySelector('[data-testid=wake-lock]')").await;
    assert!(page.eval_bool("return getComputedStyle(document.querySelector('.app')).cursor === 'none'").await);
    assert!(page.eval_bool("return document.documentElement.hasAttribute('data-kiosk') && document.documentElement.lang === 'es'").await);

    let burst = 8;
    for i in 0..burst {
        let f = Furniture::new(&format!("wall-{}", i % 6), &format!("Aparador {i} bis"), "Tres puertas", 80, 160, "roble", "lucia");
        broker.send(Action::Updated, f).await;
    }
    page.wait_until("every change in the feed", &format!("return document.querySelectorAll('[data-testid=feed-item][data-action=updated]').length === {burst}")).await;
    page.wait_toast("digest").await;
    assert_eq!(page.count("[data-testid=toast]").await, 1, "one digest, not a toast per change");
    assert!(page.text("[data-testid=toast]").await.contains("8 actualizados"));
    // The toasts take the feed's lowest place on the wall, on screen, rather than standing over
    // its rows (14 rows of wall-sized type go past a 900-pixel screen).
    assert!(
        page.eval_bool(
            "const feed = document.querySelector('[data-testid=feed]').getBoundingClientRect();
             const toast = document.querySelector('[data-testid=toast]').getBoundingClientRect();
             const rows = [...document.querySelectorAll('[data-testid=feed-item]')].map(r => r.getBoundingClientRect());
             return rows.some(r => r.bottom > toast.top) && feed.bottom <= toast.top + 1
                 && toast.bottom <= innerHeight && feed.right > toast.left"
        )
        .await,
        "the wall's toasts below its feed, not over its rows"
    );
    page.wait_until("a spoken summary", "return document.querySelector('[data-testid=announcer]').textContent.includes('cambios')").await;
    page.screenshot("wall").await;
    page.close().await;
}

/// A wall screen pages through a catalog longer than the screen, on its own, with no page
/// skipped: every card is seen whole on some page before it comes back to the first, grouped by
/// material too, where a group's first card is seen with its heading; no page, the last
/// neither, starts in a row cut at its top; the heading says which page it shows.
/// (`page_seconds=2` rather than the 20 s default.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_screen_pages_through_the_catalog() {
    let Some(browser) = Browser::start().await else { return };
    let items = 20;
    let broker = broker_with_benches(items).await;
    for query in ["", "&group=material"] {
        let page = Dashboard::open(&browser, &format!("{}?kiosk&page_seconds=2{query}", broker.page_url())).await;
        page.wait_state("live").await;
        page.wait_until("every card", &format!("return document.querySelectorAll('[data-testid=catalog-item]').length === {items}")).await;
        let said = "document.querySelector('[data-testid=catalog-page]')";
        page.wait_until("the page shown and how many", &format!("const s = {said}; return /^página 1 de \\d+$/.test(s.textContent) && !s.hidden && document.querySelector('.catalog-view').scrollTop === 0")).await;
        watch_wall_pages(&page).await;
        page.wait_until("the first page again, after the others", "return window.back").await;
        assert_every_card_seen(&page, items, query).await;
        assert_eq!(page.eval("return window.cutAtTop").await, json!([]), "a page never starts in a row, the last one neither ({query})");
        assert!(page.eval_bool("return [...window.pagesSaid].some(p => /^página 2 de \\d+$/.test(p))").await, "the second page said");
        assert_eq!(page.count("[data-testid=catalog-more]").await, 0, "no button nobody can press");
        page.close().await;
    }
}

/// A wall with more cards than the hundred it draws at once pages through every one of them,
/// a hundred at a time, and comes back to the first; the heading says which hundred and which
/// page, each hundred from its first page, at its top at once (not gliding up over the pages
/// before). Grouped by material, so that the second hundred begins inside a group, under its
/// heading. (`page_seconds=1`; a hundred cards are some 25 pages of the test's window.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_screen_pages_past_the_first_hundred() {
    let Some(browser) = Browser::start().await else { return };
    let items = 110;
    let broker = broker_with_benches(items).await;
    let page = Dashboard::open(&browser, &format!("{}?kiosk&page_seconds=1&group=material", broker.page_url())).await;
    page.wait_state("live").await;
    page.wait_until("the first hundred", "return document.querySelectorAll('[data-testid=catalog-item]').length === 100").await;
    watch_wall_pages(&page).await;
    let said = "document.querySelector('[data-testid=catalog-page]').textContent";
    // What the heading says, and where the view is, as each hundred begins.
    page.eval(&format!(
        "window.hundreds = []; setInterval(() => {{ const s = {said}; if (s.split(' ')[0] !== window.hundreds.at(-1)?.split(' ')[0]) window.hundreds.push(s + ' @' + document.querySelector('.catalog-view').scrollTop); }}, 20)"
    ))
    .await;
    page.wait_until("which of them", &format!("return /^1–100 de 110 · página \\d+ de \\d+$/.test({said})")).await;
    let long = Duration::from_secs(90);
    page.wait_for("the other ten", "return document.querySelectorAll('[data-testid=catalog-item]').length === 10", long).await;
    // The second hundred begins inside the last group (roble, 27 items), under its heading.
    let first = "const h = document.querySelector('.catalog > li'); return h.dataset.material + ' ' + h.querySelector('.count').textContent";
    assert_eq!(page.eval(first).await, "roble 27");
    // Back to the first hundred, past its first page (seen whole for a second).
    page.wait_for("the first hundred again", &format!("return window.hundreds.length >= 3 && /^1–100 de 110 · página 2 /.test({said})"), long).await;
    assert_every_card_seen(&page, items, "group=material").await;
    // Each hundred's count of pages is right from its first page: it does not change as it goes.
    for hundred in ["1–100", "101–110"] {
        let totals = page.eval(&format!("return [...new Set([...window.pagesSaid].filter(p => p.startsWith('{hundred} ') && p.includes('página')).map(p => p.split(' de ').at(-1)))]")).await;
        assert_eq!(totals.as_array().map(Vec::len), Some(1), "one count of pages for {hundred}: {totals}");
    }
    let hundreds = page.eval("return window.hundreds").await;
    let begun: Vec<&str> = hundreds.as_array().unwrap().iter().filter_map(Value::as_str).skip_while(|s| !s.starts_with("101")).collect();
    assert!(begun.len() >= 2, "{hundreds}");
    for (said, want) in begun.iter().zip(["101–110 de 110", "1–100 de 110"]) {
        assert!(said.starts_with(want) && said.ends_with(" @0") && (!said.contains("página") || said.contains("página 1 de")), "each hundred from its first page, at its top: {hundreds}");
    }
    page.close().await;
}

/// A small wall (a tablet or a 7-inch panel, under 901 pixels wide) fits its screen as a big one
/// does: standing, its catalog over its feed, paging through every card, the newest two toasts
/// under the feed's rows; lying, catalog and feed side by side, without the charts where the
/// screen is short, the newest toast alone; on a phone, without the charts, nothing wider than
/// the screen, and on a small one (360 × 640, and lying, 640 × 360) a whole card, and a whole
/// row of the feed over its toast. A 1024 × 768 wall shows its newest two toasts too. The title stays on one line,
/// and the page behind the wall is as dark as the wall, which does not scroll as it drifts. (It scrolled as a desk does, its catalog
/// the first hundred cards below the feed, off the screen, its toasts fixed over the feed; the
/// title broke over three lines, and a 1024-pixel wall's over two.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_wall_fits_its_screen() {
    let Some(browser) = Browser::start().await else { return };
    let items = 12;
    let broker = broker_with_benches(items).await;
    let page = Dashboard::open(&browser, &format!("{}?kiosk&page_seconds=1", broker.page_url())).await;
    page.resize(600, 1000, false).await;
    page.wait_state("live").await;
    page.wait_until("every card", &format!("return document.querySelectorAll('[data-testid=catalog-item]').length === {items}")).await;
    // Where each part is, and whether the page fits the screen.
    let layout = "const box = s => document.querySelector(s).getBoundingClientRect();
         const h1 = document.querySelector('.brand h1');
         return { fits: document.documentElement.scrollHeight <= innerHeight && document.documentElement.scrollWidth <= innerWidth,
                  behind: getComputedStyle(document.body).backgroundColor, catalog: box('.catalog-view'), feed: box('[data-testid=feed]'), charts: box('.charts'),
                  title_lines: Math.round(h1.offsetHeight / parseFloat(getComputedStyle(h1).lineHeight)) }";
    let at = |l: &Value, part: &str, side: &str| l[part][side].as_f64().unwrap_or(f64::NAN);
    let l = page.eval(layout).await;
    assert_eq!(l["fits"], true, "one screen, no scrolling: {l}");
    assert_eq!(l["title_lines"], 1, "{l}");
    assert_eq!(l["behind"], "rgb(11, 15, 20)", "as dark as the wall");
    assert!(at(&l, "catalog", "bottom") <= at(&l, "feed", "top") && at(&l, "feed", "bottom") <= 1000.0, "the catalog over the feed, both on screen: {l}");
    assert!(at(&l, "catalog", "height") > 250.0, "room for a row of cards: {l}");
    watch_wall_pages(&page).await;
    page.wait_for("the first page again, after the others", "return window.back", Duration::from_secs(60)).await;
    assert_every_card_seen(&page, items, "600x1000").await;

    // Four changes, four toasts (a fifth within 10 s would make a digest): the newest two show.
    for i in 0..4 {
        let f = Furniture::new(&format!("h-{i:03}"), &format!("Banco {i:03} bis"), "Tres plazas", 45, 150, "haya", "ana");
        broker.send(Action::Updated, f).await;
    }
    page.wait_until("four toasts", "return document.querySelectorAll('[data-testid=toast]').length === 4").await;
    let shown = "const all = [...document.querySelectorAll('[data-testid=toast]')];
         const feed = document.querySelector('[data-testid=feed]').getBoundingClientRect();
         const shown = all.filter(t => t.checkVisibility());
         return { newest_first: shown.map(t => all.length - 1 - all.indexOf(t)).reverse(), below_feed: shown.every(t => { const b = t.getBoundingClientRect(); return b.top >= feed.bottom - 1 && b.bottom <= innerHeight; }),
                  fits: document.documentElement.scrollHeight <= innerHeight }";
    assert_eq!(page.eval(shown).await, json!({"newest_first": [0, 1], "below_feed": true, "fits": true}), "the newest two toasts, under the feed");
    page.screenshot("small-wall-standing").await;
    // A television of 1024 × 768: the title on one line, the newest two toasts.
    page.resize(1024, 768, false).await;
    assert_eq!(page.eval(layout).await["title_lines"], 1);
    assert_eq!(page.eval(shown).await, json!({"newest_first": [0, 1], "below_feed": true, "fits": true}), "the newest two toasts at 1024 × 768");

    // Lying and short: side by side, no charts, the newest toast alone.
    page.resize(800, 480, false).await;
    let l = page.eval(layout).await;
    assert_eq!(l["fits"], true, "{l}");
    assert_eq!(l["title_lines"], 1, "{l}");
    assert!(at(&l, "catalog", "right") <= at(&l, "feed", "left") && at(&l, "catalog", "bottom") <= 480.0, "side by side: {l}");
    assert_eq!(at(&l, "charts", "height"), 0.0, "no charts on a short wall: {l}");
    let f = Furniture::new("h-004", "Banco 004 bis", "Tres plazas", 45, 150, "haya", "ana");
    broker.send(Action::Updated, f).await;
    page.wait_until("the fifth change's toast", "return document.querySelector('[data-testid=toast]:last-child')?.textContent.includes('Banco 004 bis')").await;
    assert_eq!(page.eval(shown).await, json!({"newest_first": [0], "below_feed": true, "fits": true}), "the newest toast alone");

    // A phone: no charts (side by side they went past its edge), nothing wider than it.
    page.resize(390, 844, false).await;
    let l = page.eval(layout).await;
    assert_eq!((&l["fits"], &l["title_lines"]), (&json!(true), &json!(1)), "{l}");
    assert_eq!(at(&l, "charts", "height"), 0.0, "no charts on a phone: {l}");
    // A small phone, 360 × 640, with a toast: the pills on one line, the source's and the
    // health's lines one line each, a card whole in the catalog, and a row whole in the feed above the toast (the header took a
    // third of the screen, and the toast all of the feed's column).
    page.resize(360, 640, false).await;
    let f = Furniture::new("h-005", "Banco 005 bis", "Tres plazas", 45, 150, "haya", "ana");
    broker.send(Action::Updated, f).await;
    let toast = "[...document.querySelectorAll('[data-testid=toast]')].some(t => t.checkVisibility())";
    page.wait_until("the sixth change, and a toast", &format!("return document.querySelector('[data-testid=feed-item]')?.textContent.includes('Banco 005 bis') && {toast}")).await;
    let small = format!("const box = s => document.querySelector(s).getBoundingClientRect();
         const lines = s => {{ const e = document.querySelector(s); return Math.round(e.offsetHeight / parseFloat(getComputedStyle(e).lineHeight)); }};
         const whole = (s, inside) => {{ const v = box(inside); return [...document.querySelectorAll(s)].some(e => {{ const b = e.getBoundingClientRect(); return b.height > 0 && b.top >= v.top - 1 && b.bottom <= v.bottom + 1; }}); }};
         const middles = [...document.querySelector('.status-items').children].filter(e => e.checkVisibility()).map(e => {{ const b = e.getBoundingClientRect(); return (b.top + b.bottom) / 2; }});
         return {{ fits: document.documentElement.scrollHeight <= innerHeight, source: lines('.source'), health: lines('.status-bar .health'),
                  pills_on_a_line: middles.every(m => Math.abs(m - middles[0]) < 4),
                  card: whole('[data-testid=catalog-item]', '.catalog-view'), row: whole('[data-testid=feed-item]', '[data-testid=feed]'),
                  toast: {toast} }}");
    page.screenshot("small-wall-phone").await;
    let phone = json!({"fits": true, "pills_on_a_line": true, "source": 1, "health": 1, "card": true, "row": true, "toast": true});
    assert_eq!(page.eval(&small).await, phone, "360 × 640");
    // Lying, 640 × 360: the same, the pills on the title's line (no card was whole).
    page.resize(640, 360, false).await;
    let f = Furniture::new("h-006", "Banco 006 bis", "Tres plazas", 45, 150, "haya", "ana");
    broker.send(Action::Updated, f).await;
    page.wait_until("the seventh change, and a toast", &format!("return document.querySelector('[data-testid=feed-item]')?.textContent.includes('Banco 006 bis') && {toast}")).await;
    // Once the pager, which places the view again after the turn, stands still.
    let mut lying = page.eval(&small).await;
    for _ in 0..30 {
        if lying == phone {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        lying = page.eval(&small).await;
    }
    page.screenshot("small-wall-phone-lying").await;
    assert_eq!(lying, phone, "640 × 360");
    let title_and_clock = "const m = s => { const b = document.querySelector(s).getBoundingClientRect(); return (b.top + b.bottom) / 2; }; return Math.abs(m('.brand h1') - m('[data-testid=clock]')) < 4";
    assert!(page.eval_bool(title_and_clock).await, "the pills on the title's line at 640 × 360");

    // The drift against burn-in moves the page past the screen's edge: the wall still does not
    // scroll (it showed scrollbars), neither by a mouse's wheel.
    page.eval("const a = document.querySelector('.app'); a.style.transition = 'none'; a.style.transform = 'translate(4px, 4px)'").await;
    for (x, y) in [(0, 120), (120, 0)] {
        let wheel = json!({"type": "mouseWheel", "x": 200, "y": 400, "deltaX": x, "deltaY": y});
        page.cdp("Input.dispatchMouseEvent", wheel).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(page.eval("return [scrollX, scrollY]").await, json!([0, 0]), "a wall that scrolled");
    page.close().await;
}

/// A broker whose catalog holds `items` benches, "Banco 000" on, their materials haya, nogal,
/// pino and roble in turn.
async fn broker_with_benches(items: u64) -> TestBroker {
    let broker = TestBroker::start(None).await;
    for i in 0..items {
        let material = ["haya", "nogal", "pino", "roble"][i as usize % 4];
        let f = Furniture::new(&format!("h-{i:03}"), &format!("Banco {i:03}"), "Tres plazas", 45, 150, material, "ana");
        broker.send(Action::Created, f).await;
    }
    broker
}

/// Starts noting which cards a wall's catalog shows whole as it pages (`window.seen`; a card
/// counts as seen when it is whole in the view, and, the first of its group or of the cards
/// drawn, its heading with it), where it scrolls to (`window.tops`), which rows a page that
/// stands still for half a second cuts at its top (`window.cutAtTop`), what its heading says
/// (`window.pagesSaid`) and when it comes back to its top after leaving it (`window.back`).
async fn watch_wall_pages(page: &Dashboard) {
    page.eval(
        "window.seen = new Set(); window.tops = []; window.cutAtTop = []; window.left = false; window.back = false; window.pagesSaid = new Set();
         setInterval(() => {
           const v = document.querySelector('.catalog-view'), r = v.getBoundingClientRect();
           const whole = e => { const b = e.getBoundingClientRect(); return b.top >= r.top - 1 && b.bottom <= r.bottom + 1; };
           for (const c of v.querySelectorAll('[data-testid=catalog-item]')) {
             const before = c.previousElementSibling;
             const heading = before && before.classList.contains('group-title') ? before : null;
             if (whole(c) && (!heading || whole(heading))) window.seen.add(c.dataset.furnitureId);
           }
           window.pagesSaid.add(document.querySelector('[data-testid=catalog-page]').textContent);
           if (window.tops.at(-1) !== v.scrollTop) { window.tops.push(v.scrollTop); window.still = 0; } else window.still = (window.still || 0) + 1;
           if (window.still === 10) {
             const cut = [...v.querySelectorAll('.catalog > li')].find(li => { const b = li.getBoundingClientRect(); return b.top < r.top - 1 && b.bottom > r.top + 1 && b.height <= r.height; });
             if (cut) window.cutAtTop.push(v.scrollTop + ': ' + (cut.dataset.furnitureId || cut.textContent));
           }
           if (v.scrollTop > 0) window.left = true; else if (window.left) window.back = true;
         }, 50)",
    )
    .await;
}

/// Every one of `items` cards was seen whole since [`watch_wall_pages`]; a failure says what was
/// seen, where the view went, and the rows as laid out.
async fn assert_every_card_seen(page: &Dashboard, items: u64, query: &str) {
    let seen = page.eval("return [...window.seen].sort().join(' ') + '; scrolled to ' + window.tops.join(' ')").await;
    let rows = page.eval("const v = document.querySelector('.catalog-view'); return v.clientHeight + ' ' + [...v.querySelectorAll('.catalog > li')].map(li => li.offsetTop + '+' + li.offsetHeight + (li.className == 'group-title' ? 'h' : '')).join(' ')").await;
    assert_eq!(page.eval("return window.seen.size").await.as_u64(), Some(items), "every card seen whole on a page ({query}): {seen}; {rows}");
}

/// At a desk: an update shows what it changed, the unread count counts live changes until marked
/// read, and the filters narrow the feed by action, material and text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_feed_shows_diffs_unread_and_filters() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    broker.send(Action::Created, Furniture::new("d-1", "Mesa baja", "", 75, 120, "pino", "ana")).await;
    broker.send(Action::Updated, Furniture::new("d-1", "Mesa baja", "", 80, 120, "roble", "ana")).await;
    broker.send(Action::Created, Furniture::new("d-2", "Silla plegable", "", 90, 45, "haya", "luis")).await;
    page.wait_until("three feed items", "return document.querySelectorAll('[data-testid=feed-item]').length === 3").await;
    assert!(page.eval_bool("return !document.documentElement.hasAttribute('data-kiosk')").await);
    assert_eq!(page.text("[data-testid=feed-diff]").await, "altura: 75 → 80 · material: pino → roble");
    assert_eq!(page.text("[data-testid=unread-count]").await, "3 sin leer");
    page.eval("document.querySelector('[data-testid=mark-read]').click()").await;
    page.wait_until("all read", "return document.querySelector('[data-testid=unread-count]').textContent === 'Todo leído'").await;

    page.eval("document.querySelector('[data-testid=filter-action][data-action=updated]').click()").await;
    page.wait_until("updates hidden", "return document.querySelectorAll('[data-testid=feed-item]').length === 2").await;
    page.eval("document.querySelector('[data-testid=filter-action][data-action=updated]').click()").await;
    page.eval("const s = document.querySelector('[data-testid=filter-material]'); s.value = 'haya'; s.dispatchEvent(new Event('change'))").await;
    page.wait_until("only haya", "return [...document.querySelectorAll('[data-testid=feed-item]')].map(e => e.dataset.furnitureId).join() === 'd-2'").await;
    page.eval("const s = document.querySelector('[data-testid=filter-material]'); s.value = ''; s.dispatchEvent(new Event('change'))").await;
    page.eval("const i = document.querySelector('[data-testid=feed-search]'); i.value = 'MESA'; i.dispatchEvent(new Event('input'))").await;
    page.wait_until("only the table", "return [...document.querySelectorAll('[data-testid=feed-item]')].every(e => e.dataset.furnitureId === 'd-1')").await;
    assert_eq!(page.count("[data-testid=feed-item]").await, 2);

    // The catalog: by name first, newest first on demand, grouped by material, counted.
    let order = "return [...document.querySelectorAll('[data-testid=catalog-item]')].map(e => e.dataset.furnitureId).join()";
    assert_eq!(page.eval(order).await, "d-1,d-2");
    page.eval("const s = document.querySelector('[data-testid=catalog-sort]'); s.value = 'newest'; s.dispatchEvent(new Event('change'))").await;
    page.wait_until("newest first", &format!("{order} === 'd-2,d-1'")).await;
    page.eval("document.querySelector('[data-testid=catalog-group]').click()").await;
    page.wait_until("groups by material", "return [...document.querySelectorAll('[data-testid=material-group]')].map(g => g.dataset.material).join() === 'haya,roble'").await;
    assert!(page.text("[data-testid=material-counts]").await.contains("roble 1"));
    page.close().await;
}

/// The desk's layout: the charts stand over the panels' columns and their headings share a line;
/// in a narrower window a card's facts and the feed's filters keep their words whole, and the
/// title its line; a wide one has wider cards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layout_lines_up_and_keeps_words_whole() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    for (i, (material, autor)) in [("hierro forjado", "maria.garcia"), ("DM lacado", "carlos.ruiz"), ("mimbre", "javier_ortega")].into_iter().enumerate() {
        let f = Furniture::new(&format!("l-{i}"), "Mesa de comedor envejecida (edición limitada)", "", 74, 145, material, autor);
        broker.send(Action::Created, f).await;
    }
    page.wait_until("three cards", "return document.querySelectorAll('[data-testid=catalog-item]').length === 3").await;
    // Edges, in CSS pixels, of each chart and each panel, and the tops of the two headings.
    let edges = "const r = s => document.querySelector(s).getBoundingClientRect(); \
                 return [r('[data-testid=activity-chart]').right, r('.catalog-panel').right, \
                         r('[data-testid=material-chart]').left, r('.feed-panel').left, \
                         r('[data-testid=material-chart]').right, r('.feed-panel').right, \
                         r('#catalog-title').top, r('#feed-title').top].map(Math.round)";
    let e = page.eval(edges).await;
    let pairs: Vec<(i64, i64)> = (0..4).map(|k| (e[2 * k].as_i64().unwrap(), e[2 * k + 1].as_i64().unwrap())).collect();
    for (what, (a, b)) in ["activity chart / catalog right", "materials chart / feed left", "materials chart / feed right", "headings' tops"].iter().zip(&pairs) {
        assert!((a - b).abs() <= 1, "{what}: {a} against {b} ({e})");
    }

    // A laptop's half screen: cards two abreast, the feed at its narrowest.
    page.resize(960, 800, false).await;
    // An author or a material of one word takes one line. A select shows its whole label (text,
    // padding and arrow).
    let broken = "const lines = n => { const g = document.createRange(); g.selectNodeContents(n); return g.getClientRects().length; }; \
                  const out = [...document.querySelectorAll('[data-testid=catalog-item] :is(.card-facts dd, .card-by span)')] \
                      .filter(d => !d.textContent.includes(' ') && lines(d) > 1).map(d => d.textContent); \
                  const c = document.createElement('canvas').getContext('2d'); \
                  for (const s of document.querySelectorAll('.feed-filters select')) { \
                      const st = getComputedStyle(s); c.font = st.font; \
                      const need = c.measureText(s.options[s.selectedIndex].text).width + parseFloat(st.paddingLeft) + 16; \
                      if (s.clientWidth < need) out.push(s.options[s.selectedIndex].text + ' in ' + s.clientWidth + ' px'); } \
                  return out";
    assert_eq!(page.eval(broken).await, json!([]), "broken in a 960-pixel window");

    // A word longer than any screen (an author and a material of 300 letters) breaks where it
    // must: no card, and no page, wider than the window, here or on a phone.
    let long = "x".repeat(300);
    broker.send(Action::Created, Furniture::new("l-long", "Mesa larga", "", 75, 120, &long, &format!("usuario_{long}"))).await;
    page.wait_until("the long card", "return !!document.querySelector('[data-furniture-id=\"l-long\"]')").await;
    let overflow = "return [document.documentElement.scrollWidth - innerWidth, \
                    ...[...document.querySelectorAll('[data-testid=catalog-item]')].map(c => c.scrollWidth - c.clientWidth)]";
    assert_eq!(page.eval(overflow).await, json!([0, 0, 0, 0, 0]), "wider than a 960-pixel window");
    page.resize(390, 844, true).await;
    assert_eq!(page.eval(overflow).await, json!([0, 0, 0, 0, 0]), "wider than a phone");
    // The title on one line in a 600-pixel window, the pills under it (beside them it broke).
    page.resize(600, 900, false).await;
    let title = "const h1 = document.querySelector('.brand h1'), pills = document.querySelector('.status-items').getBoundingClientRect();
                 return [Math.round(h1.offsetHeight / parseFloat(getComputedStyle(h1).lineHeight)), pills.top >= h1.getBoundingClientRect().bottom - 1]";
    assert_eq!(page.eval(title).await, json!([1, true]), "one line, the pills under it");
    // A 2560-pixel desk: cards in five columns (six narrow ones cut their names), 1920 in four.
    let columns = "return getComputedStyle(document.querySelector('.catalog')).gridTemplateColumns.split(' ').length";
    for (width, height, want) in [(2560, 1440, 5), (1920, 1080, 4)] {
        page.resize(width, height, false).await;
        assert_eq!(page.eval(columns).await, json!(want), "columns at {width}");
    }
    // The facts of a row's cards on one line, however many lines their names and authors take
    // above them (a one-word name's stood two lines higher, and so did the facts of a card whose
    // author took a line of their own among them), unless they take more lines themselves (the
    // 300-letter material); the feet on one line.
    broker.send(Action::Created, Furniture::new("l-3", "Mesa", "", 90, 45, "haya", "maria.del.carmen.fernandez-villanueva")).await;
    page.wait_until("the fifth card", "return !!document.querySelector('[data-furniture-id=\"l-3\"]')").await;
    let lines = "const cards = [...document.querySelectorAll('[data-testid=catalog-item]')], top = e => Math.round(e.getBoundingClientRect().top);
                 const row = cards.filter(c => top(c) === top(cards[0]));
                 const even = row.filter(c => c.dataset.furnitureId !== 'l-long');
                 return [row.length, even.some(c => c.dataset.furnitureId === 'l-3'),
                         new Set(even.map(c => top(c.querySelector('.card-facts dt')))).size, new Set(row.map(c => top(c.querySelector('.card-foot')))).size]";
    assert_eq!(page.eval(lines).await, json!([4, true, 1, 1]), "a row of four; its facts' labels and feet each on one line");
    page.close().await;
}

/// On a phone, or in a window under 800 pixels high, the newest two toasts show, not four
/// standing over most of its screen; a bigger window shows all four.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_or_a_short_window_shows_the_newest_two_toasts() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.resize(390, 844, true).await;
    page.wait_state("live").await;
    for i in 0..4 {
        broker.send(Action::Created, Furniture::new(&format!("t-{i}"), &format!("Silla {i}"), "", 90, 45, "haya", "ana")).await;
    }
    page.wait_until("four toasts", "return document.querySelectorAll('[data-testid=toast]').length === 4").await;
    let shown = "return [...document.querySelectorAll('[data-testid=toast]')].filter(t => t.checkVisibility()).map(t => t.textContent.match(/Silla \\d/)[0])";
    assert_eq!(page.eval(shown).await, json!(["Silla 2", "Silla 3"]), "the newest two on a phone");
    page.resize(1280, 720, false).await;
    assert_eq!(page.eval(shown).await, json!(["Silla 2", "Silla 3"]), "the newest two in a 1280 × 720 window");
    page.resize(1440, 900, false).await;
    assert_eq!(page.eval(shown).await, json!(["Silla 0", "Silla 1", "Silla 2", "Silla 3"]), "all four in a bigger window");
    page.close().await;
}

/// A burst of 1,000 changes: one digest toast, the feed full to its cap (drawn a page at a time)
/// with the newest on top, and a catalog equal to the last state of every item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_a_thousand_changes_stays_calm_and_consistent() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    let mut publisher = furniture_notify::Notifier::new(broker.ws_url()).connect().await.unwrap();
    for i in 0..1000u32 {
        let id = format!("b-{}", i % 40);
        let action = if i < 40 { Action::Created } else { Action::Updated };
        let f = Furniture::new(&id, &format!("Estantería {i}"), "", 180 + i64::from(i % 7), 100, "haya", "ana");
        publisher.send(&ProducerMessage { action, furniture: f }).await.unwrap();
    }
    page.wait_until("the newest change in the feed", "return document.querySelector('[data-testid=feed-item]')?.textContent.includes('Estantería 999')").await;
    // The feed keeps its cap, 500, and draws them a hundred at a time.
    assert_eq!(page.count("[data-testid=feed-item]").await, 100, "the first hundred are drawn");
    assert!(page.text("[data-testid=feed-more]").await.contains("Mostrar 100 más · 400 sin mostrar"));
    for shown in [200, 300, 400, 500] {
        page.eval("document.querySelector('[data-testid=feed-more]').click(); return true").await;
        page.wait_until(&format!("{shown} rows"), &format!("return document.querySelectorAll('[data-testid=feed-item]').length === {shown}")).await;
    }
    assert_eq!(page.count("[data-testid=feed-more]").await, 0, "all 500 drawn, nothing more to show");
    assert!(page.text("[data-testid=feed-item]:last-child").await.contains("Estantería 500"), "the oldest kept is number 500");
    page.wait_until("forty cards", "return document.querySelectorAll('[data-testid=catalog-item]').length === 40").await;
    // The last change of item b-39 was number 999, of b-0 number 960.
    page.wait_card("b-39", |c| c.name == "Estantería 999").await;
    page.wait_card("b-0", |c| c.name == "Estantería 960").await;
    assert_eq!(page.count("[data-testid=toast][data-action=digest]").await, 1);
    assert!(page.count("[data-testid=toast]").await <= 4);
    publisher.close().await;
    page.close().await;
}

/// While changes keep coming, the digest toast that counts them stays readable and in place: the
/// same element takes each new count (a new one at every count started its entrance again, which
/// kept it transparent for as long as they came), and its close button takes a click (a new one
/// at every count left the release on another element than the press); closed, it stays closed
/// while they keep coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_stays_readable_while_changes_keep_coming() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    let mut publisher = furniture_notify::Notifier::new(broker.ws_url()).connect().await.unwrap();
    let look = "const t = document.querySelector('[data-testid=toast][data-action=digest]'); \
                if (!t) return 'none'; window.__digest = window.__digest || t; \
                return getComputedStyle(t).opacity + (t === window.__digest ? ' same' : ' new')";
    let close = "const b = document.querySelector('[data-testid=toast][data-action=digest] .toast-close') \
                 .getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]";
    let mouse = async |kind: &str, at: &Value| {
        page.cdp("Input.dispatchMouseEvent", json!({"type": kind, "x": at[0], "y": at[1], "button": "left", "clickCount": 1})).await;
    };
    let (mut seen, mut at) = (Vec::new(), Value::Null);
    // 150 changes at 50 a second; the digest's look is read every tenth once it is well on (from
    // the 60th, once its fade-in is over), and its close button pressed and released 60 ms
    // apart, changes arriving in between.
    for i in 0..150u32 {
        let action = if i < 10 { Action::Created } else { Action::Updated };
        let f = Furniture::new(&format!("r-{}", i % 10), &format!("Silla {i}"), "", 90, 45, "pino", "ana");
        publisher.send(&ProducerMessage { action, furniture: f }).await.unwrap();
        if i == 60 {
            // Well on: shown, its fade-in over (the page may lag behind the sending on a busy
            // machine); from then on it must stay so.
            page.wait_until("the digest shown whole", "const t = document.querySelector('[data-testid=toast][data-action=digest]'); return !!t && getComputedStyle(t).opacity === '1'").await;
        }
        if (60..=130).contains(&i) && i % 10 == 0 {
            seen.push(page.eval(look).await);
        }
        if i == 135 {
            // The page caught up first: the click closes the digest that counted up to here.
            page.wait_until("change 135 in the feed", "return document.querySelector('[data-testid=feed-item]')?.textContent.includes('Silla 135')").await;
            at = page.eval(close).await;
            mouse("mousePressed", &at).await;
        }
        if i == 138 {
            mouse("mouseReleased", &at).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen.iter().all(|o| o == "1 same"), "one digest, at full opacity, while it counts: {seen:?}");
    // Closed, it stays closed while the burst goes on (a new digest of the changes after the
    // click came with the next one).
    page.wait_until("the last change in the feed", "return document.querySelector('[data-testid=feed-item]')?.textContent.includes('Silla 149')").await;
    assert_eq!(page.count("[data-testid=toast]").await, 0, "the click closed the digest, and no other came while the changes kept coming");
    publisher.close().await;
    page.close().await;
}

/// A snapshot of a screen showing "Mesa guardada" (two changes, with a gap marker between them),
/// 4 reconnects today, the last two hours known, and `outage` as the outage its broker had not
/// yet answered for.
fn saved_screen(outage: Option<(f64, f64)>) -> furniture_dashboard::state::snapshot::Snapshot {
    use furniture_dashboard::state::feed::{Change, GapReason, Origin, Saved};
    use furniture_protocol::{CatalogEntry, Notification};
    let mesa = Furniture::new("s-1", "Mesa guardada", "", 75, 120, "roble", "ana");
    let saved = |action, seq, origin| Saved::Change(Change::saved(Notification { action, furniture: mesa.clone(), message: "🪑 guardada".into(), timestamp: None, seq: Some(seq) }, origin, unix_ms() - 60_000.0, Vec::new()));
    furniture_dashboard::state::snapshot::Snapshot {
        saved_ms: unix_ms(),
        stream: Some("saved".into()),
        seq: Some(2),
        catalog: vec![CatalogEntry { furniture: std::sync::Arc::new(mesa.clone()), seq: Some(2), timestamp: None }],
        feed: vec![
            saved(Action::Created, 1, Origin::History),
            Saved::Gap(unix_ms() - 7_200_000.0, unix_ms() - 7_100_000.0, GapReason::Disconnected),
            saved(Action::Updated, 2, Origin::Live),
        ],
        outage,
        // The day is the browser's today, set by `reload_with`.
        reconnects: Some((0, 4)),
        counts: None,
        activity_since: Some(unix_ms() - 7_200_000.0),
    }
}

/// The `stream` our broker numbers its changes in, and the `seq` it stands at, as a client's
/// welcome and `sync` tell them.
async fn broker_numbering(broker: &TestBroker) -> (String, u64) {
    use furniture_protocol::{decode_server, ServerFrame, SyncRequest};
    use futures_util::{SinkExt, StreamExt};
    let (mut ws, _) = tokio_tungstenite::connect_async(broker.ws_url()).await.unwrap();
    let mut stream = None;
    ws.send(tokio_tungstenite::tungstenite::Message::text(SyncRequest { since: None, batch: false, parts: false }.encode())).await.unwrap();
    while let Some(Ok(frame)) = ws.next().await {
        match decode_server(frame.to_text().unwrap_or_default()) {
            ServerFrame::Welcome { stream: s, .. } => stream = s,
            ServerFrame::Sync(reply) => return (stream.expect("our broker numbers its changes"), reply.seq),
            _ => {}
        }
    }
    panic!("no sync reply");
}

fn unix_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64
}

/// Opens the dashboard served by `broker` and connecting to `ws`, saves `snapshot` as a page
/// about to reload itself does (on the browser's today), and reloads it.
async fn reload_with(browser: &Browser, broker: &TestBroker, ws: &str, snapshot: &furniture_dashboard::state::snapshot::Snapshot) -> Dashboard {
    let page = Dashboard::open(browser, &format!("{}?kiosk&ws={ws}", broker.page_url())).await;
    page.wait_until("the app", "return !!document.querySelector('[data-testid=connection-status]')").await;
    let today = page.eval("return Math.floor((Date.now() / 60000 - new Date().getTimezoneOffset()) / 1440)").await;
    let mut snapshot = snapshot.clone();
    snapshot.reconnects = snapshot.reconnects.map(|(_, n)| (today.as_i64().expect("a day"), n));
    let text = serde_json::to_string(&snapshot.encode()).unwrap();
    page.eval(&format!("window.__before_reload = true; sessionStorage.setItem('furniture-dashboard.snapshot', {text}); location.reload()")).await;
    // The page after the reload, not the one before, which may still answer for a moment.
    page.wait_until("the reloaded page", "return window.__before_reload === undefined && !!document.querySelector('[data-testid=connection-status]')").await;
    page
}

/// The `data-action` of the feed's rows, newest first.
const FEED_ACTIONS: &str = "return [...document.querySelectorAll('[data-testid=feed-item]')].map(e => e.dataset.action).join(' ')";

/// A wall screen that reloads itself (nightly, or after a long outage) first saves its feed, gap
/// markers included, and catalog to sessionStorage; the reloaded page shows them again before
/// any broker answers, each card as last changed (updated, here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_wall_screen_restores_what_it_showed() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    // Served by our broker, but pointed at a port where nothing listens: only the snapshot can
    // fill the screen.
    let page = reload_with(&browser, &broker, "ws://127.0.0.1:9/", &saved_screen(None)).await;
    page.wait_card("s-1", |c| c.name == "Mesa guardada").await;
    page.wait_until("the saved feed", "return document.querySelectorAll('[data-testid=feed-item]').length === 3").await;
    assert_eq!(page.eval(FEED_ACTIONS).await, "updated gap created", "the gap marker where it was");
    let class = page.eval("return document.querySelector('[data-testid=catalog-item][data-furniture-id=s-1]').className").await;
    assert!(class.as_str().unwrap().contains("action-updated"), "the card's last action the saved feed's: {class}");
    page.wait_until("the saved reconnects", "return document.querySelector('[data-testid=health]').textContent.includes('4 reconexiones hoy')").await;
    let hour = page.eval("return document.querySelector('[data-testid=activity-chart] svg').getAttribute('aria-label')").await;
    assert_eq!(hour, "2 avisos en la última hora", "the hour the page before knew whole, with the changes it kept");
    assert!(page.eval_bool("return sessionStorage.getItem('furniture-dashboard.snapshot') === null").await, "restored once, then forgotten");
    page.close().await;
}

/// A wall screen that reloads itself goes on from the page before: its rows as they came (one
/// live, without a label; one from before that page opened, saying so), the update's diff, the
/// heading's count and the hour's; what changed while it reloaded is given back by the broker,
/// marked as recovered, and no gap is marked, the broker having filled it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_wall_screen_goes_on_from_the_page_before() {
    use furniture_dashboard::state::diff::diff;
    use furniture_dashboard::state::feed::{Change, Origin, Saved};
    use furniture_protocol::Notification;
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let before = mesa("Mesa de antes", "roble", 75);
    let after = mesa("Mesa de antes", "roble", 80);
    broker.send(Action::Created, before.clone()).await;
    broker.send(Action::Updated, after.clone()).await;
    let (stream, seq) = broker_numbering(&broker).await;
    let note = |action, furniture: &Furniture, seq| Notification { action, furniture: furniture.clone(), message: "🪑".into(), timestamp: None, seq: Some(seq) };
    let snapshot = furniture_dashboard::state::snapshot::Snapshot {
        saved_ms: unix_ms(),
        stream: Some(stream),
        seq: Some(seq),
        catalog: Vec::new(),
        feed: vec![
            Saved::Change(Change::saved(note(Action::Created, &before, seq - 1), Origin::History, unix_ms() - 90_000.0, Vec::new())),
            Saved::Change(Change::saved(note(Action::Updated, &after, seq), Origin::Live, unix_ms() - 30_000.0, diff(&before, &after))),
        ],
        outage: None,
        reconnects: None,
        counts: Some([20, 30, 7]),
        activity_since: Some(unix_ms() - 7_200_000.0),
    };
    // Deleted while no page listens: after the page before saved its screen, before this one asks.
    broker.send(Action::Deleted, after).await;
    let page = reload_with(&browser, &broker, &broker.ws_url(), &snapshot).await;
    page.wait_state("live").await;
    page.wait_until("the deletion given back", "return document.querySelectorAll('[data-testid=feed-item]').length === 3").await;
    assert_eq!(page.eval(FEED_ACTIONS).await, "deleted updated created", "no gap: the broker gave back what the reload missed");
    let labels = page.eval("return [...document.querySelectorAll('[data-testid=feed-item] .feed-meta')].map(m => (m.querySelector('.history, .replayed')?.textContent ?? '').replace(' · ', '')).join('|')").await;
    assert_eq!(labels, "recuperado||antes de abrir la página", "each row as it came");
    assert!(page.text("[data-testid=feed-diff]").await.contains("altura: 75 → 80"), "the update's diff kept");
    assert_eq!(page.text("#feed-title .count").await, "58", "20 + 30 + 7 counted by the pages before, and the deletion");
    let figure = page.text("[data-testid=activity-chart] .chart-figure").await;
    assert!(figure.ends_with("· 3/h"), "the two changes before the reload and the deletion, over the whole hour the page before knew: {figure}");
    page.close().await;
}

/// A wall screen reloads itself when its broker comes back after a long outage. Against the
/// Python broker, which cannot replay what was missed, the reloaded page still marks that outage
/// as a gap, as the page before would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_saved_before_a_reload_is_marked_as_a_gap_after_it() {
    let Some(browser) = Browser::start().await else { return };
    let Some(python) = support::PythonBroker::start() else { return };
    let broker = TestBroker::start(None).await;
    let (from, to) = (unix_ms() - 3_600_000.0, unix_ms() - 1_000.0);
    let page = reload_with(&browser, &broker, &python.url, &saved_screen(Some((from, to)))).await;
    page.wait_state("live").await;
    page.wait_until("the outage's gap beside the saved one", "return document.querySelectorAll('[data-action=gap]').length === 2").await;
    assert_eq!(page.eval(FEED_ACTIONS).await, "gap updated gap created", "the outage above what was saved");
    let health = page.eval("return document.querySelector('[data-testid=health]').textContent").await;
    assert!(health.as_str().is_some_and(|h| h.contains("4 reconexiones hoy")), "the reconnect the page before counted is not counted again: {health}");
    page.close().await;
}

/// Against the Python broker, which cannot give back what came while a wall screen reloaded
/// itself, the reloaded page marks those seconds as a gap, from its save to its welcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seconds_of_a_reload_the_python_broker_cannot_fill_are_a_gap() {
    let Some(browser) = Browser::start().await else { return };
    let Some(python) = support::PythonBroker::start() else { return };
    let broker = TestBroker::start(None).await;
    let page = reload_with(&browser, &broker, &python.url, &saved_screen(None)).await;
    page.wait_state("live").await;
    page.wait_until("the reload's gap", "return document.querySelectorAll('[data-action=gap]').length === 2").await;
    assert_eq!(page.eval(FEED_ACTIONS).await, "gap updated gap created", "the reload's seconds above what was saved");
    let hour = page.eval("return document.querySelector('[data-testid=activity-chart] svg').getAttribute('aria-label')").await;
    // "desde las 09:12", "desde la 01:12" (one o'clock takes the singular).
    assert!(hour.as_str().is_some_and(|h| h.contains("desde la")), "the hour counted since the reload: {hour}");
    page.close().await;
}

/// A page whose code stops on an error (a panic aborts the module: the browser reports a
/// `WebAssembly.RuntimeError`) says so, reloads itself after 5 s and resyncs from the broker,
/// instead of freezing on a wall with old data (index.html).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_code_stops_reloads_itself() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let keep_module = "addEventListener('TrunkApplicationStarted', (e) => { window.__module = e.detail.wasm; });";
    let page = Dashboard::open_with(&browser, &broker.page_url(), Some(keep_module)).await;
    page.wait_state("live").await;
    broker.send(Action::Created, mesa("Mesa antes del fallo", "roble", 75)).await;
    page.wait_card("e2e-mesa-1", |c| c.name == "Mesa antes del fallo").await;

    // A real abort inside the dashboard's module: its memory overwritten, so that the next
    // pointer it follows (at the next clock tick at the latest) is out of bounds.
    page.eval(
        "window.__before = true; setTimeout(() => new Uint8Array(window.__module.memory.buffer).fill(0xff)); return null",
    )
    .await;
    page.wait_until(
        "the failure note",
        "const n = document.querySelector('[data-testid=failure]'); return !!n && n.getAttribute('role') === 'alert' && n.textContent.includes('5 s')",
    )
    .await;
    page.screenshot("failure").await;
    page.wait_until("the reload", "return window.__before === undefined && !document.querySelector('[data-testid=failure]')").await;
    page.wait_state("live").await;
    page.wait_card("e2e-mesa-1", |c| c.name == "Mesa antes del fallo").await;
    broker.send(Action::Updated, mesa("Mesa después del fallo", "roble", 75)).await;
    page.wait_card("e2e-mesa-1", |c| c.name == "Mesa después del fallo").await;
    assert!(
        page.eval_bool("return sessionStorage.getItem('furniture-dashboard.failures') === '1'").await,
        "the failure is counted, so that a next one waits longer"
    );
    page.close().await;
}

/// A page whose code cannot load (its wasm blocked, as when the broker went down between the
/// page and its files) says so and reloads itself until the code is there again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_code_cannot_load_reloads_until_it_can() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    page.cdp("Network.enable", json!({})).await;
    page.cdp("Network.setCacheDisabled", json!({ "cacheDisabled": true })).await;
    page.cdp("Network.setBlockedURLs", json!({ "urls": ["*.wasm"] })).await;
    page.eval("location.reload(); return null").await;
    page.wait_until("the failure note", "const n = document.querySelector('[data-testid=failure]'); return !!n && n.textContent.includes('5 s')").await;
    assert_eq!(page.count("[data-testid=connection-status]").await, 0, "the app did not start");
    page.cdp("Network.setBlockedURLs", json!({ "urls": [] })).await;
    page.wait_state("live").await;
    assert!(page.eval_bool("return sessionStorage.getItem('furniture-dashboard.failures') === '1'").await);
    page.close().await;
}

/// A page whose code never finishes starting, with no error to catch (here its module's
/// instantiation never ends), says so when a minute has gone by, not before, and reloads itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_never_starts_says_so_after_a_minute_and_reloads() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    // Only until the first failure is counted, so that the reload starts.
    let hang = "if (!sessionStorage.getItem('furniture-dashboard.failures')) { \
                  const never = () => new Promise(() => {}); \
                  WebAssembly.instantiateStreaming = never; WebAssembly.instantiate = never; }";
    let opened = std::time::Instant::now();
    let page = Dashboard::open_with(&browser, &broker.page_url(), Some(hang)).await;
    tokio::time::sleep(Duration::from_secs(50).saturating_sub(opened.elapsed())).await;
    assert_eq!(page.count("[data-testid=failure]").await, 0, "no note before the minute is up");
    assert_eq!(page.count("[data-testid=connection-status]").await, 0, "the app did not start");
    let mut noted = None;
    while opened.elapsed() < Duration::from_secs(80) {
        let at = page.eval("return document.querySelector('[data-testid=failure]') ? performance.now() : null").await;
        if let Some(at) = at.as_f64() {
            noted = Some(at);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let noted = noted.expect("the failure note within 80 s");
    assert!((60_000.0..65_000.0).contains(&noted), "the note came {noted} ms after the page began loading");
    page.wait_state("live").await;
    assert!(page.eval_bool("return sessionStorage.getItem('furniture-dashboard.failures') === '1'").await);
    page.close().await;
}

/// The diagnostics overlay (`?debug`, or the D key) shows the raw frames both ways and the
/// close codes, and exports them as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diagnostics_overlay_shows_frames_and_close_codes() {
    let Some(browser) = Browser::start().await else { return };
    let mut broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &format!("{}?debug", broker.page_url())).await;
    page.wait_state("live").await;
    page.wait_until("the welcome and the sync request", "const t = document.querySelector('[data-testid=diagnostics-frames]').textContent; return t.includes('Conectado al servidor') && t.includes('\"type\":\"sync\"')").await;
    broker.restart().await;
    page.wait_until("the 1001 close", "return document.querySelector('[data-testid=diagnostics-events]').textContent.includes('closed: 1001')").await;
    let exported = page.eval("return decodeURIComponent(document.querySelector('[data-testid=diagnostics-export]').href.split(',').slice(1).join(','))").await;
    let v: serde_json::Value = serde_json::from_str(exported.as_str().unwrap()).unwrap();
    assert!(v["frames"].as_array().unwrap().len() >= 2);
    assert_eq!(v["closes"][0]["code"], 1001);
    page.eval("document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'd', bubbles: true}))").await;
    page.wait_until("the overlay closed", "return !document.querySelector('[data-testid=diagnostics]')").await;
    page.close().await;
}

/// The count of screens stays true while the page is open: our broker puts the count of the
/// moment in its pongs, producers left out, and the page pings at least every `ping_every` ms even
/// while changes keep coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_count_follows_screens_coming_and_going() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    // One publisher for the whole test, sending a change every 200 ms: the page is never silent
    // long enough for its 15 s ping.
    let mut publisher = furniture_notify::Notifier::new(broker.ws_url()).connect().await.unwrap();
    let stream = tokio::spawn(async move {
        for i in 0.. {
            let f = Furniture::new("cc-1", &format!("Mesa {i}"), "", 75, 120, "roble", "ana");
            if publisher.send(&ProducerMessage { action: Action::Updated, furniture: f }).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let page = Dashboard::open(&browser, &format!("{}?ping_every=500", broker.page_url())).await;
    page.wait_state("live").await;
    let count_is = |n: u32| format!("return document.querySelector('[data-testid=client-count]').textContent.trim().startsWith('{n} ')");
    page.wait_until("1 screen (the publisher is none)", &count_is(1)).await;
    let (one, _) = tokio_tungstenite::connect_async(broker.ws_url()).await.unwrap();
    let (two, _) = tokio_tungstenite::connect_async(broker.ws_url()).await.unwrap();
    page.wait_until("3 screens", &count_is(3)).await;
    drop(one);
    page.wait_until("2 screens", &count_is(2)).await;
    drop(two);
    page.wait_until("1 screen again", &count_is(1)).await;
    // A page left for another closes its socket as it goes; kept in the browser's back-forward
    // cache, it was counted as long as it stayed there.
    let other = Dashboard::open(&browser, &broker.page_url()).await;
    other.wait_state("live").await;
    page.wait_until("2 screens with the second page", &count_is(2)).await;
    other.eval("location.href = 'about:blank'").await;
    page.wait_until("1 screen once the second page is left", &count_is(1)).await;
    // Back to it (from the back-forward cache, where it was kept): it connects again, and
    // does not count that as a reconnect.
    other.eval("history.back()").await;
    other.wait_state("live").await;
    page.wait_until("2 screens with the second page back", &count_is(2)).await;
    assert!(other.text("[data-testid=health]").await.contains("0 reconexiones hoy"), "{}", other.text("[data-testid=health]").await);
    other.close().await;
    stream.abort();
    page.close().await;
}

/// A broker that stops answering without closing (a half-open connection): the page notices by
/// its own ping deadline, leaves "live", reconnects on its own, and gets what it missed from the
/// broker's history exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_dead_socket_is_detected_and_what_was_missed_replayed_once() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let (proxy, page) = open_through_a_proxy(&browser, &broker, broker.addr).await;
    page.wait_state("live").await;
    broker.send(Action::Created, Furniture::new("h-0", "Banco", "", 45, 120, "teca", "ana")).await;
    page.wait_feed("created", "h-0").await;
    proxy.set_open(furniture_faultproxy::Fault::Blackhole);
    // Broadcast while the page's connection swallows everything: the page misses it.
    broker.send(Action::Updated, Furniture::new("h-0", "Banco largo", "", 45, 180, "teca", "ana")).await;
    page.wait_not_live().await;
    page.wait_state("live").await;
    page.wait_feed("updated", "h-0").await;
    page.wait_card("h-0", |c| c.name == "Banco largo").await;
    assert!(page.text("[data-testid=feed-item][data-action=updated]").await.contains("recuperado"), "marked as recovered");
    broker.send(Action::Created, Furniture::new("h-1", "Banco", "", 45, 120, "teca", "ana")).await;
    page.wait_feed("created", "h-1").await;
    assert_eq!(page.count("[data-testid=feed-item]").await, 3, "each change once");
    assert_eq!(page.count("[data-testid=feed-item][data-action=gap]").await, 0, "nothing is missing");
    page.close().await;
}

/// A broker that keeps no history (`--history 0`) answers a page that comes back with its
/// catalog only: an outage in which nothing changed is no gap (the page asks from the `seq` its
/// catalog stood at, not from its feed's last change, which it never saw), one in which
/// something changed is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_history_only_an_outage_that_missed_a_change_is_a_gap() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start_with(None, |c| c.history = 0).await;
    broker.send(Action::Created, Furniture::new("n-0", "Banco", "", 45, 120, "teca", "ana")).await;
    let (proxy, page) = open_through_a_proxy(&browser, &broker, broker.addr).await;
    page.wait_state("live").await;
    page.wait_card("n-0", |c| c.name == "Banco").await;
    // The proxy swallows what the open connection carries; the page's next one goes through.
    proxy.set_open(furniture_faultproxy::Fault::Blackhole);
    page.wait_not_live().await;
    page.wait_state("live").await;
    broker.send(Action::Created, Furniture::new("n-1", "Silla", "", 45, 90, "haya", "ana")).await;
    page.wait_feed("created", "n-1").await;
    assert_eq!(page.count("[data-testid=feed-item][data-action=gap]").await, 0, "nothing was missed");
    proxy.set_open(furniture_faultproxy::Fault::Blackhole);
    broker.send(Action::Updated, Furniture::new("n-1", "Silla alta", "", 45, 110, "haya", "ana")).await;
    page.wait_not_live().await;
    page.wait_state("live").await;
    page.wait_card("n-1", |c| c.name == "Silla alta").await;
    page.wait_until("a gap marker", "return !!document.querySelector('[data-testid=feed-item][data-action=gap]')").await;
    assert!(page.text("[data-testid=feed-item][data-action=gap]").await.contains("el historial del servidor no alcanza"));
    page.close().await;
}

/// A page away for longer than the broker's history reaches back, whose replay is more than the
/// feed keeps (500): the changes before the history's first are missing, and the feed says so,
/// however many of the replay's rows the feed let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_history_is_a_gap_however_long_the_replay() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start_with(None, |c| c.history = 600).await;
    let (proxy, page) = open_through_a_proxy(&browser, &broker, broker.addr).await;
    page.wait_state("live").await;
    broker.send(Action::Created, Furniture::new("o-0", "Estantería", "", 180, 100, "haya", "ana")).await;
    page.wait_feed("created", "o-0").await;
    proxy.set_open(furniture_faultproxy::Fault::Blackhole);
    // 700 changes while the page's link swallows them: the history keeps the last 600.
    let mut publisher = furniture_notify::Notifier::new(broker.ws_url()).connect().await.unwrap();
    for i in 1..=700u32 {
        let f = Furniture::new("o-0", &format!("Estantería {i}"), "", 180, 100, "haya", "ana");
        publisher.send(&ProducerMessage { action: Action::Updated, furniture: f }).await.unwrap();
    }
    page.wait_not_live().await;
    page.wait_state("live").await;
    page.wait_card("o-0", |c| c.name == "Estantería 700").await;
    page.wait_until("a gap marker", "return !!document.querySelector('[data-testid=feed-item][data-action=gap]')").await;
    assert!(page.text("[data-testid=feed-item][data-action=gap]").await.contains("el historial del servidor no alcanza"));
    page.close().await;
}

/// The page's link goes dead while a broker that keeps its state in memory makes a change and
/// restarts: the new broker has another state, which the feed says over the outage, and its
/// catalog is the page's (a restart the page saw, with its 1001, says the same:
/// `changes_show_up_and_the_page_survives_a_broker_restart`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_lost_its_state_while_the_page_was_cut_off_leaves_a_gap() {
    let Some(browser) = Browser::start().await else { return };
    let mut broker = TestBroker::start(None).await;
    let (proxy, page) = open_through_a_proxy(&browser, &broker, broker.addr).await;
    page.wait_state("live").await;
    broker.send(Action::Created, Furniture::new("r-0", "Banco", "", 45, 120, "teca", "ana")).await;
    page.wait_feed("created", "r-0").await;
    proxy.set_open(furniture_faultproxy::Fault::Blackhole);
    broker.send(Action::Updated, Furniture::new("r-0", "Banco largo", "", 45, 180, "teca", "ana")).await;
    broker.restart().await;
    page.wait_not_live().await;
    page.wait_state("live").await;
    page.wait_until("a gap marker", "return !!document.querySelector('[data-testid=feed-item][data-action=gap]')").await;
    assert!(page.text("[data-testid=feed-item][data-action=gap]").await.contains("el servidor volvió con otro estado"));
    page.wait_card("r-0", |c| c.deleted).await;
    page.close().await;
}

/// Against a broker without our extension, an outage is marked in the feed as a window in which
/// changes may be missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_with_the_python_broker_is_marked_as_a_gap() {
    let Some(browser) = Browser::start().await else { return };
    let Some(python) = support::PythonBroker::start() else { return };
    let broker = TestBroker::start(None).await;
    let python_addr: std::net::SocketAddr = python.url.trim_start_matches("ws://").trim_end_matches('/').parse().unwrap();
    let (proxy, page) = open_through_a_proxy(&browser, &broker, python_addr).await;
    page.wait_state("live").await;
    proxy.set_open(furniture_faultproxy::Fault::Blackhole);
    page.wait_not_live().await;
    page.wait_state("live").await;
    page.wait_until("a gap marker", "return !!document.querySelector('[data-testid=feed-item][data-action=gap]')").await;
    assert!(page.text("[data-testid=feed-item][data-action=gap]").await.contains("pueden faltar cambios"));
    page.close().await;
}

/// The network goes away under the page (Chromium's network emulation, which leaves an open
/// socket up, and a link that swallows everything, which the socket then really is): the page
/// says "offline" instead of pretending to be live, and when the network returns it reconnects
/// at once and shows what changed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_going_away_shows_offline_and_comes_back() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let (proxy, page) = open_through_a_proxy(&browser, &broker, broker.addr).await;
    page.wait_state("live").await;
    page.cdp("Network.enable", json!({})).await;
    let conditions = |offline: bool| json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1});
    proxy.set_open(furniture_faultproxy::Fault::Blackhole);
    page.cdp("Network.emulateNetworkConditions", conditions(true)).await;
    page.wait_state("offline").await;
    broker.send(Action::Created, Furniture::new("net-1", "Cómoda", "", 90, 100, "nogal", "ana")).await;
    page.cdp("Network.emulateNetworkConditions", conditions(false)).await;
    page.wait_state("live").await;
    page.wait_feed("created", "net-1").await;
    page.wait_card("net-1", |c| c.name == "Cómoda").await;
    page.close().await;
}

/// A page that has not reached its broker says it waits for the catalog; a probe (here the
/// network coming back) brings a waiting reconnect to within 2 s, and the countdown on screen
/// says the new time at once, not the backoff's. (The backoff's jitter is
/// pinned by replacing `Math.random`, so that the third attempt waits 3.96 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_brings_the_reconnect_and_its_countdown_nearer() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    // A port nothing listens on, of an address no other test listens on.
    let closed = std::net::TcpListener::bind("127.0.0.3:0").unwrap().local_addr().unwrap().port();
    let page = Dashboard::open(&browser, &format!("{}?ws=ws://127.0.0.3:{closed}/", broker.page_url())).await;
    page.eval("Math.random = () => 0.99; return true").await;
    let label = "(document.querySelector('[data-testid=connection-status]')?.textContent ?? '')";
    page.wait_until("a reconnect 4 s away", &format!("return {label}.includes(' en 4 s')")).await;
    // Never welcomed, the page does not say it builds a catalog from live events.
    assert_eq!(page.text("[data-testid=catalog-source]").await, "Esperando el catálogo del servidor…");
    page.eval("window.dispatchEvent(new Event('online')); return true").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shown = page.eval(&format!("return {label}")).await;
    let shown = shown.as_str().unwrap_or_default();
    assert!(shown.contains(" en 2 s") || shown.contains(" en 1 s"), "the countdown after the probe: {shown}");
    page.wait_until("the fourth attempt", &format!("return /intento [4-9]/.test({label})")).await;
    page.close().await;
}

/// The reconnecting pill keeps its width as its countdown goes from two digits to one and its
/// attempts go by, up to the ninety-ninth: the pills beside it, and on a desk the title's line,
/// stay put. (The backoff's jitter is pinned by replacing `Math.random`: the first four attempts
/// wait 0.25 s, the next 15.8 s or 29.7 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconnecting_pill_keeps_its_width() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let closed = std::net::TcpListener::bind("127.0.0.3:0").unwrap().local_addr().unwrap().port();
    let page = Dashboard::open(&browser, &format!("{}?ws=ws://127.0.0.3:{closed}/", broker.page_url())).await;
    page.eval(
        "Math.random = () => 0; window.__widths = new Set(); window.__labels = new Set(); setInterval(() => { const c = document.querySelector('[data-testid=connection-status]'); \
         if (c?.dataset.state === 'reconnecting') { window.__widths.add(Math.round(c.getBoundingClientRect().width)); window.__labels.add(c.textContent); } }, 20); return true",
    )
    .await;
    let label = "(document.querySelector('[data-testid=connection-status]')?.textContent ?? '')";
    page.wait_until("the fourth attempt", &format!("return {label}.includes('intento 4')")).await;
    page.eval("Math.random = () => 0.99; return true").await;
    // The fifth attempt 16 s away (the sixth 30 s away, should the fifth have come before the
    // change of `Math.random`).
    page.wait_until("an attempt 10 s or more away", &format!("return / en [1-3][0-9] s$/.test({label})")).await;
    page.wait_for("its countdown at 9 s", &format!("return {label}.endsWith(' en 9 s')"), Duration::from_secs(40)).await;
    let (widths, labels) = (page.eval("return [...window.__widths]").await, page.eval("return [...window.__labels]").await);
    assert_eq!(widths.as_array().map(Vec::len), Some(1), "the pill's widths {widths} as it said {labels}");
    // At the bound: the longest it says before the hundredth attempt, in either language, is as
    // wide (a copy of the pill beside it, saying so).
    let widest = "const c = document.querySelector('[data-testid=connection-status]'); \
                  return ['Reconectando · intento 99 en 30 s', 'Reconnecting · attempt 99 in 30 s'].map(t => { \
                    const k = c.cloneNode(true); k.querySelector('.conn-label').textContent = t; c.after(k); \
                    const w = Math.round(k.getBoundingClientRect().width); k.remove(); return w; })";
    assert_eq!(page.eval(widest).await, json!([widths[0], widths[0]]), "the widest labels before the hundredth attempt");
    page.close().await;
}

/// The browser saying there is no network (as it does when only loopback is up, with the broker
/// on the same machine) does not drop a connection that still answers: the page stays live and
/// keeps showing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_told_it_is_offline_stays_live_while_the_broker_answers() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    page.eval(
        "window.__left = []; setInterval(() => { const s = document.querySelector('[data-testid=connection-status]')?.dataset.state; \
         if (s !== 'live') window.__left.push(s); }, 20); \
         Object.defineProperty(navigator, 'onLine', {get: () => false, configurable: true}); \
         window.dispatchEvent(new Event('offline')); return true",
    )
    .await;
    // Past the short deadline of a ping sent with no network reported.
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.send(Action::Created, Furniture::new("off-1", "Consola", "", 80, 120, "roble", "ana")).await;
    page.wait_feed("created", "off-1").await;
    assert_eq!(page.eval("return window.__left").await, json!([]), "the connection never left live");
    page.close().await;
}

/// A page frozen by the browser (lifecycle emulation) and resumed catches up: it is live and shows
/// the change made while it was frozen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_then_resumed_page_catches_up() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    page.cdp("Page.enable", json!({})).await;
    page.cdp("Page.setWebLifecycleState", json!({"state": "frozen"})).await;
    broker.send(Action::Created, Furniture::new("frz-1", "Vitrina", "", 190, 90, "vidrio", "ana")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    page.cdp("Page.setWebLifecycleState", json!({"state": "active"})).await;
    page.wait_state("live").await;
    page.wait_feed("created", "frz-1").await;
    page.close().await;
}

/// `?lang=en` renders the screen in English (with `<html lang="en">`), the wall screen too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_renders() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    broker.send(Action::Created, Furniture::new("en-1", "Mesa", "", 75, 120, "roble", "ana")).await;
    let page = Dashboard::open(&browser, &format!("{}?lang=en&kiosk", broker.page_url())).await;
    page.wait_state("live").await;
    assert!(page.eval_bool("return document.documentElement.lang === 'en'").await);
    assert_eq!(page.text("[data-testid=connection-status]").await.trim(), "Live");
    assert!(page.text("#catalog-title").await.contains("Catalog"));
    page.wait_until("an English health strip", "return document.querySelector('[data-testid=health]').textContent.includes('reconnects today')").await;
    broker.send(Action::Updated, Furniture::new("en-1", "Mesa", "", 80, 120, "roble", "ana")).await;
    page.wait_toast("updated").await;
    assert!(page.text("[data-testid=toast]").await.starts_with("🔄Updated: Mesa") || page.text("[data-testid=toast]").await.contains("Updated: Mesa"));
    // The feed's headlines in English too (the broker sends them in Spanish).
    page.wait_feed("updated", "en-1").await;
    assert_eq!(page.text("[data-testid=feed-item][data-action=updated] .feed-message").await, "🔄 Item updated: Mesa - 120\u{a0}×\u{a0}80\u{a0}cm");
    assert_eq!(page.text("[data-testid=feed-item][data-action=created] .feed-message").await, "🪑 New item: Mesa - roble (120\u{a0}×\u{a0}75\u{a0}cm)");
    page.close().await;
    // At a desk, the feed's search finds the headlines as shown, not the broker's Spanish.
    let page = Dashboard::open(&browser, &format!("{}?lang=en", broker.page_url())).await;
    page.wait_until("two feed rows", "return document.querySelectorAll('[data-testid=feed-item]').length === 2").await;
    let search = |text: &str| format!("const i = document.querySelector('[data-testid=feed-search]'); i.value = '{text}'; i.dispatchEvent(new Event('input'))");
    let actions = "return [...document.querySelectorAll('[data-testid=feed-item]')].map(e => e.dataset.action).join()";
    page.eval(&search("item updated")).await;
    page.wait_until("the update alone", &format!("{actions} === 'updated'")).await;
    page.eval(&search("mueble actualizado")).await;
    page.wait_until("no row", &format!("{actions} === ''")).await;
    page.close().await;
}

/// Hides the page as a browser does when its tab goes to the background: `document.visibilityState`
/// overridden, and `visibilitychange` fired.
const HIDE_TAB: &str = "window.__visibility = 'hidden'; Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => window.__visibility}); document.dispatchEvent(new Event('visibilitychange'))";
/// Shows a page hidden by [`HIDE_TAB`] again.
const SHOW_TAB: &str = "window.__visibility = 'visible'; document.dispatchEvent(new Event('visibilitychange'))";

/// A hidden tab raises no toasts; when it is shown again, one "while you were away" digest sums up
/// what happened, and the feed has every change. (Visibility is emulated by overriding
/// `document.visibilityState` and firing `visibilitychange`, as a browser does.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_tab_gets_one_digest_when_shown() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    page.eval(HIDE_TAB).await;
    for i in 0..3 {
        broker.send(Action::Created, Furniture::new(&format!("away-{i}"), "Taburete", "", 70, 40, "haya", "ana")).await;
    }
    broker.send(Action::Deleted, Furniture::new("away-0", "Taburete", "", 70, 40, "haya", "ana")).await;
    page.wait_until("four feed items", "return document.querySelectorAll('[data-testid=feed-item]').length === 4").await;
    assert_eq!(page.count("[data-testid=toast]").await, 0, "no toasts while hidden");
    page.eval(SHOW_TAB).await;
    page.wait_toast("digest").await;
    assert_eq!(page.count("[data-testid=toast]").await, 1);
    let text = page.text("[data-testid=toast]").await;
    assert!(text.contains("Mientras no mirabas: 4 cambios") && text.contains("3 creados, 1 eliminado"), "{text}");
    page.close().await;
}

/// A change that arrives just before the tab is hidden waits for an animation frame, which a
/// hidden tab does not get: it is taken in when the tab is hidden, so the changes after it are
/// not held behind it, and all are in the one "while you were away" digest. (Frames that do not
/// come are emulated by a `requestAnimationFrame` that keeps its callbacks.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_waiting_for_a_frame_when_the_tab_is_hidden_is_not_held() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    page.eval("window.__frames = []; window.requestAnimationFrame = (f) => window.__frames.push(f); return true").await;
    let stool = |i: usize| Furniture::new(&format!("late-{i}"), "Taburete", "", 70, 40, "haya", "ana");
    broker.send(Action::Created, stool(0)).await;
    page.wait_until("the change waiting for a frame", "return window.__frames.length > 0").await;
    page.eval(HIDE_TAB).await;
    for i in 1..3 {
        broker.send(Action::Created, stool(i)).await;
    }
    page.wait_until("three feed items while hidden", "return document.querySelectorAll('[data-testid=feed-item]').length === 3").await;
    assert_eq!(page.count("[data-testid=toast]").await, 0, "no toasts while hidden");
    page.eval(&format!("{SHOW_TAB}; window.__frames.forEach(f => f(performance.now()))")).await;
    page.wait_toast("digest").await;
    let text = page.text("[data-testid=toast]").await;
    assert!(text.contains("Mientras no mirabas: 3 cambios"), "{text}");
    page.close().await;
}

/// At a desk, the settings panel remembers language, theme and toasts in this browser and applies
/// them after a reload, which keeps the catalog's order and grouping; a parameter in the URL still
/// wins. Escape or a click outside closes the panel without saving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_settings_are_remembered_and_the_url_wins() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    page.eval("const s = document.querySelector('[data-testid=catalog-sort]'); s.value = 'newest'; s.dispatchEvent(new Event('change'))").await;
    page.eval("document.querySelector('[data-testid=catalog-group]').click()").await;
    let panel = "return document.querySelector('[data-testid=settings]').matches(':popover-open')";
    let closed = "return !document.querySelector('[data-testid=settings]').matches(':popover-open')";
    // Keys and clicks as a person gives them (the browser closes a popover on trusted input only).
    let click = async |x: f64, y: f64| {
        for kind in ["mousePressed", "mouseReleased"] {
            page.cdp("Input.dispatchMouseEvent", json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})).await;
        }
    };
    let centre = async |selector: &str| {
        let at = page.eval(&format!("const b = document.querySelector('{selector}').getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]")).await;
        (at[0].as_f64().unwrap(), at[1].as_f64().unwrap())
    };
    let (gear_x, gear_y) = centre("[data-testid=settings-open]").await;
    click(gear_x, gear_y).await;
    page.wait_until("the panel", panel).await;
    page.eval("const s = document.querySelector('[data-testid=settings-lang]'); s.value = 'en'; s.dispatchEvent(new Event('change')); s.focus()").await;
    for kind in ["keyDown", "keyUp"] {
        page.cdp("Input.dispatchKeyEvent", json!({"type": kind, "key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27})).await;
    }
    page.wait_until("the panel closed by Escape", closed).await;
    assert_eq!(page.eval("return document.activeElement.dataset.testid").await, "settings-open", "the focus back on the gear");
    click(gear_x, gear_y).await;
    page.wait_until("the panel", panel).await;
    assert_eq!(page.eval("return document.querySelector('[data-testid=settings-lang]').value").await, "es", "the choice left unsaved forgotten");
    let (x, y) = centre(".settings-note").await;
    click(x, y).await;
    assert!(page.eval_bool(panel).await, "a click inside keeps it open");
    click(10.0, 300.0).await;
    page.wait_until("the panel closed by a click beside it", closed).await;
    click(gear_x, gear_y).await;
    page.wait_until("the panel", panel).await;
    for (select, value) in [("settings-lang", "en"), ("settings-theme", "dark"), ("settings-toasts", "0")] {
        page.eval(&format!("const s = document.querySelector('[data-testid={select}]'); s.value = '{value}'; s.dispatchEvent(new Event('change'))")).await;
    }
    page.screenshot("settings").await;
    page.eval("document.querySelector('[data-testid=settings-save]').click()").await;
    page.wait_until("English and dark after the reload", "return document.documentElement.lang === 'en' && document.documentElement.dataset.theme === 'dark'").await;
    assert_eq!(page.eval("return location.search").await, "?sort=newest&group=material");
    assert_eq!(page.eval("return document.querySelector('[data-testid=catalog-sort]').value").await, "newest", "the order kept");
    assert!(page.eval_bool("return document.querySelector('[data-testid=catalog-group]').checked").await, "the grouping kept");
    page.wait_state("live").await;
    broker.send(Action::Created, Furniture::new("set-1", "Mesa", "", 75, 120, "roble", "ana")).await;
    page.wait_feed("created", "set-1").await;
    assert_eq!(page.count("[data-testid=toast]").await, 0, "toasts turned off");
    page.eval(&format!("location.href = '{}?lang=es'", broker.page_url())).await;
    page.wait_until("Spanish from the URL, dark from the settings", "return document.documentElement.lang === 'es' && document.documentElement.dataset.theme === 'dark'").await;
    page.close().await;
}

/// Hostile names: markup, script, bidi overrides, zero-width characters and 10,000 characters
/// are shown as the very text they are, and nothing is injected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_stay_text() {
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;
    let names = [
        "<script>window.__pwned = 1</script>".to_owned(),
        "\u{202E}ateM\u{202C} de \u{200B}roble\u{200D}".to_owned(),
        "<svg onload=\"window.__pwned=2\">".to_owned(),
        "x".repeat(10_000),
    ];
    for (i, name) in names.iter().enumerate() {
        broker.send(Action::Created, Furniture::new(&format!("evil-{i}"), name, name, 1, 1, name, name)).await;
    }
    for (i, name) in names.iter().enumerate() {
        // Shown without its bidirectional controls (below); every other character stays.
        let shown: String = name.chars().filter(|c| !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')).collect();
        page.wait_card(&format!("evil-{i}"), |c| c.name == shown && c.material == shown).await;
    }
    assert!(page.eval_bool("return window.__pwned === undefined").await);
    assert_eq!(page.count(".app script, .app svg:not(.chart svg):not([data-testid] svg), .app img").await, 0);
    // A right-to-left override left open in a name turned round the rest of the broker's text
    // ("… - roble (1x1cm)" read "(mc1x1) elbor - …"): the feed shows the text in its order.
    broker.send(Action::Created, Furniture::new("evil-rlo", "Prueba \u{202e}evil", "", 1, 1, "roble", "ana")).await;
    page.wait_feed("created", "evil-rlo").await;
    let shown = page.text("[data-testid=feed-item][data-furniture-id=\"evil-rlo\"] .feed-message").await;
    assert!(shown.ends_with("Prueba evil - roble (1x1cm)"), "{shown:?}");
    // Nor anywhere else on the page: a card's id, the feed's authors and its line of what
    // changed, the counts by material, the filters' options.
    broker.send(Action::Created, Furniture::new("evil-\u{202e}id", "Mesa", "", 1, 1, "roble", "ana")).await;
    broker.send(Action::Updated, Furniture::new("evil-rlo", "Prueba \u{202e}evil", "", 1, 1, "roble \u{202e}y", "ana \u{202e}y")).await;
    page.wait_feed("updated", "evil-rlo").await;
    page.wait_until("the card of the id", "return [...document.querySelectorAll('.card-id')].some(e => e.textContent === 'evil-id')").await;
    let found = page
        .eval(
            "const re = /[\\u202a-\\u202e\\u2066-\\u2069]/, found = [];
             const walk = document.createTreeWalker(document.querySelector('.app'), NodeFilter.SHOW_TEXT);
             while (walk.nextNode()) if (re.test(walk.currentNode.data)) found.push(walk.currentNode.parentElement.className + ': ' + walk.currentNode.data.slice(0, 40));
             return found",
        )
        .await;
    assert_eq!(found, json!([]), "bidirectional controls on the page");
    page.close().await;
}

/// The broker process killed with SIGKILL and started again: the page leaves "live", reconnects
/// on its own, and ends showing exactly the restarted broker's catalog (read back from its state
/// file, so the old item stays) and the changes that follow, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_broker_process_is_reconnected_to_and_its_catalog_survives() {
    let Some(browser) = Browser::start().await else { return };
    let Some(bin) = support::BrokerProcess::binary() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let data = std::env::temp_dir().join(format!("furniture-e2e-kill-{port}"));
    let _ = std::fs::remove_dir_all(&data);
    let broker = support::BrokerProcess::start(&bin, addr, &data).await;
    let notifier = furniture_notify::Notifier::new(format!("ws://{addr}"));
    let page = Dashboard::open(&browser, &format!("http://{addr}/?linger=1")).await;
    page.wait_state("live").await;
    notifier.send(&ProducerMessage { action: Action::Created, furniture: Furniture::new("k-1", "Mesa", "", 75, 120, "roble", "ana") }).await.unwrap();
    page.wait_card("k-1", |c| !c.deleted).await;
    broker.kill();
    page.wait_until("the page noticing", "return document.querySelector('[data-testid=connection-status]').dataset.state !== 'live'").await;
    // Cut off, it no longer says it is live and in sync: it shows the broker's last state as such.
    page.wait_until("the catalog shown as the broker's last state", "return document.querySelector('[data-testid=catalog-source]').textContent.startsWith('Sin conexión: lo último del servidor · aviso n.º ')").await;
    assert!(page.eval_bool("return getComputedStyle(document.querySelector('.brand-sub')).visibility === 'hidden'").await, "'en vivo' hidden");
    assert!(page.text("[data-testid=health]").await.contains("latencia —"), "{}", page.text("[data-testid=health]").await);
    let _broker = support::BrokerProcess::start(&bin, addr, &data).await;
    page.wait_state("live").await;
    notifier.send(&ProducerMessage { action: Action::Created, furniture: Furniture::new("k-2", "Silla", "", 90, 45, "haya", "ana")}).await.unwrap();
    page.wait_card("k-2", |c| !c.deleted).await;
    // In sync again, up to the broker's notification of k-2, its second.
    page.wait_until("in sync up to k-2", "return document.querySelector('[data-testid=catalog-source]').textContent === 'Sincronizado con el servidor · aviso n.º 2'").await;
    // The restarted broker read k-1 back from its state file, and the page shows each change once.
    page.wait_until("both items after the restart", "return [...document.querySelectorAll('[data-testid=catalog-item]')].map(e => e.dataset.furnitureId).sort().join() === 'k-1,k-2'").await;
    page.wait_until("each change once in the feed", "return [...document.querySelectorAll('[data-testid=feed-item]')].map(e => e.dataset.furnitureId).sort().join() === 'k-1,k-2'").await;
    page.close().await;
    let _ = std::fs::remove_dir_all(&data);
}

/// Hostile and malformed input from a producer, valid-but-nasty and invalid alike: the broker
/// stays up, the dashboard keeps every name as text and runs nothing, and every frame the broker
/// sent meanwhile (welcome, notifications, pong, the sync reply with the catalog) parses with the
/// browser's own `JSON.parse`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_frame_the_broker_sends_under_hostile_input_parses_in_the_browser() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let Some(browser) = Browser::start().await else { return };
    let broker = TestBroker::start(None).await;
    let page = Dashboard::open(&browser, &broker.page_url()).await;
    page.wait_state("live").await;

    // A viewer that records every text frame the broker sends it.
    let (recorder, _) = tokio_tungstenite::connect_async(broker.ws_url()).await.unwrap();
    let (mut asks, mut frames_in) = recorder.split();
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = frames_in.next().await {
            if let Message::Text(t) = msg {
                let _ = frames_tx.send(t.to_string());
            }
        }
    });

    let publish = |record: &str| format!(r#"{{"type":"furniture_created","furniture":{record}}}"#);
    let nasty = [
        r#""<script>window.__pwned=1</script>""#.to_owned(),
        r#""<img src=x onerror=\"window.__pwned=2\">""#.to_owned(),
        r#""line\u2028separator\u2029and \u0000 nul, \"quotes\" and \\ backslash""#.to_owned(),
        r#""\u202Eright to left\u202C 🪑 \uD83D\uDE00""#.to_owned(),
        format!(r#""{}""#, "é".repeat(20_000)),
        "null".to_owned(),
        "12345678901234567890".to_owned(),
        "-0.0".to_owned(),
        r#"{"nested":["an","object"]}"#.to_owned(),
    ];
    let mut raw: Vec<Message> = Vec::new();
    for (i, value) in nasty.iter().enumerate() {
        raw.push(Message::text(publish(&format!(
            r#"{{"furniture_id":"nasty-{i}","nombre":{value},"descripcion":{value},"altura":{value},"ancho":1e308,"material":{value},"autor_username":{value}}}"#
        ))));
    }
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    for invalid in [
        publish(r#"{"furniture_id":"nan","nombre":NaN}"#),
        publish(r#"{"furniture_id":"inf","altura":Infinity}"#),
        publish(r#"{"furniture_id":"big","altura":1e400}"#),
        publish(r#"{"furniture_id":"surrogate","nombre":"\ud800"}"#),
        publish(r#"{"furniture_id":"dup","furniture_id":"dup2"}"#),
        publish(&format!(r#"{{"furniture_id":"deep","nombre":{deep}}}"#)),
        "not json at all".to_owned(),
        String::new(),
        r#"{"type":"furniture_created"}"#.to_owned(),
        r#"{"type":"furniture_deleted","furniture":{"nombre":"no id"}}"#.to_owned(),
        r#"{"type":"who knows"}"#.to_owned(),
        "[1,2,3]".to_owned(),
    ] {
        raw.push(Message::text(invalid));
    }
    raw.push(Message::Binary(vec![0xff, 0xfe, 0x00, 0x80].into()));
    raw.push(Message::text(publish(r#"{"furniture_id":"end","nombre":"Fin","altura":1,"ancho":1,"material":"pino","autor_username":"qa"}"#)));
    let (producer, _) = tokio_tungstenite::connect_async(broker.ws_url()).await.unwrap();
    let (mut producer, mut producer_in) = producer.split();
    tokio::spawn(async move { while let Some(Ok(_)) = producer_in.next().await {} });
    for msg in raw {
        producer.send(msg).await.expect("the broker keeps the producer's connection");
    }
    page.wait_feed("created", "end").await;
    asks.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    asks.send(Message::text(r#"{"type":"sync","since":0}"#)).await.unwrap();

    // Everything recorded up to and including the sync reply.
    let mut frames = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), frames_rx.recv()).await.expect("the sync reply").unwrap();
        let done = frame.contains(r#""type":"sync""#);
        frames.push(frame);
        if done {
            break;
        }
    }
    let ids: Vec<String> = frames
        .iter()
        .filter_map(|f| serde_json::from_str::<serde_json::Value>(f).ok())
        .filter(|v| v["type"] == "furniture_notification")
        .map(|v| v["furniture"]["furniture_id"].as_str().unwrap_or("?").to_owned())
        .collect();
    let mut expected: Vec<String> = (0..nasty.len()).map(|i| format!("nasty-{i}")).collect();
    // The broker does not validate records (PROTOCOL.md): a create without a record and a delete
    // without an id go out as the Python broker sends them, with no `furniture_id`.
    expected.extend(["?".into(), "?".into(), "end".into()]);
    assert_eq!(ids, expected, "each nasty record and the end marker, in order, nothing invalid");
    assert!(frames.iter().any(|f| f.contains(r#""type":"pong""#)));

    let script = format!(
        "const frames = {};
         return frames.map(t => {{ try {{ const v = JSON.parse(t); return typeof v.type === 'string' ? null : 'no type: ' + t.slice(0, 200); }}
                                   catch (e) {{ return String(e) + ' in ' + t.slice(0, 200); }} }}).filter(x => x);",
        serde_json::to_string(&frames).unwrap()
    );
    let failures = page.eval(&script).await;
    assert_eq!(failures, json!([]), "frames JSON.parse refused");
    assert!(page.eval_bool("return window.__pwned === undefined").await, "nothing ran");
    assert_eq!(page.count(".app script, .app img").await, 0, "no element made from a name");
    // A value that is no text or no size (null, an object, a number past any size) shows as a dash.
    for i in [5, 8] {
        let card = page.wait_card(&format!("nasty-{i}"), |_| true).await;
        assert_eq!((card.name.as_str(), card.material.as_str()), ("—", "—"), "nasty-{i}");
        assert_eq!(card.size, "—\u{a0}×\u{a0}—\u{a0}cm", "nasty-{i}");
    }
    assert_eq!(page.eval("return document.querySelector('[data-testid=connection-status]').dataset.state").await, json!("live"));
    page.close().await;
}
