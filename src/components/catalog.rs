//! The catalog: one card per item, kept current in place so that an update changes one card.

use leptos::prelude::*;

use crate::app::Live;
use crate::components::{action_label, show_more_label};
use crate::components::rows::{follow, LiveRows};
use crate::state::catalog_view::{Card, SortBy, Tile};
use crate::state::format::{inert_bidi, or_dash, size};

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
    // Cards, not items: deleted cards still shown take places of the page too.
    let total = move || live.catalog.with(|c| c.cards_len());
    // Grouped, the page shows the first groups whole (A to Z), not its first cards by the order
    // chosen put in groups; a heading counts its group's items, drawn or not.
    // A wall draws a hundred at a time, the next hundred once it has paged through them.
    let tiles = move || {
        let sort = live.sort.get();
        let limit = limit.get().min(live.card_cap.get());
        let grouped = live.group_by_material.get();
        let from = live.catalog_from.get();
        live.catalog.with(|c| {
            let from = if from < c.cards_len() { from } else { 0 };
            c.tiles(sort, grouped, from..from + limit)
        })
    };
    let hidden = move || total().saturating_sub(limit.get());
    // Nobody clicks on a wall screen: it pages through the cards drawn instead.
    let has_hidden = move || !live.kiosk && hidden() > 0;
    let empty = move || live.catalog.with(|c| c.shows_nothing());
    // A memo: the chips change only when the counts do, not with every update.
    let counts = live.material_counts;
    view! {
        <section class="panel catalog-panel" aria-labelledby="catalog-title">
            <div class="catalog-head">
                <h2 id="catalog-title">{live.lang.t("Catálogo", "Catalog")}
                    // Which page a wall shows.
                    {live.kiosk.then(|| view! {
                        <span class="count" data-testid="catalog-page" hidden=move || live.catalog_page.with(String::is_empty)>
                            {move || live.catalog_page.get()}
                        </span>
                    })}
                </h2>
                {(!live.kiosk).then(|| view! { <CatalogControls/> })}
            </div>
            {(!live.kiosk).then(|| view! {
                <p class="material-counts" data-testid="material-counts">
                    {move || counts.get().into_iter().map(|(m, n)| view! { <span class="count-chip">{m} " " <b>{n}</b></span> }.into_any()).collect::<Vec<_>>()}
                </p>
            })}
            <Show when=empty>
                <p class="empty">{live.lang.t("Todavía no hay muebles. Aparecerán aquí en cuanto se creen.", "No furniture yet. Items appear here as soon as they are created.")}</p>
            </Show>
            <div class="catalog-view" data-testid="catalog">
                <ul class="catalog">
                    <LiveRows each=tiles key=|t: &Tile| t.card.id.clone() children=|tile| view! { <CatalogCard tile=tile/> }/>
                </ul>
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
                        crate::browser::set_query_param("sort", (s != SortBy::default()).then_some(s.as_str()));
                    }
                }>
                    {Vec::from(SortBy::ALL.map(|s| view! {
                        <option value=s.as_str() selected=move || live.sort.get() == s>{s.label(live.lang)}</option>
                    }.into_any()))}
                </select>
            </label>
            <label>
                <input type="checkbox" data-testid="catalog-group" prop:checked=move || live.group_by_material.get()
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        live.group_by_material.set(on);
                        crate::browser::set_query_param("group", on.then_some("material"));
                    }/>
                " " {live.lang.t("Agrupar por material", "Group by material")}
            </label>
        </div>
    }
}

