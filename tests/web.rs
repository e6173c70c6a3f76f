//! Component tests in the browser (wasm-bindgen-test): what the panels put in the DOM when their
//! state changes.

#![cfg(target_arch = "wasm32")]

use furniture_dashboard::app::Live;
use furniture_dashboard::components::{catalog::CatalogPanel, feed::FeedPanel, status::StatusBar, toasts::ToastStack};
use furniture_dashboard::state::connection::ConnState;
use furniture_dashboard::state::settings::Settings;
use furniture_protocol::Action;
use leptos::prelude::*;
use leptos::task::tick;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

mod browser;
use browser::{host, note, play};

wasm_bindgen_test_configure!(run_in_browser);

/// A toast shows its action and the name as text, and its close button removes it.
#[wasm_bindgen_test]
async fn toasts_show_names_as_text_and_dismiss() {
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <ToastStack/> });
    live.toasts.update(|t| t.push(&note(Action::Created, "a", "<b>Mesa</b>", 1), 0.0, true));
    tick().await;
    let toasts = host.query_selector_all("[data-testid=toast]").unwrap();
    assert_eq!(toasts.length(), 1);
    let toast: web_sys::Element = toasts.get(0).unwrap().unchecked_into();
    assert_eq!(toast.get_attribute("data-action").as_deref(), Some("created"));
    assert!(toast.text_content().unwrap().contains("<b>Mesa</b>"));
    assert!(host.query_selector("b").unwrap().is_none(), "no element made from the name");
    let close: web_sys::HtmlElement = host.query_selector(".toast-close").unwrap().unwrap().unchecked_into();
    close.click();
    tick().await;
    assert_eq!(host.query_selector_all("[data-testid=toast]").unwrap().length(), 0);
}

/// An update's toast says what changed in the item (as its feed row does), not the broker's
/// text again; a create's gives the item's material, size and author, not that text either.
#[wasm_bindgen_test]
async fn an_update_toast_says_what_changed() {
    use furniture_dashboard::ws::WsEvent;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <ToastStack/> });
    welcomed(live, "s1");
    live.on_event(WsEvent::Frame(note(Action::Created, "t1", "Mesa", 1).encode()));
    let mut bigger = note(Action::Updated, "t1", "Mesa", 2);
    bigger.furniture.0.insert("altura".into(), 80.into());
    live.on_event(WsEvent::Frame(bigger.encode()));
    let toast = |action: &str| host.query_selector(&format!("[data-testid=toast][data-action={action}]")).unwrap().map(|t| t.text_content().unwrap_or_default());
    until("the update's toast", || toast("updated").is_some()).await;
    assert!(toast("updated").unwrap().contains("altura: 75 → 80"), "{:?}", toast("updated"));
    assert!(!toast("updated").unwrap().contains("mensaje de Mesa"), "{:?}", toast("updated"));
    assert!(toast("created").unwrap().contains("roble · 120\u{a0}×\u{a0}75\u{a0}cm · ana"), "{:?}", toast("created"));
    assert!(!toast("created").unwrap().contains("mensaje de Mesa"), "{:?}", toast("created"));
}

/// The feed's heading counts every change received, past the 500 rows it keeps.
#[wasm_bindgen_test]
async fn the_feed_heading_counts_every_change_not_the_rows_kept() {
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    welcomed(live, "s1");
    play(live, 1, 600).await;
    let badge = || host.query_selector("#feed-title .count").unwrap().unwrap().text_content().unwrap_or_default();
    until("600 counted", || badge() == "600").await;
    assert_eq!(live.feed.with(|f| f.len()), 500, "the rows kept");
}

/// The feed lists notifications newest first with their action and id, and replays of a `seq`
/// already shown add nothing.
#[wasm_bindgen_test]
async fn the_feed_lists_newest_first_without_duplicates() {
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    use furniture_dashboard::state::feed::Origin;
    live.feed.update(|f| {
        f.push(&note(Action::Created, "a", "A", 1), 0.0, Origin::Live);
        f.push(&note(Action::Updated, "a", "A2", 2), 0.0, Origin::Live);
        f.push(&note(Action::Updated, "a", "A2", 2), 0.0, Origin::Recovered);
    });
    tick().await;
    let items = host.query_selector_all("[data-testid=feed-item]").unwrap();
    assert_eq!(items.length(), 2);
    let first: web_sys::Element = items.get(0).unwrap().unchecked_into();
    assert_eq!(first.get_attribute("data-action").as_deref(), Some("updated"));
    assert_eq!(first.get_attribute("data-furniture-id").as_deref(), Some("a"));
}

/// An empty feed says why: nothing has happened yet, or the filters let nothing through; the
/// words go as soon as a row is there to show.
#[wasm_bindgen_test]
async fn an_empty_feed_says_whether_nothing_came_or_the_filters_hide_it() {
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    let empty = || host.query_selector("[data-testid=feed-empty]").unwrap().map(|e| e.text_content().unwrap_or_default());
    tick().await;
    assert!(empty().is_some_and(|t| t.contains("Todavía no hay actividad")), "{:?}", empty());
    assert!(host.query_selector("[data-testid=feed-clear-filters]").unwrap().is_none(), "no filters to clear");
    use furniture_dashboard::state::feed::Origin;
    live.feed.update(|f| { f.push(&note(Action::Created, "a", "Mesa", 1), 0.0, Origin::Live); });
    tick().await;
    assert_eq!(empty(), None);
    live.filter.update(|f| f.text = "silla".into());
    tick().await;
    assert!(empty().is_some_and(|t| t.starts_with("Ningún aviso coincide con los filtros.")), "{:?}", empty());
    assert_eq!(host.query_selector_all(".feed-item").unwrap().length(), 0);
    live.filter.update(|f| f.text = "mesa".into());
    tick().await;
    assert_eq!(empty(), None);
    assert_eq!(host.query_selector_all(".feed-item").unwrap().length(), 1);
}

/// A feed that the filters empty offers to clear them, and the controls show what is filtered:
/// the search box and the lists empty again with the filters, and a list keeps its choice when a
/// new material arrives that sorts before it.
#[wasm_bindgen_test]
async fn an_empty_filtered_feed_clears_its_filters_and_the_controls_follow() {
    use furniture_dashboard::state::feed::Origin;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    live.feed.update(|f| { f.push(&note(Action::Created, "a", "Mesa", 1), 0.0, Origin::Live); });
    tick().await;
    let select: web_sys::HtmlSelectElement = host.query_selector("[data-testid=filter-material]").unwrap().unwrap().unchecked_into();
    let search: web_sys::HtmlInputElement = host.query_selector("[data-testid=feed-search]").unwrap().unwrap().unchecked_into();
    select.set_value("roble");
    select.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
    tick().await;
    assert_eq!(live.filter.with_untracked(|f| f.material.clone()).as_deref(), Some("roble"));
    // "arce" sorts before "roble": the list's options are made again, its choice stays.
    let mut arce = note(Action::Created, "b", "Silla", 2);
    arce.furniture.0.insert("material".into(), "arce".into());
    live.feed.update(|f| { f.push(&arce, 0.0, Origin::Live); });
    tick().await;
    assert_eq!(select.value(), "roble", "the list shows the material filtered");
    search.set_value("sofá");
    search.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    tick().await;
    let clear = || host.query_selector("[data-testid=feed-clear-filters]").unwrap();
    assert!(clear().is_some(), "nothing matches: the button to clear the filters shows");
    clear().unwrap().unchecked_into::<web_sys::HtmlElement>().click();
    tick().await;
    assert!(live.filter.with_untracked(|f| f.is_empty()));
    assert_eq!(host.query_selector_all(".feed-item").unwrap().length(), 2);
    assert_eq!(search.value(), "", "the search box empties with the filters");
    assert_eq!(select.value(), "", "the list shows no material");
    assert!(clear().is_none());
}

