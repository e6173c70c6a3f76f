//! The catalog: one card per item, keyed so that an update re-renders one card.

use leptos::prelude::*;

use crate::app::Live;
use crate::components::{action_label, show_more_label};
use crate::components::rows::{follow, Rows};
use crate::state::catalog_view::{group_by_material, Card, SortBy};
use crate::state::format::{or_dash, size};

/// A change this recent (ms) is animated in.
const FRESH_MS: f64 = 3_000.0;
/// Fields an update changed are highlighted this long (ms).
const HIGHLIGHT_MS: f64 = 5_000.0;
/// A change this recent (ms) keeps its action badge.
const BADGE_MS: f64 = 60_000.0;

pub use crate::state::catalog_view::CARD_PAGE;

/// The catalog grid.
#[component]
pub fn CatalogPanel() -> impl IntoView {
    let live = expect_context::<Live>();
    let limit = RwSignal::new(CARD_PAGE);
    let total = move || live.catalog.with(|c| c.len());
    let cards = move || {
        let sort = live.sort.get();
        let limit = limit.get();
        live.catalog.with(|c| {
            let mut cards = c.cards_by(sort);
            cards.truncate(limit);
            cards
        })
    };
    let hidden = move || total().saturating_sub(limit.get());
    let has_hidden = move || hidden() > 0;
    let groups = move || group_by_material(cards());
    let empty = move || live.catalog.with(|c| c.shows_nothing());
    // A memo: the chips change only when the counts do, not with every update.
    let counts = live.material_counts;
    view! {
        <section class="panel catalog-panel" aria-labelledby="catalog-title">
            <div class="catalog-head">
                <h2 id="catalog-title">{live.lang.t("Catálogo", "Catalog")}</h2>
                {(!live.kiosk).then(|| view! { <CatalogControls/> })}
            </div>
            {(!live.kiosk).then(|| view! {
                <p class="material-counts" data-testid="material-counts">
                    {move || counts.get().into_iter().map(|(m, n)| view! { <span class="count-chip">{m} " " <b>{n}</b></span> }).collect::<Vec<_>>()}
                </p>
            })}
            <Show when=empty>
                <p class="empty">{live.lang.t("Todavía no hay muebles. Aparecerán aquí en cuanto se creen.", "No furniture yet. Items appear here as soon as they are created.")}</p>
            </Show>
            <div data-testid="catalog">
                <Show when=move || live.group_by_material.get() fallback=move || view! {
                    <ul class="catalog">
                        <Rows each=cards key=|c: &Card| (c.id.clone(), c.version) children=|card| view! { <CatalogCard card=card/> }/>
                    </ul>
                }>
                    <Rows each=groups key=|(m, cards): &(String, Vec<Card>)| (m.clone(), cards.iter().map(|c| (c.id.clone(), c.version)).collect::<Vec<_>>()) children=|group| view! {
                        <section class="material-group" data-testid="material-group" data-material=group.0.clone()>
                            <h3 class="group-title">{group.0.clone()} <span class="count">{group.1.len()}</span></h3>
                            <ul class="catalog">
                                {group.1.into_iter().map(|card| view! { <CatalogCard card=card/> }).collect::<Vec<_>>()}
                            </ul>
                        </section>
                    }/>
                </Show>
            </div>
            <Show when=has_hidden>
                <p class="more-cards">
                    <button type="button" class="chip" data-testid="catalog-more" on:click=move |_| limit.update(|l| *l += CARD_PAGE)>
                        {move || show_more_label(CARD_PAGE, hidden(), live.lang)}
                    </button>
                </p>
            </Show>
        </section>
    }
}

