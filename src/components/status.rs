//! The top bar: what this is, the connection, how many screens, where the catalog comes from.

use leptos::prelude::*;

use crate::app::{CatalogSource, Live, WakeLock};
use crate::browser::{local_clock, now_ms, tz_offset_minutes, wall_ms};
use crate::state::format::count as number;
use crate::state::health::{duration, local_day, DEFAULT_STALE_MS};
use crate::state::i18n::Lang;

/// The status bar across the top.
#[component]
pub fn StatusBar() -> impl IntoView {
    let live = expect_context::<Live>();
    let state = move || live.conn.get().as_str();
    let lang = live.lang;
    // Redrawn with each tick of the clock, but counted from this moment: a new countdown, shown
    // between two ticks, starts at its own time, not up to a second more.
    let label = move || {
        live.now.track();
        live.conn.get().label(now_ms(), lang)
    };
    let clients = move || match live.clients.get() {
        Some(n) => lang.count_shown(n, &number(n, lang), ("pantalla", "pantallas"), ("screen", "screens")),
        None => lang.t("— pantallas", "— screens").to_owned(),
    };
    let items = move || {
        let n = live.catalog.with(|c| c.len()) as u64;
        lang.count_shown(n, &number(n, lang), ("mueble", "muebles"), ("item", "items"))
    };
    // With the broker's number of the last notification the catalog has (`aviso n.º 42`).
    let source = move || match live.source.get() {
        // Cut off, the page shows what the broker last said, and says so.
        CatalogSource::Synced { seq } if !live.conn.get().is_live() => {
            format!("{}{seq}", lang.t("Sin conexión: lo último del servidor · aviso n.º ", "Cut off: the broker's last state · notification #"))
        }
        CatalogSource::Synced { seq } => format!("{}{seq}", lang.t("Sincronizado con el servidor · aviso n.º ", "In sync with the broker · notification #")),
        CatalogSource::Waiting(_) => lang.t("Esperando el catálogo del servidor…", "Waiting for the broker's catalog…").to_owned(),
        CatalogSource::LiveSince(ms) => format!(
            "{} {}",
            lang.t("Catálogo construido con eventos en vivo desde las", "Catalog built from live events only, since"),
            local_clock(wall_ms(ms))
        ),
    };
    let diagnostics = move || {
        let (invalid, unknown) = live.diagnostics.with(|d| (d.invalid, d.unknown));
        (invalid + unknown > 0).then(|| match lang {
            Lang::Es => format!("{invalid} mensajes ilegibles · {unknown} desconocidos"),
            Lang::En => format!("{invalid} unreadable messages · {unknown} unknown"),
        })
    };
    let stale = move || {
        let now = live.now.get();
        live.health.with(|h| {
            h.is_stale(now, DEFAULT_STALE_MS).then(|| {
                let since = h.last_message_ms.unwrap_or(now);
                format!("{} {}", lang.t("Sin datos desde hace", "No data for"), duration(now - since))
            })
        })
    };
    let clock = move || live.kiosk.then(|| local_clock(wall_ms(live.now.get())).chars().take(5).collect::<String>());
    view! {
        <header class="status-bar">
            <div class="brand">
                <span class="brand-mark" aria-hidden="true">"◧"</span>
                <h1>{lang.t("Catálogo de muebles", "Furniture catalog")}</h1>
                <span class="brand-sub" class:off=move || !live.conn.get().is_live()>{lang.t("en vivo", "live")}</span>
            </div>
            <div class="status-items">
                <span class="conn" data-testid="connection-status" data-state=state title=move || live.url.get_value()>
                    <span class="conn-dot" aria-hidden="true"></span>
                    <span class="conn-label">{move || label()}</span>
                </span>
                <span class="pill" data-testid="client-count">{move || clients()}</span>
                <span class="pill" data-testid="item-count">{move || items()}</span>
                {move || stale().map(|s| view! { <span class="pill stale" data-testid="stale-badge" role="alert">{s}</span> })}
                {move || clock().map(|c| view! { <span class="clock" data-testid="clock">{c}</span> })}
            </div>
            <p class="source" data-testid="catalog-source">
                {move || source()}
                {move || diagnostics().map(|d| view! { <span class="diag">" · " {d}</span> })}
            </p>
            <HealthStrip/>
            {(!live.kiosk).then(|| view! { <crate::components::settings::SettingsButton/> })}
        </header>
    }
}

/// Round-trip time, time since the last message, uptime, reconnects today, wake lock.
#[component]
fn HealthStrip() -> impl IntoView {
    let live = expect_context::<Live>();
    let lang = live.lang;
    let parts = move || {
        let now = live.now.get();
        live.health.with(|h| {
            let mut parts = Vec::new();
            parts.push(match h.rtt_ms {
                Some(rtt) => format!("{} {}\u{a0}ms", lang.t("latencia", "round trip"), rtt.round() as i64),
                None => format!("{} —", lang.t("latencia", "round trip")),
            });
            if let Some(t) = h.last_message_ms {
                parts.push(match lang {
                    Lang::Es => format!("último mensaje hace {}", duration(now - t)),
                    Lang::En => format!("last message {} ago", duration(now - t)),
                });
            }
            parts.push(match (h.live_since_ms, lang) {
                (Some(t), Lang::Es) => format!("conectado hace {}", duration(now - t)),
                (Some(t), Lang::En) => format!("connected for {}", duration(now - t)),
                (None, _) => lang.t("desconectado", "disconnected").to_owned(),
            });
            parts.push(format!(
                "{} {}",
                lang.count(u64::from(h.reconnects_on(local_day(wall_ms(now), tz_offset_minutes()))), ("reconexión", "reconexiones"), ("reconnect", "reconnects")),
                lang.t("hoy", "today")
            ));
            parts
        })
    };
    let wake = move || {
        live.kiosk.then(|| match live.wake_lock.get() {
            WakeLock::Held => lang.t("pantalla siempre encendida", "screen kept on").to_owned(),
            WakeLock::Idle => lang.t("pidiendo pantalla encendida…", "asking to keep the screen on…").to_owned(),
            WakeLock::Unsupported => lang.t("este navegador no mantiene la pantalla encendida", "this browser cannot keep the screen on").to_owned(),
            WakeLock::Refused(why) => format!("{}: {why}", lang.t("pantalla encendida rechazada", "keeping the screen on was refused")),
        })
    };
    view! {
        <p class="health" data-testid="health">
            {move || parts().join(" · ")}
            {move || wake().map(|w| view! { <span data-testid="wake-lock">" · " {w}</span> })}
        </p>
    }
}