/// A list shows the material or author filtered when no row in the feed has it any more (the
/// feed keeps the last 500) or none had (a filter from the URL): it showed "Material" for a feed
/// still filtered.
#[wasm_bindgen_test]
async fn a_list_shows_its_choice_when_no_row_has_it() {
    use furniture_dashboard::state::feed::Origin;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    live.feed.update(|f| { f.push(&note(Action::Created, "a", "Mesa", 1), 0.0, Origin::Live); });
    live.filter.update(|f| { f.material = Some("nogal".into()); f.author = Some("eva".into()); });
    tick().await;
    for (list, chosen) in [("filter-material", "nogal"), ("filter-author", "eva")] {
        let select: web_sys::HtmlSelectElement = host.query_selector(&format!("[data-testid={list}]")).unwrap().unwrap().unchecked_into();
        assert_eq!(select.value(), chosen, "{list}");
    }
}

/// A `batch` frame from the broker is its frames one after the other: every notification in it
/// reaches the feed and the catalog, in order.
#[wasm_bindgen_test]
async fn a_batch_frame_shows_every_notification_in_it() {
    use furniture_dashboard::ws::WsEvent;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> <CatalogPanel/> });
    live.on_event(WsEvent::State(ConnState::Live));
    let frames = [note(Action::Created, "a", "A", 1).encode(), note(Action::Created, "b", "B", 2).encode(), note(Action::Deleted, "a", "A", 3).encode()];
    live.on_event(WsEvent::Frame(furniture_protocol::encode_batch(frames.iter().map(String::as_str))));
    until("three rows", || host.query_selector_all("[data-testid=feed-item]").unwrap().length() == 3).await;
    let actions: Vec<String> = (0..3)
        .map(|i| {
            let items = host.query_selector_all("[data-testid=feed-item]").unwrap();
            items.get(i).unwrap().unchecked_into::<web_sys::Element>().get_attribute("data-action").unwrap()
        })
        .collect();
    assert_eq!(actions, ["deleted", "created", "created"], "newest first");
    let deleted = host.query_selector("[data-testid=catalog-item][data-furniture-id=a]").unwrap().unwrap();
    assert_eq!(deleted.get_attribute("data-deleted").as_deref(), Some("true"));
    assert!(host.query_selector("[data-testid=catalog-item][data-furniture-id=b]").unwrap().is_some());
}

/// While changes keep coming, the counts around the page (here the activity chart's) are drawn
/// with the feed, at most every 100 ms, not at every change; the last change is counted once
/// they stop.
#[wasm_bindgen_test]
async fn counts_are_drawn_at_the_feeds_pace_and_end_on_the_last_change() {
    use furniture_dashboard::components::charts::Charts;
    use furniture_dashboard::ws::WsEvent;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <Charts/> <FeedPanel/> });
    live.on_event(WsEvent::State(ConnState::Live));
    let figure = || host.query_selector("[data-testid=activity-chart] .chart-figure").unwrap().unwrap().text_content().unwrap();
    let mut seen = vec![figure()];
    let started = js_sys::Date::now();
    for seq in 1..=10 {
        live.on_event(WsEvent::Frame(note(Action::Created, &format!("m{seq}"), "Mesa", seq).encode()));
        gloo_timers::future::TimeoutFuture::new(30).await;
        if seen.last() != Some(&figure()) {
            seen.push(figure());
        }
    }
    // The count before, the first change's at once, then at most one per 100 ms begun (a slow
    // machine stretches the run, and the bound with it).
    let most = 3 + ((js_sys::Date::now() - started) / 100.0) as usize;
    gloo_timers::future::TimeoutFuture::new(150).await;
    // What came before the page opened is not known: the count is since then ("desde las 09:12";
    // "desde la 01:12"), the one figure until the page has known a whole minute.
    let opened = furniture_dashboard::browser::local_clock(started)[..5].to_owned();
    assert!(figure().starts_with("10 desde la") && figure().ends_with(&format!(" {opened}")), "the last change is counted: {}", figure());
    assert!(seen.len() <= most, "ten changes 30 ms apart drawn in at most {most} texts, not one each: {seen:?}");
}

/// The hour's count is the hour's when the broker's history goes back to its numbering's start
/// or past the hour; when it begins within the hour, the count is since its first notification
/// ("3 desde las 09:12"; the line drawn from there), and after an outage that the broker cannot
/// fill, since the outage, without what came before it.
#[wasm_bindgen_test]
async fn the_hours_count_says_since_when_when_the_hour_is_not_known() {
    use furniture_dashboard::browser::local_clock;
    use furniture_dashboard::components::charts::Charts;
    use furniture_dashboard::ws::WsEvent;
    use furniture_protocol::{encode_sync_reply, Timestamp};
    // Three notifications, the first `oldest_min` minutes ago, the others 3 and 2.5 minutes ago.
    let history = |oldest_min: f64| {
        [oldest_min, 3.0, 2.5]
            .iter()
            .zip(1..)
            .map(|(min, seq)| {
                let mut n = note(Action::Created, &format!("h{seq}"), "Mesa", seq);
                n.timestamp = Some(Timestamp::from_unix_millis(js_sys::Date::now() - min * 60_000.0));
                n.encode()
            })
            .collect::<Vec<_>>()
    };
    let figure = |host: &web_sys::HtmlElement| {
        let svg = host.query_selector("[data-testid=activity-chart] svg").unwrap().unwrap().get_attribute("aria-label").unwrap();
        (host.query_selector("[data-testid=activity-chart] .chart-figure").unwrap().unwrap().text_content().unwrap(), svg)
    };
    let drawn = |live: Live| async move {
        gloo_timers::future::TimeoutFuture::new(50).await;
        live.tick();
        tick().await;
    };
    let hhmm = |minutes_ago: f64| local_clock(js_sys::Date::now() - minutes_ago * 60_000.0)[..5].to_owned();
    for (complete, oldest_min) in [(true, 30.0), (false, 30.0), (false, 90.0)] {
        let host = host();
        let live = live();
        let _mounted = mount(&host, live, move || view! { <Charts/> });
        live.on_event(WsEvent::State(ConnState::Live));
        let missed = history(oldest_min);
        live.on_event(WsEvent::Frame(encode_sync_reply(3, complete, &[], missed.iter().map(String::as_str))));
        drawn(live).await;
        let (text, label) = figure(&host);
        // The line is drawn over the minutes known, from the left edge when that is the hour.
        let line = host.query_selector("[data-testid=activity-chart] path").unwrap().unwrap().get_attribute("d").unwrap();
        assert_eq!(line.starts_with("M0.0,"), complete || oldest_min > 60.0, "{line}");
        match (complete, oldest_min) {
            (true, _) => assert_eq!((text.as_str(), label.as_str()), ("0/min · 3/h", "3 avisos en la última hora"), "the whole history"),
            (false, 30.0) => {
                let since = hhmm(30.0);
                assert!(text.starts_with("0/min · 3 desde la") && text.ends_with(&format!(" {since}")), "history from 30 minutes ago: {text}");
                assert!(label.starts_with("3 avisos desde la") && label.ends_with(&format!(" {since}")), "{label}");
            }
            _ => assert_eq!(text, "0/min · 2/h", "history from before the hour"),
        }
        if complete {
            // Lost, back, and the broker's history no longer reaches back to what it saw.
            live.on_event(WsEvent::State(ConnState::Reconnecting { attempt: 1, next_try_ms: js_sys::Date::now() + 250.0 }));
            live.on_event(WsEvent::State(ConnState::Live));
            live.on_event(WsEvent::Frame(furniture_protocol::encode_welcome(4, Timestamp::from_unix_millis(js_sys::Date::now()), Some("s1"))));
            live.on_event(WsEvent::Frame(encode_sync_reply(5, false, &[], std::iter::empty())));
            drawn(live).await;
            let text = figure(&host).0;
            assert!(text.starts_with("0 desde la") && text.ends_with(&format!(" {}", hhmm(0.0))), "since the outage, the minute not known whole: {text}");
        }
    }
}