/// One item's card, drawn once for its item and kept current: an update changes the texts and
/// classes that differ, not the whole card. Before it, when it is the first of its group, the
/// group's heading.
#[component]
fn CatalogCard(
    /// The item as it stands.
    tile: ArcReadSignal<Tile>,
) -> impl IntoView {
    let card = TileCard(tile.clone());
    let heading = move || {
        tile.with(|t| t.group.clone()).map(|(material, count)| {
            let name = material.clone();
            view! {
                <li class="group-title" data-testid="material-group" data-material=material>{name} <span class="count">{count}</span></li>
            }
        })
    };
    let live = expect_context::<Live>();
    let lang = live.lang;
    let id = card.with_untracked(|c| c.id.clone());
    // What the clock changes on the card, each followed through a signal of the card's own that
    // changes only with it: its age ("hace 12 s") every second of its first minute, and later,
    // once each, the glow of what changed and the badge. What reads one is not worked out again,
    // nor the badge drawn again, when another changes.
    let glows = follow({
        let card = card.clone();
        move || live.within(card.with(|c| c.changed_ms), HIGHLIGHT_MS)
    });
    let badged = follow({
        let card = card.clone();
        move || {
            let (changed_ms, deleted) = card.with(|c| (c.changed_ms, c.deleted_ms.is_some()));
            !deleted && live.within(changed_ms, BADGE_MS)
        }
    });
    let when = follow({
        let card = card.clone();
        move || {
            let changed_ms = card.with(|c| c.changed_ms);
            if changed_ms > 0.0 { live.ago(changed_ms) } else { String::new() }
        }
    });
    let when = move || when.get();
    // No entrance animation: the badge, the border and the toast say what is new, and a card
    // that kept the animation's class played it again whenever the grid moved it.
    let class = {
        let card = card.clone();
        move || {
            card.with(|c| {
                format!("card action-{}{}", c.last_action.as_str(), if c.deleted_ms.is_some() { " deleted" } else { "" })
            })
        }
    };
    let deleted = {
        let card = card.clone();
        move || card.with(|c| c.deleted_ms.is_some().then_some("true"))
    };
    // A text of the item, kept current.
    let text = |of: fn(&Card) -> String| {
        let card = card.clone();
        move || card.with(of)
    };
    // Fields the last update changed glow for a few seconds.
    let highlight = |keys: &'static [&'static str]| {
        let (card, glows) = (card.clone(), glows.clone());
        move || card.with(|c| keys.iter().any(|k| c.changed_fields.contains(k))) && glows.get()
    };
    // "Deleted" on a deleted card; else, for a while, what the last change was.
    let badge = {
        let card = card.clone();
        move || {
            let (action, deleted) = card.with(|c| (c.last_action, c.deleted_ms.is_some()));
            let label = if deleted { lang.t("Eliminado", "Deleted") } else { action_label(action, lang) };
            (deleted || badged.get()).then(|| view! { <span class="badge" class:deleted-badge=deleted>{label}</span> })
        }
    };
    view! {
        {heading}
        <li class=class data-testid="catalog-item" data-furniture-id=id.clone()
            data-deleted=deleted>
            <div class="card-head">
                <h3 class="card-name" class:changed=highlight(&["nombre"])>{text(|c| or_dash(c.furniture.nombre()))}</h3>
                {badge}
            </div>
            <p class="card-by">{lang.t("por ", "by ")}<span class:changed=highlight(&["autor_username"])>{text(|c| or_dash(c.furniture.autor()))}</span></p>
            <p class="card-desc">{text(|c| or_dash(c.furniture.descripcion()))}</p>
            <dl class="card-facts">
                <div><dt>{lang.t("Material", "Material")}</dt><dd class="material" class:changed=highlight(&["material"])>{text(|c| or_dash(c.furniture.material()))}</dd></div>
                <div><dt>{lang.t("Medidas", "Size")}</dt><dd class="size" class:changed=highlight(&["ancho", "altura"])>{text(|c| size(&c.furniture))}</dd></div>
            </dl>
            <p class="card-foot"><span class="card-id">{inert_bidi(id.clone())}</span><span class="card-when">{when}</span></p>
        </li>
    }
}

/// A card's item, read from its tile.
#[derive(Clone)]
struct TileCard(ArcReadSignal<Tile>);

impl TileCard {
    fn with<R>(&self, f: impl FnOnce(&Card) -> R) -> R {
        self.0.with(|t| f(&t.card))
    }

    fn with_untracked<R>(&self, f: impl FnOnce(&Card) -> R) -> R {
        self.0.with_untracked(|t| f(&t.card))
    }
}
