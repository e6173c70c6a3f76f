//! Small wrappers over browser APIs that the rest of the app uses.

/// Milliseconds since the epoch, from the browser's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Minutes east of UTC of the browser's zone, now.
pub fn tz_offset_minutes() -> i32 {
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}

/// `HH:MM:SS` in the browser's zone.
pub fn local_clock(ms: f64) -> String {
    crate::state::format::clock(ms, tz_offset_minutes())
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