/// The materials past the chart's six bars are summed up in words that agree with their numbers:
/// one material, then several.
#[wasm_bindgen_test]
async fn the_materials_past_the_bars_are_counted_in_words_that_agree() {
    use furniture_dashboard::components::charts::Charts;
    use furniture_dashboard::ws::WsEvent;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <Charts/> });
    live.on_event(WsEvent::State(ConnState::Live));
    let more = || host.query_selector(".chart-more").unwrap().map(|e| e.text_content().unwrap_or_default());
    let mut seq = 0;
    let mut add = |material: &str, items: u64| {
        for _ in 0..items {
            seq += 1;
            let mut n = note(Action::Created, &format!("c{seq}"), "Mesa", seq);
            n.furniture.0.insert("material".into(), material.into());
            live.on_event(WsEvent::Frame(n.encode()));
        }
    };
    // Six materials of two items each fill the bars; a seventh of one item is the one more.
    for m in ["roble", "pino", "haya", "teca", "nogal", "cerezo"] {
        add(m, 2);
    }
    add("mimbre", 1);
    until("one more material", || more().is_some()).await;
    assert_eq!(more().as_deref(), Some("y 1 mueble en 1 material más"));
    add("acero", 1);
    add("mimbre", 1);
    until("two more materials", || more().as_deref() != Some("y 1 mueble en 1 material más")).await;
    assert_eq!(more().as_deref(), Some("y 3 muebles en 2 materiales más"));
}

/// Against a broker that cannot replay what was missed (the Python one), an outage that follows
/// another before the broker's answer was due (the connection lost again at once) is one gap,
/// from the first loss to the last welcome: the first outage is not forgotten.
#[wasm_bindgen_test]
async fn outages_back_to_back_are_one_gap_from_the_first_loss() {
    use furniture_dashboard::browser::local_clock;
    use furniture_dashboard::ws::WsEvent;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    let welcome = || WsEvent::Frame(r#"{"type":"connection","message":"Conectado","client_count":1}"#.into());
    let lost = || WsEvent::State(ConnState::Reconnecting { attempt: 1, next_try_ms: js_sys::Date::now() + 250.0 });
    let back = |live: Live| {
        live.on_event(WsEvent::State(ConnState::Live));
        live.on_event(welcome());
    };
    // The clock's time of day just before and just after an event: the page's is one of them
    // (a second may turn in between).
    let around = |event: &dyn Fn()| {
        let before = local_clock(js_sys::Date::now());
        event();
        [before, local_clock(js_sys::Date::now())]
    };
    back(live);
    let first_loss = around(&|| { live.on_event(lost()); });
    gloo_timers::future::TimeoutFuture::new(1_100).await;
    back(live);
    live.on_event(lost());
    gloo_timers::future::TimeoutFuture::new(1_100).await;
    let last_welcome = around(&|| back(live));
    // The broker's answer is due 3 s after the welcome; the second's tick then decides.
    gloo_timers::future::TimeoutFuture::new(3_100).await;
    live.tick();
    gloo_timers::future::TimeoutFuture::new(150).await;
    let gaps = host.query_selector_all("[data-testid=feed-item][data-action=gap]").unwrap();
    assert_eq!(gaps.length(), 1, "one gap for both outages");
    let text = gaps.get(0).unwrap().text_content().unwrap();
    let said = first_loss.iter().any(|from| last_welcome.iter().any(|to| text.contains(&format!("Desconectado de {from} a {to}"))));
    assert!(said, "{text}: from {first_loss:?} to {last_welcome:?}");
}

/// A page left for another (kept in the back-forward cache) closes its connection as it goes
/// and connects again when it is shown: the health line counts that as no reconnect, nor the
/// page's first connection after failed attempts, but a connection lost as one, also when the
/// page was left while it tried again.
#[wasm_bindgen_test]
async fn a_page_shown_again_after_it_was_left_counts_no_reconnect() {
    use furniture_dashboard::ws::WsEvent;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <StatusBar/> });
    let health = || host.query_selector("[data-testid=health]").unwrap().unwrap().text_content().unwrap();
    let back = || live.on_event(WsEvent::State(ConnState::Live));
    // The first attempt failed (no broker yet), the second connects.
    lost(live);
    back();
    lost(live);
    back();
    until("a connection lost, a reconnect", || health().contains("1 reconexión hoy")).await;
    // Left (the connection loop says it connects anew), then shown again.
    live.on_event(WsEvent::State(ConnState::Connecting));
    back();
    // Lost, and left while trying again.
    lost(live);
    live.on_event(WsEvent::State(ConnState::Connecting));
    back();
    until("the one lost counted", || health().contains("reconexiones hoy")).await;
    assert!(health().contains("2 reconexiones hoy"), "{}", health());
}

/// A broker that came back with another state (its numbering started over) says so in the feed
/// at once, over the outage, however it went (saying so, 1001, or not): its catalog replaced the
/// page's, and the items it no longer has show as deleted. A broker back with its own state
/// adds no line.
#[wasm_bindgen_test]
async fn a_broker_back_with_another_state_says_so_in_the_feed() {
    use furniture_dashboard::browser::local_clock;
    use furniture_dashboard::ws::WsEvent;
    use furniture_protocol::encode_sync_reply;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    let connect = |stream: &str| {
        welcomed(live, stream);
        live.on_event(WsEvent::Frame(encode_sync_reply(0, true, &[], std::iter::empty())));
    };
    let lost = || lost(live);
    let gaps = || {
        let list = host.query_selector_all("[data-testid=feed-item][data-action=gap]").unwrap();
        (0..list.length()).map(|i| list.get(i).unwrap().text_content().unwrap()).collect::<Vec<_>>()
    };
    connect("a");
    live.on_event(WsEvent::Closed { code: Some(1001), reason: "broker shutting down".into() });
    // The page reads the clock between these readings: one of each pair is its time.
    let down = [local_clock(js_sys::Date::now()), String::new()];
    lost();
    let down = [down[0].clone(), local_clock(js_sys::Date::now())];
    gloo_timers::future::TimeoutFuture::new(1_100).await;
    let back = local_clock(js_sys::Date::now());
    connect("b");
    let back = [back, local_clock(js_sys::Date::now())];
    gloo_timers::future::TimeoutFuture::new(150).await;
    assert_eq!(gaps().len(), 1, "{:?}", gaps());
    let text = &gaps()[0];
    assert!(text.contains(": el servidor volvió con otro estado"), "{text}");
    assert!(down.iter().any(|d| back.iter().any(|b| text.starts_with(&format!("⚠Desconectado de {d} a {b}:")))), "{text} ({down:?}, {back:?})");
    assert!(text.contains("los muebles que ya no tiene se muestran como eliminados"), "{text}");
    lost();
    connect("b");
    gloo_timers::future::TimeoutFuture::new(150).await;
    assert_eq!(gaps().len(), 1, "back with its own state: {:?}", gaps());
    lost();
    connect("c");
    gloo_timers::future::TimeoutFuture::new(150).await;
    assert_eq!(gaps().len(), 2, "{:?}", gaps());
    assert!(gaps()[0].contains("otro estado"), "the newest first: {:?}", gaps());
}

