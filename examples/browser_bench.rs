//! The dashboard's performance in headless Chromium (release build, driven through ChromeDriver),
//! against this project's broker in this process. An instrument installed in the page before its
//! own scripts (`INSTRUMENT`) records when each new or renamed catalog card is painted, long
//! main-thread tasks (`PerformanceObserver`, type `longtask`), DOM mutations, and the wasm
//! memory; the harness reads them back. Every scenario is bounded in count and time.
//!
//!   cargo run --release --example browser_bench -- [latency|burst|catalog|start|memory ...]
//!
//! `scripts/bench-browser` builds the dashboard first and runs them all; results are printed and
//! written to target/bench/browser-<scenario>.json.

// The harness runs natively; the wasm build of this package (its component tests) skips it.
#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    bench::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod bench {
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use furniture_dashboard::state::catalog_view::CARD_PAGE;
use furniture_notify::{Action, Furniture, Notifier, ProducerMessage, Publisher};
use serde_json::{json, Value};
use super::support::{Browser, Dashboard, TestBroker};

/// Runs in the page before its scripts: the instrument the harness reads as `window.__perf`.
const INSTRUMENT: &str = r#"(() => {
  const perf = window.__perf = { paints: {}, longtasks: [], marks: {}, wasm: null, mutations: 0, touched: null };
  const now = () => performance.timeOrigin + performance.now();
  perf.now = now;
  try {
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) perf.longtasks.push([Math.round(e.startTime), Math.round(e.duration)]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) { perf.longtasks = null; }
  addEventListener('TrunkApplicationStarted', e => { perf.wasm = e.detail && e.detail.wasm; });
  // When the broker's sync reply (the catalog) starts to arrive (its first `sync_part`, or the `sync`
  // reply itself), before the page handles it.
  const Socket = window.WebSocket;
  window.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', e => {
        if (!('sync' in perf.marks) && typeof e.data === 'string' && e.data.slice(0, 40).includes('"sync')) perf.marks.sync = now();
        // When each change reached the page (the latency scenario asks for it).
        if (perf.received && typeof e.data === 'string') {
          const t = now();
          try {
            const m = JSON.parse(e.data);
            for (const f of m.type === 'batch' ? m.frames : [m]) if (f.furniture) {
              const key = f.furniture.furniture_id + '|' + f.furniture.nombre;
              perf.received[key] = t;
              // The broker's timestamp (to the millisecond): when it took the change in.
              if (perf.stamped) perf.stamped[key] = Date.parse(f.timestamp);
            }
          } catch (_) {}
        }
      });
    }
  };
  const CARD = '[data-testid=catalog-item]';
  let pending = [];
  // Whether the page is inside a frame: its animation-frame callbacks (and their microtasks)
  // run in the task that then computes style and layout and paints.
  let inFrame = false;
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = cb => raf(t => { inFrame = true; setTimeout(() => { inFrame = false; }, 0); cb(t); });
  // After the frame that shows a change: the next task after that frame, which is the current
  // one for a change made inside a frame, else the next.
  let pendingFeed = [];
  const FEED = '[data-testid=feed-item]';
  const painted = () => {
    const t = now();
    for (const id of pending) if (!(id in perf.paints)) perf.paints[id] = t;
    for (const k of pendingFeed) if (!(k in perf.feed)) perf.feed[k] = t;
    pending = []; pendingFeed = [];
  };
  const cardOf = n => (n.nodeType === 1 ? n : n.parentElement)?.closest?.(CARD);
  const observer = new MutationObserver(records => {
    let added = false;
    for (const r of records) {
      if (perf.touched) {
        perf.mutations++;
        // A card's age ("hace 12 s") follows the clock, every second in its first minute: counted
        // apart, as the clock's, not the update's.
        const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
        if (el?.closest?.('.card-when')) { perf.clockTouched.add(cardOf(r.target)?.dataset.furnitureId); continue; }
        // A card counts as touched when something inside it changed, or it was added or removed.
        const cards = [cardOf(r.target), ...[...r.addedNodes, ...r.removedNodes].map(n => n.nodeType === 1 && n.matches(CARD) ? n : null)].filter(Boolean);
        for (const c of cards) perf.touched.add(c.dataset.furnitureId);
        if (!cards.length) perf.touched.add('(outside the catalog cards)');
      }
      // A card's name changed in place.
      if (r.type !== 'attributes') {
        const name = (r.target.nodeType === 1 ? r.target : r.target.parentElement)?.closest?.('.card-name');
        const c = name && name.closest(CARD);
        if (c) { pending.push(c.dataset.furnitureId + '|' + name.textContent); added = true; }
      }
      for (const n of r.addedNodes) {
        if (n.nodeType !== 1) continue;
        const cards = n.matches(CARD) ? [n] : n.querySelectorAll(CARD);
        for (const c of cards) { pending.push(c.dataset.furnitureId + '|' + (c.querySelector('.card-name')?.textContent ?? '')); added = true; }
        // In the latency scenario, feed rows too: keyed by item and message.
        if (perf.feed && n.matches(FEED)) { pendingFeed.push(n.dataset.furnitureId + '|' + (n.querySelector('.feed-message')?.textContent ?? '')); added = true; }
      }
    }
    if (added) { if (inFrame) setTimeout(painted, 0); else raf(() => setTimeout(painted, 0)); }
  });
  const start = () => observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  if (!window.__perfNoObserver) { if (document.body) start(); else document.addEventListener('DOMContentLoaded', start); }
  // Records when `cond` first holds, checked every frame.
  perf.when = (name, cond) => { const check = () => { if (cond()) perf.marks[name] = now(); else requestAnimationFrame(check); }; check(); };
  perf.cards = () => document.querySelectorAll(CARD).length;
  // Set by the harness before this script: the catalog size to wait for from the first frame.
  if (window.__perfExpect != null) {
    perf.when('live', () => document.querySelector('[data-testid=connection-status]')?.dataset.state === 'live');
    perf.when('shown', () => perf.cards() === window.__perfExpect);
    perf.when('first', () => perf.cards() > 0);
  }
  perf.memory = () => ({
    wasm: perf.wasm && perf.wasm.memory ? perf.wasm.memory.buffer.byteLength : null,
    js: performance.memory ? performance.memory.usedJSHeapSize : null,
    nodes: document.getElementsByTagName('*').length,
  });
})();"#;