/// Order and grouping of the catalog.
#[component]
fn CatalogControls() -> impl IntoView {
    let live = expect_context::<Live>();
    view! {
        <div class="catalog-controls">
            <label>{live.lang.t("Ordenar", "Sort")} " "
                <select data-testid="catalog-sort" on:change=move |ev| {
                    if let Some(s) = SortBy::parse(&event_target_value(&ev)) {
                        live.sort.set(s);
                    }
                }>
                    {SortBy::ALL.map(|s| view! {
                        <option value=s.as_str() selected=move || live.sort.get() == s>{s.label(live.lang)}</option>
                    })}
                </select>
            </label>
            <label>
                <input type="checkbox" data-testid="catalog-group" prop:checked=move || live.group_by_material.get()
                    on:change=move |ev| live.group_by_material.set(event_target_checked(&ev))/>
                " " {live.lang.t("Agrupar por material", "Group by material")}
            </label>
        </div>
    }
}

/// The parts of a card that change with the clock.
#[derive(PartialEq)]
struct CardClock {
    /// "n min ago".
    when: String,
    /// The fields the last update changed still glow.
    highlight: bool,
    /// The action badge still shows.
    badge: bool,
}

/// One item's card.
#[component]
fn CatalogCard(
    /// The item as it stands.
    card: Card,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let f = &card.furniture;
    let deleted = card.deleted_ms.is_some();
    let changed_ms = card.changed_ms;
    let lang = live.lang;
    // What the clock changes on the card, followed through the card's own signal.
    let clock = follow(move || CardClock {
        when: if changed_ms > 0.0 { live.ago(changed_ms) } else { String::new() },
        highlight: live.within(changed_ms, HIGHLIGHT_MS),
        badge: !deleted && live.within(changed_ms, BADGE_MS),
    });
    let when = {
        let clock = clock.clone();
        move || clock.with(|c| c.when.clone())
    };
    // Only a change seen a moment ago draws the eye; a resynced catalog appears quietly, and so
    // do cards that arrive in a burst (an entrance animation per card costs every frame of it).
    let fresh = live.server_now_untracked() - changed_ms < FRESH_MS && !live.toasts.with_untracked(|t| t.in_burst());
    let class = format!(
        "card action-{}{}{}",
        card.last_action.as_str(),
        if deleted { " deleted" } else { "" },
        if fresh { " fresh" } else { "" }
    );
    // Fields the last update changed glow for a few seconds.
    let changed_fields = card.changed_fields.clone();
    let highlight = |keys: &'static [&'static str]| {
        let hit = keys.iter().any(|k| changed_fields.contains(k));
        let clock = clock.clone();
        move || hit && clock.with(|c| c.highlight)
    };
    let badge = deleted.then(|| view! { <span class="badge deleted-badge">{lang.t("Eliminado", "Deleted")}</span> });
    let action = card.last_action;
    let recent = {
        let clock = clock.clone();
        move || clock.with(|c| c.badge).then(|| view! { <span class="badge">{action_label(action, lang)}</span> })
    };
    view! {
        <li class=class data-testid="catalog-item" data-furniture-id=card.id.clone()
            data-deleted=deleted.then_some("true")>
            <div class="card-head">
                <h3 class="card-name" class:changed=highlight(&["nombre"])>{or_dash(f.nombre())}</h3>
                {badge}
                {move || recent()}
            </div>
            <p class="card-desc">{or_dash(f.descripcion())}</p>
            <dl class="card-facts">
                <div><dt>{lang.t("Material", "Material")}</dt><dd class="material" class:changed=highlight(&["material"])>{or_dash(f.material())}</dd></div>
                <div><dt>{lang.t("Medidas", "Size")}</dt><dd class="size" class:changed=highlight(&["ancho", "altura"])>{size(f)}</dd></div>
                <div><dt>{lang.t("Autor", "Author")}</dt><dd class:changed=highlight(&["autor_username"])>{or_dash(f.autor())}</dd></div>
            </dl>
            <p class="card-foot"><span class="card-id">{card.id.clone()}</span><span class="card-when">{move || when()}</span></p>
        </li>
    }
}