/// Our broker put back by the Python one at its address (a welcome without a numbering): the
/// page stops saying it is in sync with the broker, says its catalog is built from what it sees
/// live from then on, and marks the outage in the feed as a window in which changes may be
/// missing (it said "in sync" for good, and marked no outage again).
#[wasm_bindgen_test]
async fn a_broker_without_sync_after_ours_is_not_taken_for_ours() {
    use furniture_dashboard::ws::WsEvent;
    use furniture_protocol::encode_sync_reply;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <StatusBar/> <FeedPanel/> });
    let source = || host.query_selector("[data-testid=catalog-source]").unwrap().unwrap().text_content().unwrap();
    welcomed(live, "a");
    live.on_event(WsEvent::Frame(encode_sync_reply(7, true, &[], std::iter::empty())));
    until("in sync", || source().contains("Sincronizado con el servidor")).await;
    lost(live);
    live.on_event(WsEvent::State(ConnState::Live));
    live.on_event(WsEvent::Frame(r#"{"type":"connection","message":"Conectado","client_count":1}"#.into()));
    // The broker's answer is due 3 s after the welcome; the second's tick then decides.
    gloo_timers::future::TimeoutFuture::new(3_100).await;
    live.tick();
    until("built from live events", || source().contains("Catálogo construido con eventos en vivo")).await;
    until("a gap marker", || host.query_selector("[data-testid=feed-item][data-action=gap]").unwrap().is_some()).await;
    let gap = host.query_selector("[data-testid=feed-item][data-action=gap]").unwrap().unwrap().text_content().unwrap();
    assert!(gap.contains("pueden faltar cambios"), "{gap}");
}

/// Our broker's answer to `sync` coming more than 3 s after its welcome (a big catalog, a busy
/// machine) to a page it had not answered before (a wall that reloaded itself, or whose first
/// answer a lost connection cut short): the outage waits for it, and the answer, which gives back
/// everything, leaves no gap (one was marked 3 s after the welcome, as for the Python broker).
#[wasm_bindgen_test]
async fn our_brokers_late_answer_fills_the_outage_before_it() {
    use furniture_dashboard::ws::WsEvent;
    use furniture_protocol::encode_sync_reply;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    welcomed(live, "a");
    lost(live);
    gloo_timers::future::TimeoutFuture::new(1_100).await;
    welcomed(live, "a");
    gloo_timers::future::TimeoutFuture::new(3_100).await;
    live.tick();
    gloo_timers::future::TimeoutFuture::new(150).await;
    assert!(host.query_selector("[data-testid=feed-item][data-action=gap]").unwrap().is_none(), "no gap before the answer");
    let missed = [note(Action::Created, "m1", "Mesa", 3).encode()];
    live.on_event(WsEvent::Frame(encode_sync_reply(3, true, &[], missed.iter().map(String::as_str))));
    until("the change given back", || host.query_selector("[data-testid=feed-item][data-action=created]").unwrap().is_some()).await;
    assert!(host.query_selector("[data-testid=feed-item][data-action=gap]").unwrap().is_none(), "nothing missed");
}

/// A broker that lost its state while the page was away (its numbering started over, no clean
/// close) is one line for the outage, even when the page's connection was lost again before the
/// broker's answer to an earlier welcome, and its reply, which cannot give its new numbering's
/// history from the start, adds none.
#[wasm_bindgen_test]
async fn a_renumbering_after_outages_back_to_back_is_one_gap() {
    use furniture_dashboard::ws::WsEvent;
    use furniture_protocol::encode_sync_reply;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> });
    let welcome = |stream: &str| welcomed(live, stream);
    let lost = || lost(live);
    welcome("a");
    live.on_event(WsEvent::Frame(encode_sync_reply(0, true, &[], std::iter::empty())));
    live.on_event(WsEvent::Frame(note(Action::Created, "m1", "Mesa", 1).encode()));
    // Just before and just after the loss: a second may turn in between.
    let first_loss = furniture_dashboard::browser::local_clock(js_sys::Date::now());
    lost();
    let first_loss = [first_loss, furniture_dashboard::browser::local_clock(js_sys::Date::now())];
    gloo_timers::future::TimeoutFuture::new(1_100).await;
    welcome("a");
    lost();
    welcome("b");
    live.on_event(WsEvent::Frame(encode_sync_reply(5_000, false, &[], std::iter::empty())));
    gloo_timers::future::TimeoutFuture::new(3_100).await;
    live.tick();
    gloo_timers::future::TimeoutFuture::new(150).await;
    let gaps = host.query_selector_all("[data-testid=feed-item][data-action=gap]").unwrap();
    assert_eq!(gaps.length(), 1, "one gap for the outage");
    let text = gaps.get(0).unwrap().text_content().unwrap();
    assert!(first_loss.iter().any(|at| text.contains(&format!("Desconectado de {at} a "))) && text.contains("otro estado"), "the outage's, not a short history's: {text}");
}

/// Changes that came while the page was hidden and still wait to be taken in when it is shown
/// (a hidden page's timers are slowed down) go into the "while you were away" digest with the
/// others, not into toasts of their own.
#[wasm_bindgen_test]
async fn changes_waiting_when_the_page_is_shown_go_into_the_away_digest() {
    use furniture_dashboard::ws::WsEvent;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <ToastStack/> });
    let document = web_sys::window().unwrap().document().unwrap();
    let hidden = js_sys::Object::new();
    js_sys::Reflect::set(&hidden, &"value".into(), &"hidden".into()).unwrap();
    js_sys::Reflect::set(&hidden, &"configurable".into(), &true.into()).unwrap();
    js_sys::Object::define_property(&document, &"visibilityState".into(), &hidden);
    live.on_event(WsEvent::State(ConnState::Live));
    for seq in 1..=3 {
        live.on_event(WsEvent::Frame(note(Action::Created, &format!("h{seq}"), "Mesa", seq).encode()));
    }
    // Shown before the hidden page's timer took them in.
    js_sys::Reflect::delete_property(&document, &"visibilityState".into()).unwrap();
    live.page_shown();
    gloo_timers::future::TimeoutFuture::new(100).await;
    let toasts = host.query_selector_all("[data-testid=toast]").unwrap();
    let texts: Vec<String> = (0..toasts.length()).map(|i| toasts.get(i).unwrap().text_content().unwrap()).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("3 cambios"), "{texts:?}");
}

