//! Small wrappers over browser APIs that the rest of the app uses.

thread_local! {
    static CLOCK: std::cell::Cell<crate::state::health::SteadyClock> = const { std::cell::Cell::new(crate::state::health::SteadyClock::new()) };
}

/// Milliseconds since the epoch, from the browser's clock, never going back (see
/// [`SteadyClock`](crate::state::health::SteadyClock)).
pub fn now_ms() -> f64 {
    CLOCK.with(|c| {
        let mut clock = c.get();
        let now = clock.at(js_sys::Date::now());
        c.set(clock);
        now
    })
}

/// A time of the page's clock ([`now_ms`]) as the browser's clock gives it now, for showing as a
/// time of day: the page's clock runs ahead of the browser's by what that was set back by while
/// the page ran (and when that put a wrong clock right, times from before it are right too).
pub fn wall_ms(page_ms: f64) -> f64 {
    page_ms - CLOCK.with(|c| c.get().shift())
}

/// Minutes east of UTC of the browser's zone, now.
pub fn tz_offset_minutes() -> i32 {
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}

/// `HH:MM:SS` in the browser's zone. Formatted here, not by `Intl` (a feed of 500 rows spent tens
/// of milliseconds in it on every load); the zone's offset is asked once per quarter of an hour of
/// time shown: zones change their offset only at whole quarters of an hour.
pub fn local_clock(ms: f64) -> String {
    thread_local! {
        /// The quarter of an hour (since the epoch) last asked about, and the zone's offset then.
        static OFFSET: std::cell::Cell<Option<(i64, i32)>> = const { std::cell::Cell::new(None) };
    }
    let quarter = (ms / 900_000.0).floor() as i64;
    let offset = OFFSET.with(|cached| match cached.get() {
        Some((q, offset)) if q == quarter => offset,
        _ => {
            let offset = -(js_sys::Date::new(&ms.into()).get_timezone_offset() as i32);
            cached.set(Some((quarter, offset)));
            offset
        }
    });
    crate::state::format::clock(ms, offset)
}

/// True unless the browser says it has no network.
pub fn online() -> bool {
    web_sys::window().map(|w| w.navigator().on_line()).unwrap_or(true)
}

/// A query parameter of the page's URL (`Some("")` when present without a value).
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get(name)
}

/// Writes `name=value` into the page's address, or takes `name` out of it for `None`, without
/// loading the page again: a reload (the settings panel's) or a bookmark keeps what it says.
pub fn set_query_param(name: &str, value: Option<&str>) {
    let Some(w) = web_sys::window() else { return };
    let l = w.location();
    let (Ok(search), Ok(path), Ok(hash)) = (l.search(), l.pathname(), l.hash()) else { return };
    let search = crate::state::url::with_param(&search, name, value);
    if let Ok(h) = w.history() {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("{path}{search}{hash}")));
    }
}

/// The broker to connect to: `?ws=`, same origin when the broker served the page, else
/// `ws://<host>:8765/`.
pub fn broker_url() -> String {
    let window = web_sys::window();
    let location = window.as_ref().map(|w| w.location());
    let part = |f: fn(&web_sys::Location) -> Result<String, wasm_bindgen::JsValue>| {
        location.as_ref().and_then(|l| f(l).ok()).unwrap_or_default()
    };
    let served_by_broker = window
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(r#"meta[name="furniture-broker"]"#).ok().flatten())
        .is_some();
    crate::state::url::broker_url(
        &part(web_sys::Location::protocol),
        &part(web_sys::Location::host),
        &part(web_sys::Location::hostname),
        query_param("ws").as_deref(),
        served_by_broker,
    )
}

/// The wall's catalog (`.catalog-view`, which scrolls smoothly on a wall).
fn catalog_view() -> Option<web_sys::Element> {
    web_sys::window()?.document()?.query_selector(".catalog-view").ok()?
}

/// The wall's catalog: goes to its next page when `advance`, and says which page of how many it
/// shows, and whether it was at the last (it then stays: see [`catalog_to_top`]). None where the
/// view is taller than the window: not laid out as a wall's, which fits its screen at any size.
pub fn catalog_page(advance: bool) -> Option<(usize, usize, bool)> {
    use wasm_bindgen::JsCast;
    let view = catalog_view()?;
    if f64::from(view.client_height()) > web_sys::window()?.inner_height().ok()?.as_f64()? {
        return None;
    }
    let rows = view.query_selector_all(".catalog > li").ok()?;
    let rows: Vec<(f64, f64, bool)> = (0..rows.length())
        .filter_map(|i| rows.get(i)?.dyn_into::<web_sys::HtmlElement>().ok())
        .map(|li| (li.offset_top() as f64, (li.offset_top() + li.offset_height()) as f64, li.class_name() == "group-title"))
        .collect();
    let tops = crate::state::catalog_view::page_tops(&rows, view.client_height() as f64, (view.scroll_height() - view.client_height()) as f64);
    let mut at = view.scroll_top() as f64;
    let mut wrapped = false;
    if advance {
        match tops.iter().copied().find(|t| *t > at + 0.5) {
            Some(next) => {
                at = next;
                view.set_scroll_top(at as i32);
            }
            None => wrapped = true,
        }
    }
    Some((tops.iter().filter(|t| **t <= at + 0.5).count().max(1), tops.len(), wrapped))
}

/// The wall's catalog back at its top at once, not gliding up over every page (nor still gliding
/// as the next hundred cards are drawn: it stopped part of the way).
pub fn catalog_to_top() {
    if let Some(view) = catalog_view() {
        let _ = view.set_attribute("style", "scroll-behavior:auto");
        view.set_scroll_top(0);
        let _ = view.remove_attribute("style");
    }
}

/// True unless the page is hidden (another tab, minimised, screen off).
pub fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .map(|d| d.visibility_state() != web_sys::VisibilityState::Hidden)
        .unwrap_or(true)
}

