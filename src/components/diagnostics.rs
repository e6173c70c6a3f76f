//! The diagnostics overlay (`?debug`, or the D key): raw frames, decode errors, close codes,
//! reconnect history and memory, exportable as JSON.

use leptos::prelude::*;
use serde_json::json;

use crate::app::Live;
use crate::browser::{local_clock, memory_in_use, wall_ms};
use crate::state::format::tenths;
use crate::state::diagnostics::Direction;

fn mib(bytes: f64) -> String {
    format!("{} MiB", tenths(bytes / 1_048_576.0))
}

/// The overlay.
#[component]
pub fn DiagnosticsOverlay() -> impl IntoView {
    let live = expect_context::<Live>();
    let lang = live.lang;
    let memory = move || {
        live.now.track();
        memory_in_use()
    };
    let export = move || {
        let (wasm, js) = memory_in_use();
        let extra = json!({"broker": live.url.get_value(), "wasm_memory_bytes": wasm, "js_heap_bytes": js, "exported_ms": crate::browser::now_ms()});
        let text = serde_json::to_string(&live.diagnostics.with(|d| d.to_json(extra))).unwrap_or_default();
        format!("data:application/json;charset=utf-8,{}", String::from(js_sys::encode_uri_component(&text)))
    };
    let frames = move || {
        live.diagnostics.with(|d| {
            d.frames
                .iter()
                .rev()
                .map(|f| format!("{} {} {}", local_clock(wall_ms(f.at_ms)), if f.direction == Direction::In { "←" } else { "→" }, f.text))
                .collect::<Vec<_>>()
        })
    };
    let events = move || {
        live.diagnostics.with(|d| {
            let mut lines: Vec<(f64, String)> = Vec::new();
            lines.extend(d.errors.iter().map(|(t, e)| (*t, format!("error: {e}"))));
            lines.extend(d.closes.iter().map(|(t, c, r)| {
                (*t, format!("closed: {} {r}", c.map_or_else(|| "—".to_owned(), |c| c.to_string())))
            }));
            lines.extend(d.reconnects.iter().map(|(t, a, w)| (*t, format!("reconnect: attempt {a} in {} s", tenths(w / 1000.0)))));
            crate::state::sort::sort_by(&mut lines, |a, b| b.0.total_cmp(&a.0));
            lines.into_iter().map(|(t, l)| format!("{} {l}", local_clock(wall_ms(t)))).collect::<Vec<_>>()
        })
    };
    view! {
        <aside class="diagnostics" data-testid="diagnostics" aria-label=lang.t("Diagnóstico", "Diagnostics")>
            <header>
                <h2>{lang.t("Diagnóstico", "Diagnostics")}</h2>
                <a class="link" download="furniture-diagnostics.json" href=export data-testid="diagnostics-export">{lang.t("Exportar JSON", "Export JSON")}</a>
                <button class="link" on:click=move |_| live.debug.set(false)>{lang.t("Cerrar (D)", "Close (D)")}</button>
            </header>
            <p>
                {move || live.url.get_value()} " · "
                {move || live.diagnostics.with(|d| format!("{} {} · {} {}", d.invalid, lang.t("ilegibles", "unreadable"), d.unknown, lang.t("desconocidos", "unknown")))} " · "
                {move || { let (wasm, js) = memory(); format!("{} wasm {} · JS {}", lang.t("memoria", "memory"), mib(wasm), js.map_or_else(|| "—".to_owned(), mib)) }}
            </p>
            <h3>{lang.t("Sucesos", "Events")}</h3>
            <pre data-testid="diagnostics-events">{move || events().join("\n")}</pre>
            <h3>{lang.t("Últimas tramas (200)", "Last frames (200)")}</h3>
            <pre data-testid="diagnostics-frames">{move || frames().join("\n")}</pre>
        </aside>
    }
}