/// A screen saved before a reload that is too big for sessionStorage (a big catalog) is kept
/// without its catalog, which the broker sends again: the feed and the outage still reach the
/// next page.
#[wasm_bindgen_test]
fn a_screen_too_big_to_save_is_saved_without_its_catalog() {
    use furniture_dashboard::app::{save_snapshot, SNAPSHOT_KEY};
    use furniture_dashboard::state::feed::{Change, GapReason, Origin, Saved};
    use furniture_dashboard::state::snapshot::Snapshot;
    use furniture_protocol::CatalogEntry;
    let storage = web_sys::window().unwrap().session_storage().unwrap().unwrap();
    storage.clear().unwrap();
    // Filled up to its quota, then 512 KB given back: room for a feed, not for a big catalog.
    let chunk = "x".repeat(256 * 1024);
    let filled = (0..400).take_while(|i| storage.set_item(&format!("fill{i}"), &chunk).is_ok()).count();
    assert!(filled < 400, "sessionStorage has a quota");
    storage.remove_item("fill0").unwrap();
    storage.remove_item("fill1").unwrap();
    let catalog: Vec<CatalogEntry> = (0..20_000)
        .map(|i| CatalogEntry { furniture: std::sync::Arc::new(note(Action::Created, &format!("item-{i}"), "Mesa de roble macizo", i).furniture), seq: Some(i), timestamp: None })
        .collect();
    let mut snapshot = Snapshot {
        saved_ms: js_sys::Date::now(),
        stream: Some("s".into()),
        seq: Some(1),
        catalog,
        feed: vec![Saved::Change(Change::saved(note(Action::Created, "item-1", "Mesa", 1), Origin::Live, 5.0, Vec::new())), Saved::Gap(10.0, 20.0, GapReason::Disconnected)],
        outage: Some((30.0, 40.0)),
        reconnects: Some((20_428, 2)),
        counts: Some([1, 0, 0]),
        activity_since: None,
    };
    let saved = save_snapshot(&storage, &mut snapshot);
    let text = storage.get_item(SNAPSHOT_KEY).unwrap();
    storage.clear().unwrap();
    assert!(saved.is_ok(), "{saved:?}");
    let back = Snapshot::decode(&text.expect("saved"), js_sys::Date::now()).expect("readable");
    assert!(back.catalog.is_empty());
    assert_eq!((back.feed.len(), back.outage, back.reconnects), (2, Some((30.0, 40.0)), Some((20_428, 2))));
}

/// A broker whose numbering went back under the same `stream` (its state put back from an older
/// copy) answers `sync` with a `seq` below the last one the page saw: the page takes the seqs it
/// hands out next as new ones, instead of dropping them as already seen.
#[wasm_bindgen_test]
async fn seqs_after_a_sync_behind_what_was_seen_are_taken_as_new() {
    use furniture_dashboard::browser::local_clock;
    use furniture_dashboard::ws::WsEvent;
    use furniture_protocol::{encode_sync_reply, encode_welcome, CatalogEntry, Timestamp};
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> <CatalogPanel/> });
    let now = Timestamp::parse("2026-12-06T10:00:00Z").unwrap();
    let welcome = || WsEvent::Frame(encode_welcome(1, now, Some("kept")));
    live.on_event(WsEvent::State(ConnState::Live));
    live.on_event(welcome());
    for seq in 1..=5 {
        live.on_event(WsEvent::Frame(note(Action::Created, &format!("old{seq}"), "Mesa", seq).encode()));
    }
    // Reconnected to the same stream, now at seq 2: its catalog as it stands, then seq 3.
    live.on_event(WsEvent::State(ConnState::Reconnecting { attempt: 1, next_try_ms: js_sys::Date::now() + 250.0 }));
    live.on_event(WsEvent::State(ConnState::Live));
    live.on_event(welcome());
    let kept: Vec<CatalogEntry> = (1..=2).map(|seq| CatalogEntry { furniture: std::sync::Arc::new(note(Action::Created, &format!("old{seq}"), "Mesa", seq).furniture), seq: Some(seq), timestamp: None }).collect();
    live.on_event(WsEvent::Frame(encode_sync_reply(2, true, &kept, std::iter::empty())));
    live.on_event(WsEvent::Frame(note(Action::Created, "new3", "Silla", 3).encode()));
    until("the new seq 3 shown", || host.query_selector("[data-testid=catalog-item][data-furniture-id=new3]").unwrap().is_some()).await;
    let gone = host.query_selector("[data-testid=catalog-item][data-furniture-id=old5]").unwrap().unwrap();
    assert_eq!(gone.get_attribute("data-deleted").as_deref(), Some("true"), "the catalog is the broker's (items it no longer has linger as deleted)");
    let gap = || host.query_selector("[data-testid=feed-item][data-action=gap]").unwrap();
    until("the feed says why", || gap().is_some()).await;
    assert!(gap().unwrap().text_content().unwrap().contains(" el servidor volvió con otro estado"));
    // Behind again on the same connection, without an outage: the time alone.
    let at = local_clock(js_sys::Date::now());
    live.on_event(WsEvent::Frame(encode_sync_reply(1, true, &kept[..1], std::iter::empty())));
    let at = [at, local_clock(js_sys::Date::now())];
    let gaps = || host.query_selector_all("[data-testid=feed-item][data-action=gap]").unwrap();
    until("a second line", || gaps().length() == 2).await;
    let text = gaps().get(0).unwrap().text_content().unwrap();
    assert!(at.iter().any(|t| text.starts_with(&format!("⚠A las {t} el servidor volvió con otro estado"))), "{text} ({at:?})");
}

/// While changes keep coming, a renamed card stays where it is, showing its new name at once,
/// and the second's tick puts the cards in order (the grid does not reshuffle at every change).
#[wasm_bindgen_test]
async fn a_renamed_card_stays_in_place_until_the_tick() {
    use furniture_dashboard::ws::WsEvent;
    let host = host();
    let live = live();
    let _mounted = mount_catalog(&host, live);
    live.on_event(WsEvent::State(ConnState::Live));
    let names = || {
        let list = host.query_selector_all(".card-name").unwrap();
        (0..list.length()).map(|i| list.get(i).unwrap().text_content().unwrap()).collect::<Vec<_>>()
    };
    for (seq, (id, name)) in [("a", "Armario"), ("b", "Banco"), ("c", "Cama")].into_iter().enumerate() {
        live.on_event(WsEvent::Frame(note(Action::Created, id, name, seq as u64 + 1).encode()));
    }
    until("three cards", || names() == ["Armario", "Banco", "Cama"]).await;
    let cards = || {
        let list = host.query_selector_all("[data-testid=catalog-item]").unwrap();
        (0..list.length()).map(|i| list.get(i).unwrap()).collect::<Vec<_>>()
    };
    let before = cards();
    live.on_event(WsEvent::Frame(note(Action::Updated, "a", "Vitrina", 4).encode()));
    live.on_event(WsEvent::Frame(note(Action::Created, "d", "Biombo", 5).encode()));
    until("renamed in place; the new card in its place by name", || names() == ["Vitrina", "Banco", "Biombo", "Cama"]).await;
    let renamed = cards();
    assert!(renamed[0].is_same_node(Some(&before[0])), "the renamed card is the same element");
    live.tick();
    gloo_timers::future::TimeoutFuture::new(50).await;
    assert_eq!(names(), ["Banco", "Biombo", "Cama", "Vitrina"], "in order at the tick");
    let ordered = cards();
    for (now, was) in [(0, 1), (1, 2), (2, 3)] {
        assert!(ordered[now].is_same_node(Some(&renamed[was])), "a card that kept its order is the same element ({now})");
    }
    assert!(!ordered[3].is_same_node(Some(&renamed[0])), "the card that moved is drawn anew, moving no other");
}

