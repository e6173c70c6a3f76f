//! Charts for a glance: notifications per minute over the last hour, and the catalog by material.

use leptos::prelude::*;

use crate::app::Live;
use crate::state::activity::sparkline_path;
use crate::state::i18n::Lang;

const SPARK_W: u32 = 240;
const SPARK_H: u32 = 36;
/// Materials shown as bars; the rest are summed up in a line below.
const MAX_BARS: usize = 6;

/// The chart strip under the status bar.
#[component]
pub fn Charts() -> impl IntoView {
    let live = expect_context::<Live>();
    let lang = live.lang;
    let path = move || {
        let now = live.now.get();
        live.activity.with(|a| sparkline_path(&a.line(now), a.first_known(now), f64::from(SPARK_W), f64::from(SPARK_H)))
    };
    let per_hour = move || {
        let now = live.now.get();
        live.activity.with(|a| a.count_known(now))
    };
    // The hour's count, or, when the hour reaches back past what the page knows (before it
    // opened, or an outage the broker could not fill), the count since then: "45 desde las 09:12".
    let since = move || {
        let now = live.now.get();
        live.activity.with(|a| a.partial(3_600_000.0, now).then_some(a.whole_since)).map(|since| {
            let at = crate::browser::local_clock(crate::browser::wall_ms(since));
            match lang {
                Lang::Es => format!("desde la{} {}", if at.starts_with("01") { "" } else { "s" }, &at[..5]),
                Lang::En => format!("since {}", &at[..5]),
            }
        })
    };
    // The last minute's count, then the hour's; in the minute after the page opens (or after an
    // outage the broker could not fill), the count since then alone: the minute is not known.
    let figure = move || {
        let now = live.now.get();
        let n = crate::state::format::count(u64::from(per_hour()), lang);
        let hour = since().map_or_else(|| format!("{n}/h"), |since| format!("{n} {since}"));
        match live.activity.with(|a| (!a.partial(60_000.0, now)).then(|| a.last_60_s(now))) {
            Some(m) => format!("{}/min · {hour}", crate::state::format::count(u64::from(m), lang)),
            None => hour,
        }
    };
    // From a memo: the bars are redrawn only when the counts change, not with every update.
    let bars = move || {
        let counts = live.material_counts.get();
        let shown: Vec<(String, usize)> = counts.iter().take(MAX_BARS).cloned().collect();
        let max = shown.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
        (shown, max)
    };
    let more = move || {
        let counts = live.material_counts.get();
        let others = counts.len().saturating_sub(MAX_BARS);
        let rest: usize = counts.iter().skip(MAX_BARS).map(|(_, n)| n).sum();
        // "y 5 muebles en 4 materiales más", "y 1 mueble en 1 material más".
        (others > 0).then(|| {
            let items = lang.count(rest as u64, ("mueble", "muebles"), ("item", "items"));
            let one = others == 1;
            match lang {
                Lang::Es => format!("y {items} en {others} {} más", if one { "material" } else { "materiales" }),
                Lang::En => format!("and {items} in {others} more {}", if one { "material" } else { "materials" }),
            }
        })
    };
    view! {
        <section class="charts" aria-label=lang.t("Actividad y materiales", "Activity and materials")>
            <figure class="chart" data-testid="activity-chart">
                <figcaption>{lang.t("Avisos por minuto · última hora", "Notifications per minute · last hour")}</figcaption>
                <svg viewBox=format!("-2 -2 {} {}", SPARK_W + 4, SPARK_H + 4) width=SPARK_W height=SPARK_H preserveAspectRatio="none" role="img"
                    aria-label=move || {
                        let when = since().unwrap_or_else(|| lang.t("en la última hora", "in the last hour").to_owned());
                        format!("{} {} {when}", per_hour(), lang.t("avisos", "notifications"))
                    }>
                    <path d=path class="spark"/>
                </svg>
                <span class="chart-figure">
                    {figure}
                </span>
            </figure>
            <figure class="chart" class:no-items=move || live.catalog.with(|c| c.is_empty()) data-testid="material-chart">
                <figcaption>{lang.t("Catálogo por material", "Catalog by material")}</figcaption>
                <div class="bars">
                    {move || {
                        let (shown, max) = bars();
                        shown
                            .into_iter()
                            .map(|(m, n)| {
                                let pct = 100.0 * n as f64 / max as f64;
                                let label = m.clone();
                                view! {
                                    <div class="bar-row" data-material=m>
                                        <span class="bar-label">{label}</span>
                                        <svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                                            <rect x="0" y="0" height="10" width=crate::state::format::tenths(pct)/>
                                        </svg>
                                        <span class="bar-value">{n}</span>
                                    </div>
                                }
                                .into_any()
                            })
                            .collect::<Vec<_>>()
                    }}
                </div>
                {move || more().map(|more| view! { <span class="chart-more">{more}</span> })}
            </figure>
        </section>
    }
}