/// The instrument, told to mark when the cards of `items` items are on screen (the first
/// [`CARD_PAGE`] of them).
fn expecting(items: usize) -> String {
    format!("window.__perfExpect = {};\n{INSTRUMENT}", items.min(CARD_PAGE))
}

fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

fn item(id: &str, nombre: &str) -> Furniture {
    Furniture::new(id, nombre, "Banco de pruebas", 75, 120, "roble", "carga")
}

fn percentiles(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
    let r = |x: f64| (x * 10.0).round() / 10.0;
    json!({"samples": v.len(), "p50_ms": r(at(0.5)), "p90_ms": r(at(0.9)), "p99_ms": r(at(0.99)), "max_ms": r(*v.last().unwrap())})
}

/// Long tasks recorded since `since_ms` (page time): count, longest, and each one as
/// `[start, duration]` in ms, its start counted from `since_ms`.
async fn long_tasks(page: &Dashboard, since_ms: f64) -> Value {
    let tasks = page.eval("return window.__perf.longtasks").await;
    let Some(tasks) = tasks.as_array() else { return json!("not supported") };
    let tasks: Vec<(f64, f64)> = tasks
        .iter()
        .filter_map(|t| Some((t[0].as_f64()?, t[1].as_f64()?)))
        .filter(|(start, _)| *start >= since_ms)
        .map(|(start, duration)| ((start - since_ms).round(), duration))
        .collect();
    json!({"count": tasks.len(), "longest_ms": tasks.iter().map(|t| t.1).fold(0.0, f64::max), "tasks": tasks})
}

async fn page_time(page: &Dashboard) -> f64 {
    page.eval("return performance.now()").await.as_f64().unwrap_or(0.0)
}