/// A catalog sent in `sync_part` frames is the parts' entries then the reply's, all shown; parts
/// of a reply that a lost connection cut short are dropped at the next welcome.
#[wasm_bindgen_test]
async fn a_catalog_in_parts_is_shown_whole_and_parts_cut_short_are_dropped() {
    use furniture_dashboard::ws::WsEvent;
    use furniture_protocol::{encode_sync_parts, encode_welcome, CatalogEntry, Furniture, Timestamp};
    let host = host();
    let live = live();
    let _mounted = mount_catalog(&host, live);
    let entry = |id: &str, seq: u64| CatalogEntry {
        furniture: std::sync::Arc::new(Furniture::new(id, &format!("Mesa {id}"), "d", 75, 120, "roble", "Ana")),
        seq: Some(seq),
        timestamp: None,
    };
    let welcome = encode_welcome(1, Timestamp::parse("2026-11-30T00:00:00Z").unwrap(), Some("0123456789abcdef"));
    live.on_event(WsEvent::State(ConnState::Live));
    live.on_event(WsEvent::Frame(welcome.clone()));
    // A connection lost after one part of its reply.
    let cut = encode_sync_parts(9, true, &[entry("z", 9), entry("y", 8)], std::iter::empty(), 1);
    live.on_event(WsEvent::Frame(cut[0].clone()));
    live.on_event(WsEvent::State(ConnState::Connecting));
    live.on_event(WsEvent::State(ConnState::Live));
    live.on_event(WsEvent::Frame(welcome));
    let catalog = [entry("a", 1), entry("b", 2), entry("c", 3)];
    let frames = encode_sync_parts(3, true, &catalog, std::iter::empty(), 1);
    assert_eq!(frames.len(), 4, "three parts and the reply");
    for frame in frames {
        live.on_event(WsEvent::Frame(frame));
    }
    // Taken in at once, drawn in the next task.
    gloo_timers::future::TimeoutFuture::new(50).await;
    let ids: Vec<String> = {
        let cards = host.query_selector_all("[data-testid=catalog-item]").unwrap();
        (0..cards.length()).map(|i| cards.get(i).unwrap().unchecked_into::<web_sys::Element>().get_attribute("data-furniture-id").unwrap()).collect()
    };
    assert_eq!(ids, ["a", "b", "c"]);
}

/// A synced catalog's cards come in two tasks: a screenful first, then the rest of the page's.
#[wasm_bindgen_test]
async fn a_synced_catalog_shows_a_screenful_first_then_the_rest() {
    use furniture_dashboard::ws::WsEvent;
    use furniture_protocol::{encode_sync_parts, encode_welcome, CatalogEntry, Furniture, Timestamp};
    let host = host();
    let live = live();
    let _mounted = mount_catalog(&host, live);
    let catalog: Vec<CatalogEntry> = (0..40)
        .map(|i| CatalogEntry {
            furniture: std::sync::Arc::new(Furniture::new(&format!("i{i:02}"), &format!("Mesa {i:02}"), "d", 75, 120, "roble", "Ana")),
            seq: Some(i + 1),
            timestamp: None,
        })
        .collect();
    live.on_event(WsEvent::State(ConnState::Live));
    live.on_event(WsEvent::Frame(encode_welcome(40, Timestamp::parse("2026-11-30T00:00:00Z").unwrap(), Some("0123456789abcdef"))));
    for frame in encode_sync_parts(40, true, &catalog, std::iter::empty(), 1 << 20) {
        live.on_event(WsEvent::Frame(frame));
    }
    let cards = || host.query_selector_all("[data-testid=catalog-item]").unwrap().length();
    assert_eq!(cards(), 0, "taken in now, drawn in a later task");
    // A timer of no delay runs after the tasks the reply queued before it: the first step.
    gloo_timers::future::TimeoutFuture::new(0).await;
    assert_eq!(cards(), 24, "a screenful first");
    gloo_timers::future::TimeoutFuture::new(50).await;
    assert_eq!(cards(), 40, "then the rest");
}

/// The catalog panel alone, mounted in `host` with default settings; drawn while the result is
/// kept.
fn mount_catalog(host: &web_sys::HtmlElement, live: Live) -> impl Sized {
    mount(host, live, || view! { <CatalogPanel/> })
}

/// Mounts `view` in `host` with the page's state and default settings in its context; the
/// returned handle unmounts it when dropped.
fn mount<V: IntoView + 'static>(host: &web_sys::HtmlElement, live: Live, view: impl FnOnce() -> V + 'static) -> impl Sized {
    leptos::mount::mount_to(host.clone(), move || {
        provide_context(live);
        provide_context(Settings::default());
        view()
    })
}

