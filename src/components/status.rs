//! The top bar: what this is, the connection, how many screens, where the catalog comes from.

use leptos::prelude::*;

use crate::app::{CatalogSource, Live, WakeLock};
use crate::browser::local_clock;
use crate::state::health::{duration, DEFAULT_STALE_MS};

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
        let (invalid, unknown) = live.diagnostics.with(|d| (d.invalid, d.unknown));
        (invalid + unknown > 0).then(|| format!("{invalid} mensajes ilegibles · {unknown} desconocidos"))
    };
    let stale = move || {
        let now = live.now.get();
        live.health.with(|h| {
            h.is_stale(now, DEFAULT_STALE_MS).then(|| {
                let since = h.last_message_ms.unwrap_or(now);
                format!("Sin datos desde hace {}", duration(now - since))
            })
        })
    };
    let clock = move || live.kiosk.then(|| local_clock(live.now.get())[..5].to_owned());
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
                {move || stale().map(|s| view! { <span class="pill stale" data-testid="stale-badge" role="alert">{s}</span> })}
                {move || clock().map(|c| view! { <span class="clock" data-testid="clock">{c}</span> })}
            </div>
            <p class="source" data-testid="catalog-source">
                {source}
                {move || diagnostics().map(|d| view! { <span class="diag">" · " {d}</span> })}
            </p>
            <HealthStrip/>
        </header>
    }
}

/// Round-trip time, time since the last message, uptime, reconnects today, wake lock.
#[component]
fn HealthStrip() -> impl IntoView {
    let live = expect_context::<Live>();
    let parts = move || {
        let now = live.now.get();
        live.health.with(|h| {
            let mut parts = Vec::new();
            parts.push(match h.rtt_ms {
                Some(rtt) => format!("latencia {rtt:.0} ms"),
                None => "latencia —".to_owned(),
            });
            if let Some(t) = h.last_message_ms {
                parts.push(format!("último mensaje hace {}", duration(now - t)));
            }
            parts.push(match h.live_since_ms {
                Some(t) => format!("conectado hace {}", duration(now - t)),
                None => "desconectado".to_owned(),
            });
            parts.push(match h.reconnects_today {
                1 => "1 reconexión hoy".to_owned(),
                n => format!("{n} reconexiones hoy"),
            });
            parts
        })
    };
    let wake = move || {
        live.kiosk.then(|| match live.wake_lock.get() {
            WakeLock::Held => "pantalla siempre encendida".to_owned(),
            WakeLock::Idle => "pidiendo pantalla encendida…".to_owned(),
            WakeLock::Unsupported => "este navegador no mantiene la pantalla encendida".to_owned(),
            WakeLock::Refused(why) => format!("pantalla encendida rechazada: {why}"),
        })
    };
    view! {
        <p class="health" data-testid="health">
            {move || parts().join(" · ")}
            {move || wake().map(|w| view! { <span data-testid="wake-lock">" · " {w}</span> })}
        </p>
    }
}