/// Calls `f` whenever `event` fires on `target`, for the life of the page.
pub fn listen(target: &web_sys::EventTarget, event: &str, f: impl FnMut() + 'static) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let cb = Closure::<dyn FnMut()>::new(f);
    if target.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref()).is_ok() {
        // The listener lives as long as the page: hand its closure to the JS side for good.
        cb.forget();
    }
}

/// Asks for a screen wake lock (the screen stays on). `Ok(false)` when the browser has none.
pub async fn request_wake_lock() -> Result<bool, String> {
    use wasm_bindgen::JsCast;
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else { return Ok(false) };
    let wake_lock = js_sys::Reflect::get(&navigator, &"wakeLock".into()).map_err(|_| "no navigator".to_owned())?;
    if wake_lock.is_undefined() {
        return Ok(false);
    }
    let request: js_sys::Function = js_sys::Reflect::get(&wake_lock, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("wakeLock.request is missing")?;
    let promise: js_sys::Promise = request
        .call1(&wake_lock, &"screen".into())
        .map_err(|e| error_text(&e, "refused"))?
        .dyn_into()
        .map_err(|_| "wakeLock.request gave no promise".to_owned())?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map(|_| true)
        .map_err(|e| error_text(&e, "refused"))
}

/// What a JavaScript error says: its text, or its `message`, or else `otherwise`. (The page is
/// built without `Debug` text, so `{:?}` of a `JsValue` would print nothing.)
pub fn error_text(e: &wasm_bindgen::JsValue, otherwise: &str) -> String {
    e.as_string()
        .or_else(|| js_sys::Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| otherwise.to_owned())
}

/// Calls `f` with the key of every keydown outside text fields and menus.
pub fn listen_key(target: &web_sys::EventTarget, f: impl Fn(&str) + 'static) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let cb = Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(move |ev: web_sys::KeyboardEvent| {
        let typing = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
        if !typing && !ev.ctrl_key() && !ev.meta_key() && !ev.alt_key() {
            f(&ev.key());
        }
    });
    if target.add_event_listener_with_callback("keydown", cb.as_ref().unchecked_ref()).is_ok() {
        cb.forget();
    }
}

/// Memory in use: the wasm heap and, where Chromium reports it, the JS heap, in bytes.
pub fn memory_in_use() -> (f64, Option<f64>) {
    use wasm_bindgen::JsCast;
    let wasm = wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .ok()
        .and_then(|m| m.buffer().dyn_into::<js_sys::ArrayBuffer>().ok())
        .map_or(0.0, |b| f64::from(b.byte_length()));
    let js = web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w, &"performance".into()).ok())
        .and_then(|p| js_sys::Reflect::get(&p, &"memory".into()).ok())
        .and_then(|m| js_sys::Reflect::get(&m, &"usedJSHeapSize".into()).ok())
        .and_then(|v| v.as_f64());
    (wasm, js)
}

/// The page's query as `(key, value)` pairs, decoded; a key without a value has `""`.
pub fn query_pairs() -> Vec<(String, String)> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let decode = |s: &str| {
        js_sys::decode_uri_component(&s.replace('+', " ")).map(String::from).unwrap_or_else(|_| s.to_owned())
    };
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The settings remembered at this desk (localStorage), if any.
pub fn stored_settings() -> Option<String> {
    web_sys::window()?.local_storage().ok()??.get_item(SETTINGS_KEY).ok()?
}

/// Remembers settings at this desk; an error says why they could not be kept.
pub fn store_settings(json: &str) -> Result<(), String> {
    let storage = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .ok_or("this browser keeps no local storage")?;
    storage.set_item(SETTINGS_KEY, json).map_err(|e| error_text(&e, "the browser refused"))
}

/// The localStorage key of the desk settings.
pub const SETTINGS_KEY: &str = "furniture-dashboard.settings";