/// Waits until `done` holds (checked every 10 ms, for at most 5 s: a slow machine's frames come
/// late), or fails saying `what`.
async fn until(what: &str, done: impl Fn() -> bool) {
    let started = js_sys::Date::now();
    while !done() {
        assert!(js_sys::Date::now() - started < 5_000.0, "waited 5 s for {what}");
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
}

/// The page's connection went live and our broker welcomed it, numbering its changes `stream`.
fn welcomed(live: Live, stream: &str) {
    use furniture_dashboard::ws::WsEvent;
    let now = furniture_protocol::Timestamp::parse("2026-12-06T10:00:00Z").unwrap();
    live.on_event(WsEvent::State(ConnState::Live));
    live.on_event(WsEvent::Frame(furniture_protocol::encode_welcome(1, now, Some(stream))));
}

/// The page's connection was lost; it tries again in 250 ms.
fn lost(live: Live) {
    let next_try_ms = js_sys::Date::now() + 250.0;
    live.on_event(furniture_dashboard::ws::WsEvent::State(ConnState::Reconnecting { attempt: 1, next_try_ms }));
}

fn live() -> Live {
    Live::new("ws://127.0.0.1:9/".into(), false, furniture_dashboard::state::i18n::Lang::Es)
}

/// Cards kept in place: updating one item changes that card's texts in the card's own element;
/// the other card is untouched, down to its text nodes. A deleted item stays, marked
/// `data-deleted`.
#[wasm_bindgen_test]
async fn one_update_touches_one_card() {
    let host = host();
    let live = live();
    let _mounted = mount_catalog(&host, live);
    live.catalog.update(|c| {
        c.apply(&note(Action::Created, "a", "Armario", 1), 0.0);
        c.apply(&note(Action::Created, "b", "Banco", 2), 0.0);
    });
    tick().await;
    let card = |id: &str| host.query_selector(&format!("[data-testid=catalog-item][data-furniture-id={id}]")).unwrap();
    let (a, b) = (card("a").unwrap(), card("b").unwrap());
    let name_text = |card: &web_sys::Element| card.query_selector(".card-name").unwrap().unwrap().first_child().unwrap();
    let a_name = name_text(&a);
    live.catalog.update(|c| {
        c.apply(&note(Action::Updated, "b", "Banco largo", 3), js_sys::Date::now());
    });
    tick().await;
    assert!(card("a").unwrap().is_same_node(Some(&a)), "the untouched card was not re-rendered");
    assert!(name_text(&a).is_same_node(Some(&a_name)), "nor its name");
    assert!(card("b").unwrap().is_same_node(Some(&b)), "the updated card changed in place");
    assert_eq!(name_text(&b).text_content().as_deref(), Some("Banco largo"));
    assert!(b.class_list().contains("action-updated"), "{}", b.class_name());
    assert!(b.query_selector(".card-name.changed").unwrap().is_some(), "the changed name glows");
    assert!(a.query_selector(".changed").unwrap().is_none());
    live.catalog.update(|c| {
        c.apply(&note(Action::Deleted, "a", "Armario", 4), 2.0);
    });
    tick().await;
    assert_eq!(card("a").unwrap().get_attribute("data-deleted").as_deref(), Some("true"));
}

/// Rows that stay on screen stay put: when several notifications arrive in one frame, the feed
/// adds its new rows above the others and the catalog puts its changed cards in their places,
/// without taking out and putting back any row that stays (each one moved is styled and laid
/// out again by the browser).
#[wasm_bindgen_test]
async fn rows_that_stay_are_not_moved_in_the_page() {
    use furniture_dashboard::state::feed::Origin;
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> <CatalogPanel/> });
    let names = ["Armario", "Banco", "Cama", "Escritorio", "Mesa", "Silla", "Sofá", "Taburete"];
    live.feed.update(|f| {
        for (i, n) in names.iter().enumerate() {
            f.push(&note(Action::Created, &format!("i{i}"), n, i as u64 + 1), 0.0, Origin::Live);
        }
    });
    live.catalog.update(|c| {
        for (i, n) in names.iter().enumerate() {
            c.apply(&note(Action::Created, &format!("i{i}"), n, i as u64 + 1), 0.0);
        }
    });
    tick().await;
    // Every element taken out of the panels from here on; those still in the page were moved.
    let watch = js_sys::Function::new_with_args(
        "host",
        "const seen = []; const o = new MutationObserver(r => seen.push(...r)); \
         o.observe(host, { childList: true, subtree: true }); \
         window.__moved = () => { seen.push(...o.takeRecords()); \
           return seen.flatMap(r => [...r.removedNodes]).filter(n => n.nodeType === 1 && n.isConnected).map(n => n.dataset.furnitureId || n.className); };",
    );
    watch.call1(&wasm_bindgen::JsValue::NULL, &host).unwrap();
    // One frame's worth: four notifications; in the catalog the first card renamed to the end
    // of the name order, one changed in place, and one new card in the middle.
    let changes = [
        note(Action::Updated, "i0", "Vitrina", 9),
        note(Action::Updated, "i3", "Escritorio alto", 10),
        note(Action::Created, "n1", "Estante", 11),
        note(Action::Updated, "i5", "Silla plegable", 12),
    ];
    live.feed.update(|f| changes.iter().for_each(|n| { f.push(n, 1.0, Origin::Live); }));
    live.catalog.update(|c| changes.iter().for_each(|n| { c.apply(n, 1.0); }));
    tick().await;
    let moved = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__moved".into()).unwrap();
    let moved: js_sys::Array = moved.unchecked_into::<js_sys::Function>().call0(&wasm_bindgen::JsValue::NULL).unwrap().unchecked_into();
    assert_eq!(moved.length(), 0, "rows taken out and put back: {:?}", moved.to_vec());
    let ids = |selector: &str| {
        let list = host.query_selector_all(selector).unwrap();
        (0..list.length()).map(|i| list.get(i).unwrap().unchecked_into::<web_sys::Element>().get_attribute("data-furniture-id").unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(ids("[data-testid=feed-item]")[..5], ["i5", "n1", "i3", "i0", "i7"], "the feed, newest first");
    assert_eq!(ids("[data-testid=catalog-item]"), ["i1", "i2", "i3", "n1", "i4", "i5", "i6", "i7", "i0"], "the catalog, by name");
}

/// Two items with the same key (or keys whose hashes meet) are still two rows: a keyed list
/// needs its keys unique, and `Rows` makes them so rather than let the list break.
#[wasm_bindgen_test]
async fn rows_with_the_same_key_are_all_drawn() {
    use furniture_dashboard::components::rows::Rows;
    let host = host();
    let live = live();
    let items = RwSignal::new(vec![(1, "a"), (1, "b"), (2, "c")]);
    let _mounted = mount(&host, live, move || view! { <ul><Rows each=move || items.get() key=|t: &(u32, &str)| t.0 children=|t: (u32, &str)| view! { <li>{t.1}</li> }/></ul> });
    let texts = || {
        let list = host.query_selector_all("li").unwrap();
        (0..list.length()).map(|i| list.get(i).unwrap().text_content().unwrap()).collect::<Vec<_>>()
    };
    tick().await;
    assert_eq!(texts(), ["a", "b", "c"]);
    items.set(vec![(3, "d"), (1, "a"), (1, "b"), (2, "c"), (1, "e")]);
    tick().await;
    assert_eq!(texts().len(), 5, "{:?}", texts());
    assert_eq!(texts()[0], "d");
    items.set(vec![(2, "c"), (4, "f")]);
    tick().await;
    assert_eq!(texts(), ["c", "f"]);
}

/// A big catalog draws its first page of cards and a "show more" button, which draws the rest.
#[wasm_bindgen_test]
async fn the_catalog_draws_a_page_of_cards_then_more_on_demand() {
    use furniture_dashboard::components::catalog::CARD_PAGE;
    let host = host();
    let live = live();
    let _mounted = mount_catalog(&host, live);
    let total = CARD_PAGE + 1;
    live.catalog.update(|c| {
        for i in 0..total {
            c.apply(&note(Action::Created, &format!("i{i}"), &format!("Mesa {i:04}"), i as u64 + 1), 0.0);
        }
    });
    tick().await;
    let cards = || host.query_selector_all("[data-testid=catalog-item]").unwrap().length() as usize;
    let more = || host.query_selector("[data-testid=catalog-more]").unwrap();
    assert_eq!(cards(), CARD_PAGE, "one page drawn");
    let button: web_sys::HtmlElement = more().expect("a show-more button").unchecked_into();
    assert!(button.text_content().unwrap().contains("1 sin mostrar"), "{:?}", button.text_content());
    button.click();
    tick().await;
    assert_eq!(cards(), total, "the rest drawn");
    assert!(more().is_none(), "nothing left to show");
}

/// Deleted cards still shown take places of the page: with a page's worth of items besides
/// them, the items they push past the page are still offered by "show more".
#[wasm_bindgen_test]
async fn deleted_cards_on_the_page_leave_the_rest_behind_show_more() {
    use furniture_dashboard::components::catalog::CARD_PAGE;
    let host = host();
    let live = live();
    let _mounted = mount_catalog(&host, live);
    let now = js_sys::Date::now();
    live.catalog.update(|c| {
        for i in 0..=CARD_PAGE {
            c.apply(&note(Action::Created, &format!("i{i}"), &format!("Mesa {i:04}"), i as u64 + 1), now);
        }
        c.apply(&note(Action::Deleted, "i0", "Mesa 0000", 1_000), now);
    });
    tick().await;
    let cards = || host.query_selector_all("[data-testid=catalog-item]").unwrap().length() as usize;
    assert_eq!(cards(), CARD_PAGE, "a page: the deleted card and the first items");
    let more = host.query_selector("[data-testid=catalog-more]").unwrap().expect("a show-more button for the one left out");
    assert!(more.text_content().unwrap().contains("1 sin mostrar"), "{:?}", more.text_content());
}

/// The clock changes a young card's age and nothing else in it: its badge is not drawn again at
/// every second, nor when the glow of what changed ends, 5 s after the change (with a fresh
/// catalog on screen, every card's badge was drawn again at each second, then at that moment).
#[wasm_bindgen_test]
async fn the_clock_changes_a_cards_age_and_nothing_else() {
    let host = host();
    let live = live();
    let _mounted = mount_catalog(&host, live);
    let changed = js_sys::Date::now() - 4_200.0;
    live.catalog.update(|c| {
        c.apply(&note(Action::Created, "a", "Armario", 1), changed);
    });
    tick().await;
    let watch = js_sys::Function::new_with_args(
        "host",
        "const seen = []; const o = new MutationObserver(r => seen.push(...r)); \
         o.observe(host, { childList: true, subtree: true, attributes: true, characterData: true }); \
         window.__changed = () => { seen.push(...o.takeRecords()); \
           return seen.map(r => (r.target.nodeType === 1 ? r.target : r.target.parentElement).className); };",
    );
    watch.call1(&wasm_bindgen::JsValue::NULL, &host).unwrap();
    let age = || host.query_selector(".card-when").unwrap().unwrap().text_content().unwrap_or_default();
    let first = age();
    assert_eq!(first, "ahora");
    for _ in 0..2 {
        gloo_timers::future::TimeoutFuture::new(1_000).await;
        live.now.set(js_sys::Date::now());
        tick().await;
    }
    assert_ne!(age(), first, "the age follows the clock");
    assert!(host.query_selector(".badge").unwrap().is_some(), "the badge still shown");
    let changed = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__changed".into()).unwrap();
    let changed: js_sys::Array = changed.unchecked_into::<js_sys::Function>().call0(&wasm_bindgen::JsValue::NULL).unwrap().unchecked_into();
    let changed: Vec<String> = changed.iter().map(|c| c.as_string().unwrap_or_default()).collect();
    assert!(!changed.is_empty() && changed.iter().all(|c| c == "card-when"), "{changed:?}");
}

/// Grouped by material, a big catalog's first page shows its first groups whole, not its first
/// cards by name put in groups; a heading counts all its items, drawn or not, and not a deleted
/// card still shown.
#[wasm_bindgen_test]
async fn grouped_cards_come_group_by_group_and_headings_count_items_not_cards() {
    use furniture_dashboard::components::catalog::CARD_PAGE;
    let host = host();
    let live = live();
    let _mounted = mount_catalog(&host, live);
    live.group_by_material.set(true);
    let now = js_sys::Date::now();
    let haya = |action, i: usize, seq| {
        let mut n = note(action, &format!("h{i}"), &format!("Zapatero {i:02}"), seq);
        n.furniture.0.insert("material".into(), "haya".into());
        n
    };
    live.catalog.update(|c| {
        // By name the oak tables come first: more of them than a page.
        for i in 0..CARD_PAGE + 10 {
            c.apply(&note(Action::Created, &format!("r{i}"), &format!("Mesa {i:04}"), i as u64 + 1), now);
        }
        for i in 0..10 {
            c.apply(&haya(Action::Created, i, 1_000 + i as u64), now);
        }
    });
    tick().await;
    let headings = || {
        let list = host.query_selector_all("[data-testid=material-group]").unwrap();
        (0..list.length())
            .map(|i| {
                let h: web_sys::Element = list.get(i).unwrap().unchecked_into();
                let count = h.query_selector(".count").unwrap().unwrap().text_content().unwrap_or_default();
                format!("{} {count}", h.get_attribute("data-material").unwrap_or_default())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(headings(), ["haya 10".to_owned(), format!("roble {}", CARD_PAGE + 10)]);
    assert_eq!(host.query_selector_all("[data-testid=catalog-item]").unwrap().length() as usize, CARD_PAGE);
    live.catalog.update(|c| { c.apply(&haya(Action::Deleted, 3, 2_000), now + 1.0); });
    until("the deleted card shown as deleted", || host.query_selector("[data-furniture-id=h3][data-deleted=true]").unwrap().is_some()).await;
    assert_eq!(headings()[0], "haya 9");
}

/// The status bar shows the connection state as `data-state` and the client count.
#[wasm_bindgen_test]
async fn the_status_bar_tells_the_connection_state() {
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <StatusBar/> });
    let status = || host.query_selector("[data-testid=connection-status]").unwrap().unwrap();
    tick().await;
    assert_eq!(status().get_attribute("data-state").as_deref(), Some("connecting"));
    live.conn.set(ConnState::Reconnecting { attempt: 2, next_try_ms: f64::MAX });
    tick().await;
    assert_eq!(status().get_attribute("data-state").as_deref(), Some("reconnecting"));
    assert!(status().text_content().unwrap().contains("intento 2"));
    live.conn.set(ConnState::Live);
    live.clients.set(Some(3));
    tick().await;
    assert_eq!(status().get_attribute("data-state").as_deref(), Some("live"));
    assert_eq!(host.query_selector("[data-testid=client-count]").unwrap().unwrap().text_content().as_deref(), Some("3 pantallas"));
}

/// The wasm memory now, in bytes (it only ever grows: a high-water mark).
fn wasm_memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory.buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length() as f64
}

/// A page that runs for weeks must level off: once feed, catalog and toasts are full, more
/// changes do not grow the wasm memory. Measured after a warm-up of 4,000 changes (every list at
/// its cap, the allocator at its working size), over 16,000 more. Before the lists gave back
/// their rows (`components::rows`) it grew 8.6 MB here; `tests/retention.rs` counts what is kept
/// allocation by allocation.
#[wasm_bindgen_test]
async fn memory_levels_off_under_a_long_stream_of_changes() {
    let host = host();
    let live = live();
    let _mounted = mount(&host, live, move || view! { <FeedPanel/> <CatalogPanel/> <ToastStack/> });
    live.on_event(furniture_dashboard::ws::WsEvent::State(ConnState::Live));
    play(live, 1, 4_000).await;
    let warm = wasm_memory_bytes();
    play(live, 4_001, 16_000).await;
    let grown = wasm_memory_bytes() - warm;
    let items = host.query_selector_all("[data-testid=feed-item]").unwrap().length();
    assert!(items > 0 && items <= 500, "the feed is drawn and capped: {items} items");
    leptos::logging::log!("wasm memory {:.1} MB after warm-up, +{:.2} MB over 16,000 more changes", warm / 1e6, grown / 1e6);
    assert!(grown < 2e6, "wasm memory grew {:.1} MB over 16,000 changes after the warm-up", grown / 1e6);
}

/// Clock times are the browser's local time of day, whichever quarter of an hour was asked about
/// before (the zone's offset is kept per quarter hour): back and forth over a year, DST included
/// where the browser's zone has it.
#[wasm_bindgen_test]
fn clock_times_are_the_browsers_local_time_of_day() {
    use furniture_dashboard::browser::local_clock;
    let start = 1_767_225_600_000.0; // 2026-01-01T00:00:00Z
    let mut instants = Vec::new();
    for i in 0..400u32 {
        // 22 h 7 min 13.5 s apart: every time of day, and a year in all.
        instants.push(start + f64::from(i) * 79_633_500.0);
        // Then back into the quarter hour before, and the same quarter again.
        instants.push(start + f64::from(i) * 79_633_500.0 - 900_000.0);
        instants.push(start + f64::from(i) * 79_633_500.0 + 1_000.0);
    }
    for ms in instants {
        let date = js_sys::Date::new(&ms.into());
        let expected = format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds());
        assert_eq!(local_clock(ms), expected, "at {ms}");
    }
}