/// A publisher on a connection of its own, refused nothing (rate limit off in these brokers).
async fn publisher(broker: &TestBroker) -> Publisher {
    Notifier::new(broker.ws_url()).connect().await.expect("a publisher connection")
}

async fn fill(broker: &TestBroker, n: usize) {
    let mut p = publisher(broker).await;
    for i in 0..n {
        p.send(&ProducerMessage { action: Action::Created, furniture: item(&format!("item-{i}"), &format!("Mesa {i}")) }).await.unwrap();
    }
    p.close().await;
}

async fn open(browser: &Browser, broker: &TestBroker) -> Dashboard {
    let url = format!("{}{}", broker.page_url(), std::env::var("BENCH_PAGE_QUERY").unwrap_or_default());
    let page = Dashboard::open_settled(browser, &url, Some(INSTRUMENT)).await;
    if std::env::var("BENCH_REDUCED_MOTION").as_deref() == Ok("1") {
        page.cdp("Emulation.setEmulatedMedia", json!({"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})).await;
    }
    page.wait_state("live").await;
    // A slower machine than this one (a wall screen's small computer): Chromium runs the page's
    // main thread that many times slower from here on (its rasteriser and compositor as ever).
    let slowdown = env_or("BENCH_CPU_SLOWDOWN", 1);
    if slowdown > 1 {
        page.cdp("Emulation.setCPUThrottlingRate", json!({"rate": slowdown})).await;
    }
    page
}

/// With BENCH_PROFILE=1: Chromium's sampling CPU profiler runs during a scenario, and the
/// functions with the most self time are reported (wasm functions by name when the build keeps
/// its name section, else as `wasm-function[n]`).
async fn profile_start(page: &Dashboard) -> bool {
    if std::env::var("BENCH_PROFILE").as_deref() != Ok("1") {
        return false;
    }
    page.cdp("Performance.enable", json!({})).await;
    page.cdp("Profiler.enable", json!({})).await;
    page.cdp("Profiler.setSamplingInterval", json!({"interval": 500})).await;
    page.cdp("Profiler.start", json!({})).await;
    true
}

/// Chromium's page metrics (`Performance.getMetrics`, after `Performance.enable`): task, script,
/// style and layout time in seconds and counts of layouts and style recalculations, all
/// cumulative, and DOM nodes.
async fn page_metrics(page: &Dashboard) -> std::collections::HashMap<String, f64> {
    let m = page.cdp("Performance.getMetrics", json!({})).await;
    m["metrics"].as_array().into_iter().flatten().filter_map(|x| Some((x["name"].as_str()?.to_owned(), x["value"].as_f64()?))).collect()
}

/// How much of metric `name` accrued per second between readings `a` and `b`, `secs` apart.
fn per_second(a: &std::collections::HashMap<String, f64>, b: &std::collections::HashMap<String, f64>, name: &str, secs: f64) -> f64 {
    let get = |m: &std::collections::HashMap<String, f64>| m.get(name).copied().unwrap_or(0.0);
    ((get(b) - get(a)) / secs * 1000.0).round() / 1000.0
}

async fn profile_stop(page: &Dashboard, on: bool) -> Value {
    if !on {
        return Value::Null;
    }
    let metrics = page_metrics(page).await;
    let wanted = ["TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration", "RecalcStyleCount", "LayoutCount", "Nodes"];
    let browser_metrics: serde_json::Map<String, Value> =
        wanted.iter().map(|k| (k.to_string(), json!(metrics.get(*k)))).collect();
    let p = page.cdp("Profiler.stop", json!({})).await;
    let profile = &p["profile"];
    // The whole profile, for a closer look (call trees, inclusive times), when asked.
    if let Ok(path) = std::env::var("BENCH_PROFILE_OUT") {
        if let Err(e) = std::fs::write(&path, profile.to_string()) {
            eprintln!("cannot write the profile to {path}: {e}");
        }
    }
    let mut hits: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
    for s in profile["samples"].as_array().into_iter().flatten() {
        *hits.entry(s.as_i64().unwrap_or(0)).or_default() += 1;
    }
    let total: u64 = hits.values().sum();
    let mut by_name: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for node in profile["nodes"].as_array().into_iter().flatten() {
        let id = node["id"].as_i64().unwrap_or(0);
        let f = &node["callFrame"];
        let name = match f["functionName"].as_str() {
            Some("") | None => format!("(anonymous) {}", f["url"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("")),
            Some(n) => n.to_owned(),
        };
        *by_name.entry(name).or_default() += hits.get(&id).copied().unwrap_or(0);
    }
    let mut top: Vec<_> = by_name.into_iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    json!({
        "page_totals_since_load_s": browser_metrics,
        "self_time": top.into_iter().take(25).map(|(n, c)| format!("{:5.1}% {n}", c as f64 * 100.0 / total.max(1) as f64)).collect::<Vec<_>>(),
    })
}

/// Producer send → card painted, per event, at `rate` events per second: the first `items` events
/// create items, the rest update them in turn (each with a new name, which the card shows).
async fn latency(browser: &Browser, events: usize, rate: f64, items: usize) -> Value {
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    let page = open(browser, &broker).await;
    page.eval("window.__perf.received = {}; window.__perf.stamped = {}; window.__perf.feed = {}; return true").await;
    // A busy moment of the page (a garbage collection, another tab, the machine), 5 s in: the
    // changes then pile up, and those after it must be drawn as promptly as before.
    let hiccup_ms = env_or("BENCH_LATENCY_HICCUP_MS", 0);
    if hiccup_ms > 0 {
        let block = format!("setTimeout(() => {{ const t = performance.now(); while (performance.now() - t < {hiccup_ms}) {{}} }}, 5000); return true");
        page.eval(&block).await;
    }
    // A producer (or its network) that stalls for a moment every 5 s: what it held then arrives
    // together, and the changes after it must be drawn as promptly as before.
    let stall_s = env_or("BENCH_LATENCY_STALL_MS", 0) as f64 / 1000.0;
    let profiling = profile_start(&page).await;
    let mut p = publisher(&broker).await;
    let mut sent = Vec::with_capacity(events);
    let start = Instant::now();
    for i in 0..events {
        let at = i as f64 / rate;
        let stalled = if at >= 5.0 && at % 5.0 < stall_s { at - at % 5.0 + stall_s } else { at };
        let due = start + Duration::from_secs_f64(stalled);
        tokio::time::sleep_until(due.into()).await;
        let id = format!("lat-{}", i % items);
        let name = format!("Silla {i}");
        sent.push((format!("{id}|{name}"), unix_ms()));
        let action = if i < items { Action::Created } else { Action::Updated };
        p.send(&ProducerMessage { action, furniture: item(&id, &name) }).await.unwrap();
    }
    let last = sent.last().unwrap().0.clone();
    page.wait_until("the last change painted", &format!("return '{last}' in window.__perf.paints")).await;
    let paints = page.eval("return window.__perf.paints").await;
    // Feed rows, by item and the name in their message ("... Silla 123 - ..."): the first row of
    // each change, as drawn.
    let feed_rows = page.eval("return window.__perf.feed").await;
    let mut feed_paints = std::collections::HashMap::new();
    for (key, t) in feed_rows.as_object().into_iter().flatten() {
        let (Some((id, message)), Some(t)) = (key.split_once('|'), t.as_f64()) else { continue };
        let Some(at) = message.find("Silla ") else { continue };
        let digits: String = message[at + 6..].chars().take_while(char::is_ascii_digit).collect();
        feed_paints.entry(format!("{id}|Silla {digits}")).or_insert(t);
    }
    let feed_lat: Vec<f64> = sent.iter().filter_map(|(id, t)| feed_paints.get(id).map(|p| p - t)).collect();
    let received = page.eval("return window.__perf.received").await;
    let lat: Vec<f64> = sent.iter().filter_map(|(id, t)| paints[id].as_f64().map(|p| p - t)).collect();
    let painted = lat.len();
    // Where the time goes: the broker and the network, then the page.
    let to_page: Vec<f64> = sent.iter().filter_map(|(id, t)| received[id].as_f64().map(|r| r - t)).collect();
    let in_page: Vec<f64> = sent.iter().filter_map(|(id, _)| Some(paints[id].as_f64()? - received[id].as_f64()?)).collect();
    // The broker's timestamp, to the millisecond: when it took the change in.
    let stamped = page.eval("return window.__perf.stamped").await;
    let to_broker: Vec<f64> = sent.iter().filter_map(|(id, t)| stamped[id].as_f64().map(|b| b - t)).collect();
    // Every event's times, to see when the slow ones came (BENCH_LATENCY_EVENTS=FILE): unix ms
    // of the send, the page's receipt and the paint, the broker's timestamp (to the millisecond),
    // and the page's `performance.timeOrigin`, which places them on a timeline recorded with
    // `--trace-startup`.
    if let Ok(file) = std::env::var("BENCH_LATENCY_EVENTS") {
        let rows: Vec<Value> = sent.iter().map(|(id, t)| json!([t, received[id].as_f64(), paints[id].as_f64(), stamped[id].as_f64()])).collect();
        let origin = page.eval("return performance.timeOrigin").await;
        let events = json!({"time_origin_ms": origin, "sent_received_painted_stamped_ms": rows});
        if let Err(e) = std::fs::write(&file, events.to_string()) {
            eprintln!("could not write {file}: {e}");
        }
    }
    let result = json!({
        "scenario": "latency", "events": events, "rate_per_second": rate, "items": items, "hiccup_ms": hiccup_ms, "stall_ms": stall_s * 1000.0, "painted": painted,
        "send_to_paint": percentiles(lat), "feed_send_to_paint": percentiles(feed_lat), "send_to_broker_stamp": percentiles(to_broker), "send_to_page": percentiles(to_page), "page_to_paint": percentiles(in_page), "long_tasks": long_tasks(&page, 0.0).await,
        "profile": profile_stop(&page, profiling).await,
    });
    p.close().await;
    page.close().await;
    result
}

/// `events` updates over `items` items arrive at once: time until the screen is consistent.
async fn burst(browser: &Browser, items: usize, events: usize) -> Value {
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    fill(&broker, items).await;
    let page = open(browser, &broker).await;
    page.wait_until("the catalog", &format!("return window.__perf.cards() === {}", items.min(CARD_PAGE))).await;
    let last = events - 1;
    page.eval(&format!(
        "const card = () => {{ const cs = document.querySelectorAll('[data-testid=catalog-item]'); \
           return cs.length === {shown} && [...cs].every(c => {{ const k = +c.dataset.furnitureId.slice(5); \
             return c.textContent.includes('Version ' + (k + Math.floor(({last} - k) / {items}) * {items})); }}); }}; \
         const feed = () => {{ const f = document.querySelector('[data-testid=feed-item]'); return f && f.textContent.includes('Version {last}'); }}; \
         window.__perf.when('cards', card); window.__perf.when('feed', feed); window.__perf.when('consistent', () => card() && feed()); return true",
        shown = items.min(CARD_PAGE)
    ))
    .await;
    let since = page_time(&page).await;
    let profiling = profile_start(&page).await;
    let mut p = publisher(&broker).await;
    let started = unix_ms();
    for i in 0..events {
        let id = format!("item-{}", i % items);
        p.send(&ProducerMessage { action: Action::Updated, furniture: item(&id, &format!("Version {i}")) }).await.unwrap();
    }
    let sent_ms = unix_ms() - started;
    let applied = tokio::time::timeout(Duration::from_secs(60), async {
        while !page.eval_bool("return 'consistent' in window.__perf.marks").await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    if applied.is_err() {
        eprintln!("the burst was not applied within 60 s");
    }
    let mark = async |name: &str| (page.eval(&format!("return window.__perf.marks.{name}")).await.as_f64().unwrap_or(0.0) - started).round();
    let (consistent, cards, feed) = (mark("consistent").await, mark("cards").await, mark("feed").await);
    let result = json!({
        "scenario": "burst", "items": items, "events": events,
        "sending_took_ms": sent_ms.round(), "first_send_to_consistent_screen_ms": consistent, "cards_done_ms": cards, "feed_done_ms": feed,
        "long_tasks": long_tasks(&page, since).await,
        "profile": profile_stop(&page, profiling).await,
    });
    p.close().await;
    page.close().await;
    result
}

/// A catalog of `items` items: first render when the page opens, then what one update touches.
async fn catalog(browser: &Browser, items: usize) -> Value {
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    fill(&broker, items).await;
    let page = Dashboard::open_settled(browser, &broker.page_url(), Some(&expecting(items))).await;
    page.wait_until("the catalog shown", "return 'shown' in window.__perf.marks").await;
    let shown = page.eval("return window.__perf.marks.shown - performance.timeOrigin").await.as_f64().unwrap_or(0.0);
    let sync_to_shown = page.eval("return window.__perf.marks.shown - window.__perf.marks.sync").await.as_f64();
    let sync_to_first = page.eval("return window.__perf.marks.first - window.__perf.marks.sync").await.as_f64();
    let load_tasks = long_tasks(&page, 0.0).await;
    // What holding the whole catalog costs the page (wasm memory, JS heap, DOM nodes).
    let memory_after_load = page.eval("return window.__perf.memory()").await;
    // With BENCH_PROFILE=1, a second load of the page, profiled from navigation to cards shown.
    let profiling = profile_start(&page).await;
    let profile = if profiling {
        page.eval("window.__reloading = true; setTimeout(() => location.reload(), 0); return true").await;
        page.wait_until("the catalog shown again", "return !window.__reloading && window.__perf && 'shown' in window.__perf.marks").await;
        profile_stop(&page, true).await
    } else {
        Value::Null
    };
    // One update of one item, with every DOM mutation counted for one second around it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    page.eval("window.__perf.mutations = 0; window.__perf.touched = new Set(); window.__perf.clockTouched = new Set(); return true").await;
    // An item among those drawn (names sort as text: "Mesa 1", "Mesa 10", ...).
    let target = "item-1".to_owned();
    broker.send(Action::Updated, item(&target, "Mesa 1 cambiada")).await;
    page.wait_card(&target, |c| c.name.contains("cambiada")).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let touched = page.eval("const t = [...window.__perf.touched]; window.__perf.touched = null; return t").await;
    let mutations = page.eval("return window.__perf.mutations").await;
    let ages_ticked = page.eval("return window.__perf.clockTouched.size").await;
    let cards_touched = touched.as_array().map_or(0, |t| t.iter().filter(|x| x.as_str() != Some("(outside the catalog cards)")).count());
    let result = json!({
        "scenario": "catalog", "items": items, "memory_after_load": memory_after_load,
        "cards_drawn": items.min(CARD_PAGE),
        "navigation_to_cards_shown_ms": shown.round(),
        // The render alone: from the catalog's arrival (the sync reply) to the cards drawn.
        "catalog_received_to_cards_shown_ms": sync_to_shown.map(f64::round),
        // The first screenful (a synced catalog's cards are drawn in steps).
        "catalog_received_to_first_cards_ms": sync_to_first.map(f64::round),
        "long_tasks_during_load": load_tasks,
        "one_update": {"mutation_records_in_1s": mutations, "cards_touched": cards_touched,
                       "outside_cards_touched": touched.as_array().is_some_and(|t| t.iter().any(|x| x.as_str() == Some("(outside the catalog cards)"))),
                       "cards_whose_age_ticked": ages_ticked},
        "profile_of_a_second_load": profile,
    });
    page.close().await;
    result
}

/// What the page costs at `rate` events per second over `items` items, with no instrument
/// watching the DOM: main-thread busy fraction, frames per second.
async fn steady(browser: &Browser, items: usize, rate: f64, secs: u64) -> Value {
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    fill(&broker, items).await;
    let page = Dashboard::open_settled(browser, &broker.page_url(), Some(&format!("window.__perfNoObserver = true;\n{INSTRUMENT}"))).await;
    page.wait_state("live").await;
    page.wait_until("the catalog", &format!("return window.__perf.cards() === {}", items.min(CARD_PAGE))).await;
    page.cdp("Performance.enable", json!({})).await;
    let mut p = publisher(&broker).await;
    let a = page_metrics(&page).await;
    let start = Instant::now();
    let events = (rate * secs as f64) as usize;
    for i in 0..events {
        tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / rate)).into()).await;
        let id = format!("item-{}", i % items);
        p.send(&ProducerMessage { action: Action::Updated, furniture: item(&id, &format!("Mesa {i}")) }).await.unwrap();
    }
    let b = page_metrics(&page).await;
    let wall = start.elapsed().as_secs_f64();
    let per_s = |name: &str| per_second(&a, &b, name, wall);
    let result = json!({"scenario": "steady", "items": items, "rate_per_second": rate, "seconds": secs,
        "main_thread_busy_fraction": per_s("TaskDuration"), "frames_per_s": per_s("LayoutCount"),
        "script_fraction": per_s("ScriptDuration"), "layout_fraction": per_s("LayoutDuration"), "style_fraction": per_s("RecalcStyleDuration")});
    p.close().await;
    page.close().await;
    result
}

/// What an idle page costs: main-thread task time, layouts and style recalculations per second
/// over `secs` seconds with `items` items on screen and nothing happening.
async fn idle(browser: &Browser, items: usize, secs: u64) -> Value {
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    fill(&broker, items).await;
    let page = open(browser, &broker).await;
    page.wait_until("the catalog", &format!("return window.__perf.cards() === {}", items.min(CARD_PAGE))).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    page.cdp("Performance.enable", json!({})).await;
    let a = page_metrics(&page).await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let b = page_metrics(&page).await;
    let per_s = |name: &str| per_second(&a, &b, name, secs as f64);
    let result = json!({"scenario": "idle", "items": items, "seconds": secs,
        "main_thread_busy_fraction": per_s("TaskDuration"), "layouts_per_s": per_s("LayoutCount"),
        "style_recalcs_per_s": per_s("RecalcStyleCount"), "script_fraction": per_s("ScriptDuration"),
        "health_strip": page.eval("return document.querySelector('.health, [data-testid=health]')?.textContent ?? null").await});
    page.close().await;
    result
}

/// Page load → connected and catalog shown, `runs` times with `items` items.
async fn start(browser: &Browser, items: usize, runs: usize) -> Value {
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    fill(&broker, items).await;
    // Each load in a new browser with a new profile (nothing cached): `settled`, opened once the
    // browser has started and the machine is idle, as someone opens the page in a running
    // browser; `cold`, opened as the browser starts, sharing the cores with Chromium's own
    // start-up.
    let mut figures = serde_json::Map::new();
    for settled in [true, false] {
        let mut live = Vec::new();
        let mut shown = Vec::new();
        // The first cards on screen (a synced catalog's cards are drawn in steps, a screenful first).
        let mut first = Vec::new();
        // The longest main-thread task of each load, up to the catalog shown (0: none over 50 ms).
        let mut longest = Vec::new();
        // Each load's times and long tasks, to see where they fall.
        let mut loads = Vec::new();
        for _ in 0..runs {
            let url = broker.page_url();
            let page = if settled {
                Dashboard::open_settled(browser, &url, Some(&expecting(items))).await
            } else {
                Dashboard::open_with(browser, &url, Some(&expecting(items))).await
            };
            page.wait_until("catalog shown", "return 'shown' in window.__perf.marks && 'live' in window.__perf.marks").await;
            let at = |m: &str| format!("return window.__perf.marks.{m} - performance.timeOrigin");
            live.push(page.eval(&at("live")).await.as_f64().unwrap_or(0.0));
            shown.push(page.eval(&at("shown")).await.as_f64().unwrap_or(0.0));
            first.push(page.eval(&at("first")).await.as_f64().unwrap_or(0.0));
            let tasks = long_tasks(&page, 0.0).await;
            longest.push(tasks["longest_ms"].as_f64().unwrap_or(0.0));
            loads.push(json!({"live_ms": live.last(), "first_cards_ms": first.last(), "shown_ms": shown.last(), "long_tasks": tasks["tasks"]}));
            page.close().await;
        }
        let prefix = if settled { "" } else { "cold_browser_" };
        let with_long_task = longest.iter().filter(|ms| **ms > 0.0).count();
        figures.insert(format!("{prefix}navigation_to_live"), percentiles(live));
        figures.insert(format!("{prefix}navigation_to_first_cards"), percentiles(first));
        figures.insert(format!("{prefix}navigation_to_catalog_shown"), percentiles(shown));
        figures.insert(format!("{prefix}longest_task"), percentiles(longest));
        figures.insert(format!("{prefix}loads_with_a_long_task"), json!(with_long_task));
        figures.insert(format!("{prefix}loads"), json!(loads));
    }
    let mut result = json!({"scenario": "start", "items": items, "runs": runs});
    result.as_object_mut().expect("an object").extend(figures);
    result
}

/// `events` changes at `rate` per second over a bounded set of items, sampling memory.
async fn memory(browser: &Browser, events: usize, rate: f64, items: usize) -> Value {
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    let page = open(browser, &broker).await;
    let mut p = publisher(&broker).await;
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut next_sample = start;
    for i in 0..events {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let id = format!("mem-{}", i % items);
        let action = match i % 10 {
            9 => Action::Deleted,
            0..=2 => Action::Created,
            _ => Action::Updated,
        };
        p.send(&ProducerMessage { action, furniture: item(&id, &format!("Mueble {i}")) }).await.unwrap();
        if Instant::now() >= next_sample {
            let m = page.eval("return window.__perf.memory()").await;
            samples.push(json!({"at_s": start.elapsed().as_secs(), "events": i, "wasm_bytes": m["wasm"], "js_heap_bytes": m["js"], "dom_nodes": m["nodes"]}));
            next_sample += Duration::from_secs(10);
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let m = page.eval("return window.__perf.memory()").await;
    samples.push(json!({"at_s": start.elapsed().as_secs(), "events": events, "wasm_bytes": m["wasm"], "js_heap_bytes": m["js"], "dom_nodes": m["nodes"]}));
    let result = json!({"scenario": "memory", "events": events, "rate_per_second": rate, "items": items, "samples": samples,
                        "long_tasks": long_tasks(&page, 0.0).await});
    p.close().await;
    page.close().await;
    result
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
pub async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = ["latency", "burst", "catalog", "start", "idle", "steady", "memory"];
    let chosen: Vec<&str> = if args.is_empty() { all.to_vec() } else { args.iter().map(String::as_str).collect() };
    if let Some(bad) = chosen.iter().find(|s| !all.contains(s)) {
        eprintln!("browser_bench: unknown scenario {bad:?} (one of {})", all.join(", "));
        return std::process::ExitCode::from(2);
    }
    let Some(browser) = Browser::start().await else { return std::process::ExitCode::FAILURE };
    let events = env_or("BENCH_MEMORY_EVENTS", 100_000);
    std::fs::create_dir_all("target/bench").ok();
    for s in chosen {
        eprintln!("==> browser: {s}");
        let mut result = match s {
            "latency" => latency(&browser, 3000, env_or("BENCH_LATENCY_RATE", 100) as f64, env_or("BENCH_LATENCY_ITEMS", 100)).await,
            "burst" => burst(&browser, 300, 10_000).await,
            "catalog" => catalog(&browser, 10_000).await,
            "start" => start(&browser, 100, env_or("BENCH_START_RUNS", 5)).await,
            "idle" => idle(&browser, 200, 10).await,
            "steady" => steady(&browser, env_or("BENCH_LATENCY_ITEMS", 100), 100.0, 15).await,
            _ => memory(&browser, events, env_or("BENCH_MEMORY_RATE", 1000) as f64, 500).await,
        };
        // The catalog and start scenarios measure the page's load, before any slowdown applies.
        let slowdown = env_or("BENCH_CPU_SLOWDOWN", 1);
        if slowdown > 1 && !matches!(s, "catalog" | "start") {
            result["cpu_slowdown"] = json!(slowdown);
        }
        let text = serde_json::to_string_pretty(&result).unwrap_or_default();
        println!("{text}");
        let _ = std::fs::write(format!("target/bench/browser-{s}.json"), text + "\n");
    }
    std::process::ExitCode::SUCCESS
}
}
