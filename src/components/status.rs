//! The top bar: what this is, the connection, how many screens, where the catalog comes from.

use leptos::prelude::*;

use crate::app::{CatalogSource, Live};
use crate::browser::local_clock;

/// The status bar across the top.
#[component]
pub fn StatusBar() -> impl IntoView {
    let live = expect_context::<Live>();
    let state = move || live.conn.get().as_str();
    let label = move || live.conn.get().label(live.now.get());
    let clients = move || match live.clients.get() {
        Some(1) => "1 pantalla".to_owned(),
        Some(n) => format!("{n} pantallas"),
        None => "— pantallas".to_owned(),
    };
    let items = move || {
        let n = live.catalog.with(|c| c.len());
        if n == 1 { "1 mueble".to_owned() } else { format!("{n} muebles") }
    };
    let source = move || match live.source.get() {
        CatalogSource::Synced { seq } => format!("Sincronizado con el servidor · #{seq}"),
        CatalogSource::LiveSince(ms) => {
            format!("Catálogo construido con eventos en vivo desde las {}", local_clock(ms))
        }
    };
    let diagnostics = move || {
        let d = live.diagnostics.get();
        (d.invalid + d.unknown > 0).then(|| format!("{} mensajes ilegibles · {} desconocidos", d.invalid, d.unknown))
    };
    view! {
        <header class="status-bar">
            <div class="brand">
                <span class="brand-mark" aria-hidden="true">"◧"</span>
                <h1>"Catálogo de muebles"</h1>
                <span class="brand-sub">"en vivo"</span>
            </div>
            <div class="status-items">
                <span class="conn" data-testid="connection-status" data-state=state title=move || live.url.get_value()>
                    <span class="conn-dot" aria-hidden="true"></span>
                    <span class="conn-label">{label}</span>
                </span>
                <span class="pill" data-testid="client-count">{clients}</span>
                <span class="pill" data-testid="item-count">{items}</span>
            </div>
            <p class="source" data-testid="catalog-source">
                {source}
                {move || diagnostics().map(|d| view! { <span class="diag">" · " {d}</span> })}
            </p>
        </header>
    }
}
