//! The catalog as the screen shows it: the broker's catalog reducer plus what the eye needs:
//! deleted items that linger greyed for a while, a version per card that changes with its
//! content, cards that stay where they are while changes keep coming, and the grid's tiles
//! (cards, grouped by material or not).
//!
//! In the catalog's order a change can move a card: a rename under "by name", any change under
//! "newest", a new size under "size". Moved at once, every such change shifts every card between
//! the card's old and new place; at a hundred changes a second the grid would reshuffle in every
//! frame, which nobody can read, and which costs the page a new layout and paint of most of the
//! window each time (BENCHMARKS.md). So a change that comes less than [`SETTLE_MS`] after the
//! cards were last put in order leaves its card where it stands (the card is sorted by what it
//! was then, its [`SortKey`]), a new card goes to its place among them, and the page puts them
//! all in order at its next second's tick ([`CatalogView::put_in_order`]). A change after a calm
//! second is put in its place at once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use furniture_protocol::record::field;
use furniture_protocol::{Action, Applied, Catalog, CatalogEntry, Furniture, Notification, Timestamp};

use crate::state::diff::{diff, FieldChange};
use crate::state::format::{or_dash_ref, sort_key};

/// Cards drawn at first, and added by each "show more": a screen shows a few dozen, every card
/// drawn costs each redraw of a burst and the first render of a big catalog (BENCHMARKS.md), and
/// drawing ten thousand at once would block the page for seconds. Here rather than with the
/// component so that the benchmarks and the soak, built natively, size their catalogs by it.
pub const CARD_PAGE: usize = 100;

/// How long a deleted item stays visible, greyed, by default (two minutes).
pub const DEFAULT_LINGER_MS: f64 = 120_000.0;

/// Changes this soon (ms) after the cards were last put in order leave them where they stand.
pub const SETTLE_MS: f64 = 1_000.0;

/// What a card is sorted by, as of when the cards were last put in order.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// The name, lowercased (computed once per change, not once per render).
    pub name: Arc<str>,
    /// When the item last changed (ms).
    pub changed_ms: f64,
    /// Width × height; unreadable sizes sort last.
    pub area: i64,
    /// The material as shown ("—" for none) and as grouped (folded: `Roble` and `roble` are one
    /// group), worked out once per change rather than for every card at every redraw.
    pub material: Arc<str>,
    pub material_key: Arc<str>,
    /// Kept from before a change, until the cards are put in order.
    pub stale: bool,
}

impl SortKey {
    fn of(f: &Furniture, changed_ms: f64) -> SortKey {
        let area = f.ancho().zip(f.altura()).map_or(i64::MIN, |(w, h)| w.saturating_mul(h));
        let material = material_of(f);
        SortKey {
            name: sort_key(f.nombre().unwrap_or_default().trim()).into(),
            changed_ms,
            area,
            material_key: sort_key(&material).into(),
            material: material.into(),
            stale: false,
        }
    }
}

/// One card on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub id: String,
    /// Changes whenever the card's content does (before the record here, so that comparing two
    /// cards of one item compares the record only when their versions are the same).
    pub version: u64,
    /// Shared with the catalog view: building the card list copies no record.
    pub furniture: Arc<Furniture>,
    /// Where it goes in the catalog's order.
    pub sort_key: SortKey,
    /// The last action applied to it.
    pub last_action: Action,
    /// When it last changed (ms since the epoch): when this page saw it, or the broker's time for
    /// items that came with a resync.
    pub changed_ms: f64,
    /// The broker's time of its last change, when known.
    pub timestamp: Option<Timestamp>,
    /// Set while a deleted item is still shown.
    pub deleted_ms: Option<f64>,
    /// The fields its last update changed (wire keys), for a brief highlight.
    pub changed_fields: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct Meta {
    furniture: Arc<Furniture>,
    sort_key: SortKey,
    version: u64,
    last_action: Action,
    changed_ms: f64,
    changed_fields: Vec<&'static str>,
}

/// The live catalog plus lingering deleted cards.
#[derive(Debug, Clone)]
pub struct CatalogView {
    catalog: Catalog,
    meta: HashMap<String, Meta>,
    ghosts: HashMap<String, Card>,
    linger_ms: f64,
    next_version: u64,
    /// When the cards were last put in order (ms, the broker's clock).
    ordered_ms: f64,
    /// Changes leave their cards where they stand, until [`CatalogView::put_in_order`].
    keep_places: bool,
}

impl Default for CatalogView {
    fn default() -> Self {
        CatalogView::new(Catalog::default(), DEFAULT_LINGER_MS)
    }
}

impl CatalogView {
    pub fn new(catalog: Catalog, linger_ms: f64) -> CatalogView {
        CatalogView {
            catalog,
            meta: HashMap::new(),
            ghosts: HashMap::new(),
            linger_ms,
            next_version: 1,
            ordered_ms: f64::NEG_INFINITY,
            keep_places: false,
        }
    }

    fn bump(&mut self) -> u64 {
        self.next_version += 1;
        self.next_version
    }

    /// The live items as the broker's catalog entries (for a snapshot).
    pub fn entries(&self) -> Vec<CatalogEntry> {
        self.catalog.iter().map(|(_, e)| e.clone()).collect()
    }

    /// The current record of an item.
    pub fn furniture(&self, id: &str) -> Option<&Furniture> {
        self.catalog.get(id).map(|e| &*e.furniture)
    }

    /// Changes are about to be applied at `now_ms` (the broker's clock as the page knows it):
    /// their cards keep their places when the cards were put in order less than [`SETTLE_MS`]
    /// ago, until [`CatalogView::put_in_order`].
    pub fn changes_at(&mut self, now_ms: f64) {
        if now_ms - self.ordered_ms < SETTLE_MS {
            self.keep_places = true;
        } else {
            // In order now (should the tick be late), these changes with them.
            self.put_in_order(now_ms);
            self.ordered_ms = now_ms;
        }
    }

    /// Puts the cards that kept their places in order (once a second, and after a resync);
    /// true when there were any, and the cards are to be redrawn.
    pub fn put_in_order(&mut self, now_ms: f64) -> bool {
        if !std::mem::take(&mut self.keep_places) {
            return false;
        }
        // Only the keys kept from before a change: a big catalog is not re-keyed every second.
        for m in self.meta.values_mut().filter(|m| m.sort_key.stale) {
            m.sort_key = SortKey::of(&m.furniture, m.changed_ms);
        }
        for card in self.ghosts.values_mut().filter(|c| c.sort_key.stale) {
            card.sort_key = SortKey::of(&card.furniture, card.changed_ms);
        }
        self.ordered_ms = now_ms;
        true
    }

    /// The sort key of an item changed at `now_ms`: what it was, while cards keep their places.
    fn sort_key(&self, old: Option<&Meta>, f: &Furniture, now_ms: f64) -> SortKey {
        match old {
            Some(m) if self.keep_places => SortKey { stale: true, ..m.sort_key.clone() },
            _ => SortKey::of(f, now_ms),
        }
    }

    /// Keeps a just-deleted item on screen, greyed, for the linger time.
    fn linger(&mut self, id: String, furniture: Arc<Furniture>, timestamp: Option<Timestamp>, now_ms: f64) {
        let old = self.meta.remove(&id);
        let sort_key = self.sort_key(old.as_ref(), &furniture, now_ms);
        let version = self.bump();
        let card = Card {
            id: id.clone(),
            sort_key,
            furniture,
            version,
            last_action: Action::Deleted,
            changed_ms: now_ms,
            timestamp,
            deleted_ms: Some(now_ms),
            changed_fields: Vec::new(),
        };
        self.ghosts.insert(id, card);
    }

    /// Applies one notification; returns what the catalog did and, for an update of a known
    /// item, what it changed.
    pub fn apply(&mut self, n: &Notification, now_ms: f64) -> (Applied, Vec<FieldChange>) {
        let changes = n.furniture.id().and_then(|id| self.furniture(&id).map(|old| diff(old, &n.furniture))).unwrap_or_default();
        let applied = self.apply_diffed(n, now_ms, changes.iter().map(|c| c.key).collect());
        let changes = if matches!(applied, Applied::Updated(_)) { changes } else { Vec::new() };
        (applied, changes)
    }

    /// [`CatalogView::apply`] for a caller that has already compared the notification with the
    /// item as it stands: `changed_fields` are the keys that differ.
    pub fn apply_diffed(&mut self, n: &Notification, now_ms: f64, changed_fields: Vec<&'static str>) -> Applied {
        let applied = self.catalog.apply(n);
        match &applied {
            Applied::Inserted(id) | Applied::Updated(id) => {
                self.ghosts.remove(id);
                let changed_fields = if matches!(applied, Applied::Updated(_)) { changed_fields } else { Vec::new() };
                let version = self.bump();
                // The catalog's own record, shared: not a copy.
                let furniture = self.catalog.get(id).map(|e| Arc::clone(&e.furniture)).unwrap_or_default();
                let sort_key = self.sort_key(self.meta.get(id), &furniture, now_ms);
                let meta = Meta { sort_key, furniture, version, last_action: n.action, changed_ms: now_ms, changed_fields };
                self.meta.insert(id.clone(), meta);
            }
            Applied::Removed(id) => self.linger(id.clone(), Arc::new(n.furniture.clone()), n.timestamp, now_ms),
            Applied::Skipped(_) => {}
        }
        applied
    }

    /// Replaces the catalog with the broker's (a resync). Items that vanished linger as deleted;
    /// unchanged items keep their card. A new item's last action is taken as created, a changed
    /// one's as updated, until [`CatalogView::tell_last_actions`] says better.
    pub fn replace(&mut self, entries: Vec<CatalogEntry>, now_ms: f64) {
        let old = self.catalog.replace(entries);
        for (id, entry) in &old {
            if self.catalog.get(id).is_none() {
                self.linger(id.clone(), entry.furniture.clone(), entry.timestamp, now_ms);
            }
        }
        let ids: Vec<(String, bool, Option<Timestamp>, Arc<Furniture>)> = self
            .catalog
            .iter()
            .map(|(id, e)| (id.clone(), old.get(id).is_some_and(|o| o.furniture == e.furniture), e.timestamp, e.furniture.clone()))
            .collect();
        for (id, unchanged, timestamp, furniture) in ids {
            if unchanged && self.meta.contains_key(&id) {
                continue;
            }
            self.ghosts.remove(&id);
            let version = self.bump();
            let last_action = if old.contains_key(&id) { Action::Updated } else { Action::Created };
            // The broker's time of the change, not "now": the change may be old.
            let changed_ms = timestamp.map_or(now_ms, Timestamp::unix_millis);
            let meta = Meta { sort_key: SortKey::of(&furniture, changed_ms), furniture, version, last_action, changed_ms, changed_fields: Vec::new() };
            self.meta.insert(id, meta);
        }
        // A resync's cards in order at once.
        self.put_in_order(now_ms);
    }

    /// Gives each card the last action that `history` (oldest first: what the broker gave with
    /// its catalog, or a saved feed) tells of its item, where it reaches back to it: an update
    /// just before the page opened is an update, not a creation.
    pub fn tell_last_actions<'a>(&mut self, history: impl IntoIterator<Item = &'a Notification>) {
        for n in history {
            let (Some(id), Action::Created | Action::Updated) = (n.furniture.id(), n.action) else { continue };
            if let Some(meta) = self.meta.get_mut(&id).filter(|m| m.last_action != n.action) {
                self.next_version += 1;
                meta.last_action = n.action;
                meta.version = self.next_version;
            }
        }
    }

    /// Drops deleted cards that have lingered long enough; true when any went.
    pub fn prune(&mut self, now_ms: f64) -> bool {
        let before = self.ghosts.len();
        let linger = self.linger_ms;
        self.ghosts.retain(|_, c| c.deleted_ms.is_some_and(|d| now_ms - d < linger));
        self.ghosts.len() != before
    }

    /// True when some deleted card has lingered long enough to go.
    pub fn has_expired(&self, now_ms: f64) -> bool {
        self.ghosts.values().any(|c| c.deleted_ms.is_some_and(|d| now_ms - d >= self.linger_ms))
    }

    /// Number of live items (deleted ones not counted).
    pub fn len(&self) -> usize {
        self.catalog.len()
    }

    pub fn is_empty(&self) -> bool {
        self.catalog.is_empty()
    }

    /// Number of cards: the live items and the deleted ones still shown.
    pub fn cards_len(&self) -> usize {
        self.catalog.len() + self.ghosts.len()
    }

    /// Every card, live and lingering, in the given order (the page draws [`CatalogView::tiles`],
    /// which makes only a page of them; the tests read the whole order).
    #[cfg(test)]
    pub fn cards_by(&self, sort: SortBy) -> Vec<Card> {
        self.tiles(sort, false, 0..usize::MAX).into_iter().map(|t| t.card).collect()
    }

    /// The catalog's tiles at the places `shown` of its order (a desk's first hundred, a wall's
    /// hundred it pages through): its cards, live and lingering, in the given order, or,
    /// `by_material`, in groups of one material (A to Z, case and accents aside), each in that
    /// order and headed by its material and its items (not a deleted card still shown); the
    /// first tile shown has its group's heading too, the group begun before it or not.
    ///
    /// The items are put in order by their keys, and only those shown made into cards: a big
    /// catalog's page is 100 of its 10,000, and making a card copies its id and changed fields
    /// (BENCHMARKS.md). The keys are those of the last reordering, so that a card whose
    /// name or material changed moves, and changes group, with the next one.
    pub fn tiles(&self, sort: SortBy, by_material: bool, shown: std::ops::Range<usize>) -> Vec<Tile> {
        let mut order: Vec<(Cow<'_, SortKey>, &String, Option<&CatalogEntry>)> = self
            .catalog
            .iter()
            .map(|(id, e)| {
                let key = match self.meta.get(id) {
                    Some(m) => Cow::Borrowed(&m.sort_key),
                    None => Cow::Owned(SortKey::of(&e.furniture, 0.0)),
                };
                (key, id, Some(e))
            })
            .chain(self.ghosts.iter().map(|(id, c)| (Cow::Borrowed(&c.sort_key), id, None)))
            .collect();
        crate::state::sort::sort_by(&mut order, |(a_key, a_id, _), (b_key, b_id, _)| {
            let group = if by_material { a_key.material_key.cmp(&b_key.material_key) } else { std::cmp::Ordering::Equal };
            group
                .then_with(|| match sort {
                    // Items without a name go last, not first.
                    SortBy::Name => (a_key.name.is_empty(), &a_key.name).cmp(&(b_key.name.is_empty(), &b_key.name)),
                    SortBy::Newest => b_key.changed_ms.total_cmp(&a_key.changed_ms),
                    SortBy::Size => b_key.area.cmp(&a_key.area),
                })
                .then_with(|| a_id.cmp(b_id))
        });
        let shown = shown.start.min(order.len())..shown.end.min(order.len());
        let mut tiles = Vec::with_capacity(shown.len());
        for i in shown.clone() {
            let (key, id, e) = &order[i];
            let group = (by_material && (i == shown.start || order[i - 1].0.material_key != key.material_key)).then(|| {
                let same = |o: &&(Cow<'_, SortKey>, &String, Option<&CatalogEntry>)| o.0.material_key == key.material_key;
                let start = i - order[..i].iter().rev().take_while(same).count();
                let live = order[start..].iter().take_while(same).filter(|o| o.2.is_some()).count();
                (order[start].0.material.to_string(), live)
            });
            let card = match e {
                Some(e) => self.card(id, e, key.as_ref().clone()),
                None => match self.ghosts.get(*id) {
                    Some(c) => c.clone(),
                    None => continue,
                },
            };
            tiles.push(Tile { card, group });
        }
        tiles
    }

    /// Live items per material, most common first (a missing material counts as a dash).
    /// Each distinct material is copied once, not once per item (a big catalog is counted at
    /// every change).
    pub fn material_counts(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<Cow<'_, str>, usize> = HashMap::new();
        for (_, e) in self.catalog.iter() {
            *counts.entry(or_dash_ref(e.furniture.text_ref(field::MATERIAL))).or_default() += 1;
        }
        let mut counts: Vec<(String, String, usize)> = counts.into_iter().map(|(m, n)| (sort_key(&m), m.into_owned(), n)).collect();
        crate::state::sort::sort_by(&mut counts, |a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        counts.into_iter().map(|(_, m, n)| (crate::state::format::inert_bidi(m), n)).collect()
    }

    /// Every card, live and lingering, sorted by name (case-insensitive), then id.
    #[cfg(test)]
    pub fn cards(&self) -> Vec<Card> {
        self.cards_by(SortBy::Name)
    }

    /// The card of the live item `id`, put in order by `sort_key`.
    fn card(&self, id: &str, e: &CatalogEntry, sort_key: SortKey) -> Card {
        let meta = self.meta.get(id);
        Card {
            id: id.to_owned(),
            furniture: meta.map_or_else(|| Arc::clone(&e.furniture), |m| m.furniture.clone()),
            sort_key,
            version: meta.map_or(0, |m| m.version),
            last_action: meta.map_or(Action::Created, |m| m.last_action),
            changed_ms: meta.map_or(0.0, |m| m.changed_ms),
            timestamp: e.timestamp,
            deleted_ms: None,
            changed_fields: meta.map(|m| m.changed_fields.clone()).unwrap_or_default(),
        }
    }

    /// True when no card is shown, live or lingering.
    pub fn shows_nothing(&self) -> bool {
        self.catalog.is_empty() && self.ghosts.is_empty()
    }
}

/// How the catalog is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// By name, A to Z (the default).
    #[default]
    Name,
    /// Most recently changed first.
    Newest,
    /// Largest footprint (width × height) first; unreadable sizes last.
    Size,
}

impl SortBy {
    pub const ALL: [SortBy; 3] = [SortBy::Name, SortBy::Newest, SortBy::Size];

    /// The URL value: `name`, `newest`, `size`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Newest => "newest",
            SortBy::Size => "size",
        }
    }

    pub fn parse(s: &str) -> Option<SortBy> {
        SortBy::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The label on screen.
    pub fn label(self, lang: crate::state::i18n::Lang) -> &'static str {
        match self {
            SortBy::Name => lang.t("Nombre", "Name"),
            SortBy::Newest => lang.t("Recientes", "Newest"),
            SortBy::Size => lang.t("Tamaño", "Size"),
        }
    }
}

/// The material a card is grouped under: its text, or a dash.
pub fn material_of(f: &Furniture) -> String {
    crate::state::format::or_dash(f.material())
}

/// Adds the entries of a `sync_part` frame to those of the parts before it, while these hold
/// fewer than `limit` (the catalog's own limit: entries past it would be left out of the catalog
/// anyway). False when the part was left out.
pub fn join_part(parts: &mut Vec<CatalogEntry>, mut entries: Vec<CatalogEntry>, limit: usize) -> bool {
    if parts.len() >= limit {
        return false;
    }
    parts.append(&mut entries);
    true
}

/// One place of the catalog grid: a card, and, on the first card of a group (or the first shown)
/// when the catalog is grouped by material, the group's heading (its material as written on the
/// group's first card, and how many cards it has), drawn before the card.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub card: Card,
    pub group: Option<(String, usize)>,
}

/// Seconds a wall screen shows each page of its catalog, by default, and at most.
pub const DEFAULT_PAGE_SECONDS: u64 = 20;
pub const MAX_PAGE_SECONDS: u64 = 3_600;

/// The seconds of `?page_seconds=`: 0 turns paging off, more than [`MAX_PAGE_SECONDS`] is that
/// many, anything else than a whole number the default.
pub fn page_seconds(param: Option<&str>) -> u64 {
    param.and_then(|s| s.parse().ok()).map_or(DEFAULT_PAGE_SECONDS, |s: u64| s.min(MAX_PAGE_SECONDS))
}

/// Where a wall's hundred cards (it draws [`CARD_PAGE`] at a time, as a desk does) begin once
/// it has shown every page of those `from`: the next hundred of its `cards`, or the first again
/// after the last (or when the catalog has shrunk under them).
pub fn next_hundred(from: usize, cards: usize) -> usize {
    if from + CARD_PAGE < cards { from + CARD_PAGE } else { 0 }
}

/// What a wall's catalog heading says of what it shows: which cards of how many, when it has
/// more than it draws at once, and which page of those of how many, when they take more than one.
pub fn wall_page_label(from: usize, cards: usize, page: usize, pages: usize, lang: crate::state::i18n::Lang) -> String {
    use crate::state::i18n::Lang;
    let mut label = String::new();
    if cards > CARD_PAGE {
        let of = lang.t("de", "of");
        label = format!("{}–{} {of} {cards}", from + 1, (from + CARD_PAGE).min(cards));
    }
    if pages > 1 {
        if !label.is_empty() {
            label.push_str(" · ");
        }
        label.push_str(&match lang {
            Lang::Es => format!("página {page} de {pages}"),
            Lang::En => format!("page {page} of {pages}"),
        });
    }
    label
}

/// Where each page of a wall's catalog starts, for a view `height` high that can scroll to
/// `max_top`: a page begins at the first row (card or heading) the page before does not show
/// whole, or at the group's heading just before that row, so that every card is seen whole on
/// some page, under its heading. `items` are the list's (top, bottom, is a heading) in order, as
/// laid out; a row taller than the view is gone past a view at a time, and the last page ends
/// at the list's end.
pub fn page_tops(items: &[(f64, f64, bool)], height: f64, max_top: f64) -> Vec<f64> {
    let mut tops = vec![0.0];
    let mut top = 0.0;
    while height >= 1.0 && top < max_top - 0.5 {
        let bottom = top + height;
        let Some(mut cut) = items.iter().position(|(_, b, _)| *b > bottom + 0.5) else { break };
        while cut > 0 && items[cut - 1].2 {
            cut -= 1;
        }
        top = if items[cut].0 > top + 0.5 { items[cut].0 } else { bottom }.min(max_top);
        tops.push(top);
    }
    tops
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wall's page time: as asked up to the bound, the bound past it, 0 for no paging, the
    /// default for anything else.
    #[test]
    fn page_seconds_are_bounded() {
        assert_eq!(page_seconds(Some("5")), 5);
        assert_eq!(page_seconds(Some("3600")), 3_600);
        assert_eq!(page_seconds(Some("3601")), MAX_PAGE_SECONDS);
        assert_eq!(page_seconds(Some("0")), 0);
        for bad in [None, Some(""), Some("-1"), Some("2.5"), Some("x")] {
            assert_eq!(page_seconds(bad), DEFAULT_PAGE_SECONDS, "{bad:?}");
        }
    }

    /// A wall goes through its catalog a hundred cards at a time, back to the first after the
    /// last, and after a catalog that shrank under the hundred it showed; it says which cards
    /// and which page only when there is more than one of either.
    #[test]
    fn a_wall_goes_through_every_hundred() {
        use crate::state::i18n::Lang;
        assert_eq!(next_hundred(0, 100), 0, "all drawn at once");
        assert_eq!(next_hundred(0, 101), 100);
        assert_eq!(next_hundred(100, 101), 0);
        assert_eq!(next_hundred(200, 340), 300);
        assert_eq!(next_hundred(300, 340), 0);
        assert_eq!(next_hundred(300, 120), 0, "shrunk under the hundred shown");
        assert_eq!(wall_page_label(0, 100, 1, 1, Lang::Es), "");
        assert_eq!(wall_page_label(0, 100, 2, 5, Lang::Es), "página 2 de 5");
        assert_eq!(wall_page_label(100, 340, 2, 5, Lang::Es), "101–200 de 340 · página 2 de 5");
        assert_eq!(wall_page_label(300, 340, 1, 1, Lang::En), "301–340 of 340");
        assert_eq!(wall_page_label(0, 101, 3, 4, Lang::En), "1–100 of 101 · page 3 of 4");
    }

    /// Rows of 100 high with gaps of 10, two cards each, in a view of 250: pages at the rows
    /// each page cuts, the last one held at the list's end; a row taller than the view is gone
    /// past a view at a time; an empty or unlaid view has one page.
    #[test]
    fn wall_pages_start_at_the_first_row_not_seen_whole() {
        let rows = |n: usize| (0..n).flat_map(|r| [(r as f64 * 110.0, r as f64 * 110.0 + 100.0, false); 2]).collect::<Vec<_>>();
        // 7 rows end at 760: pages at 0 (rows 0-1 whole, row 2 cut), 220 (rows 2-3), 440, and 510.
        assert_eq!(page_tops(&rows(7), 250.0, 760.0 - 250.0), [0.0, 220.0, 440.0, 510.0]);
        // Everything in view: one page.
        assert_eq!(page_tops(&rows(2), 250.0, 0.0), [0.0]);
        assert_eq!(page_tops(&[], 250.0, 0.0), [0.0]);
        assert_eq!(page_tops(&rows(7), 0.0, 760.0), [0.0]);
        // A heading of 30, then a card of 600 in a view of 250 (gone past a view at a time, the
        // heading with its top), then a row of 100.
        let tall = [(0.0, 30.0, true), (40.0, 640.0, false), (650.0, 750.0, false)];
        assert_eq!(page_tops(&tall, 250.0, 500.0), [0.0, 250.0, 500.0]);
        // A row, then a heading seen whole above a row it cuts: the next page starts at the
        // heading, with its row.
        let grouped = [(0.0, 100.0, false), (110.0, 140.0, true), (150.0, 250.0, false), (260.0, 360.0, false)];
        assert_eq!(page_tops(&grouped, 200.0, 160.0), [0.0, 110.0, 160.0]);
    }

    fn note(action: Action, id: &str, nombre: &str) -> Notification {
        Notification { action, furniture: Furniture::new(id, nombre, "", 1, 1, "m", "u"), message: String::new(), timestamp: None, seq: None }
    }

    #[test]
    fn parts_are_joined_while_under_the_limit() {
        let entry = |id: &str| CatalogEntry { furniture: Arc::new(Furniture::new(id, "Mesa", "", 1, 1, "m", "u")), seq: None, timestamp: None };
        let mut parts = Vec::new();
        assert!(join_part(&mut parts, vec![entry("a"), entry("b")], 3));
        assert!(join_part(&mut parts, vec![entry("c"), entry("d")], 3), "under the limit, a part is taken whole");
        assert!(!join_part(&mut parts, vec![entry("e")], 3), "at the limit, it is left out");
        let ids: Vec<_> = parts.iter().filter_map(|e| e.furniture.id()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
    }

    fn names(v: &CatalogView, sort: SortBy) -> Vec<String> {
        v.cards_by(sort).into_iter().map(|c| c.furniture.nombre().unwrap_or_default()).collect()
    }

    /// What the page does with a change at `now`: decide, then apply.
    fn change(v: &mut CatalogView, action: Action, id: &str, nombre: &str, now: f64) {
        v.changes_at(now);
        v.apply(&note(action, id, nombre), now);
    }

    #[test]
    fn items_without_a_name_sort_last_by_name() {
        let mut v = CatalogView::default();
        for (id, name) in [("1", ""), ("2", "Mesa"), ("3", "  "), ("4", "Armario")] {
            change(&mut v, Action::Created, id, name, 0.0);
        }
        let ids: Vec<String> = v.cards_by(SortBy::Name).into_iter().map(|c| c.id.to_string()).collect();
        assert_eq!(ids[..2], ["4", "2"], "named ones first, in order: {ids:?}");
    }

    #[test]
    fn a_change_after_a_calm_second_is_put_in_its_place_at_once() {
        let mut v = CatalogView::default();
        for (id, name) in [("1", "a"), ("2", "b"), ("3", "c")] {
            change(&mut v, Action::Created, id, name, 0.0);
        }
        change(&mut v, Action::Updated, "1", "z", 5_000.0);
        assert_eq!(names(&v, SortBy::Name), ["b", "c", "z"], "renamed: moved at once");
        assert!(!v.put_in_order(5_500.0), "nothing left for the tick");
    }

    #[test]
    fn while_changes_keep_coming_cards_stay_until_the_tick_puts_them_in_order() {
        let mut v = CatalogView::default();
        change(&mut v, Action::Created, "1", "a", 1_000.0);
        change(&mut v, Action::Created, "2", "c", 1_000.0);
        change(&mut v, Action::Created, "3", "e", 1_000.0);
        assert_eq!(names(&v, SortBy::Name), ["a", "c", "e"], "new cards in their places");
        // Renamed within the second: drawn where it was, with its new name.
        change(&mut v, Action::Updated, "1", "x", 1_100.0);
        assert_eq!(names(&v, SortBy::Name), ["x", "c", "e"]);
        // A new card goes to its place among those that stay; a deleted one lingers in place.
        change(&mut v, Action::Created, "4", "d", 1_200.0);
        change(&mut v, Action::Deleted, "2", "c", 1_300.0);
        assert_eq!(names(&v, SortBy::Name), ["x", "c", "d", "e"]);
        // Newest first: a new card on top, a changed one where it was.
        change(&mut v, Action::Updated, "3", "e2", 1_400.0);
        assert_eq!(names(&v, SortBy::Newest), ["d", "x", "c", "e2"]);
        // The tick: everything in order, by every sort.
        assert!(v.put_in_order(1_500.0));
        assert_eq!(names(&v, SortBy::Name), ["c", "d", "e2", "x"]);
        assert_eq!(names(&v, SortBy::Newest), ["e2", "c", "d", "x"]);
        assert!(!v.put_in_order(2_500.0), "in order already");
        // More than a second after: at once again; 100 ms after that: kept, until the tick.
        change(&mut v, Action::Updated, "4", "a", 2_600.0);
        assert_eq!(names(&v, SortBy::Name), ["a", "c", "e2", "x"]);
        change(&mut v, Action::Updated, "4", "z", 2_700.0);
        assert_eq!(names(&v, SortBy::Name), ["z", "c", "e2", "x"]);
        assert!(v.put_in_order(3_500.0));
        assert_eq!(names(&v, SortBy::Name), ["c", "e2", "x", "z"]);
    }

    #[test]
    fn a_change_exactly_a_second_after_the_order_is_put_in_its_place() {
        let at = |later: f64| {
            let mut v = CatalogView::default();
            change(&mut v, Action::Created, "1", "a", 0.0);
            change(&mut v, Action::Created, "2", "b", 0.0);
            change(&mut v, Action::Updated, "1", "c", later);
            names(&v, SortBy::Name)
        };
        assert_eq!(at(SETTLE_MS - 1.0), ["c", "b"], "a millisecond before: kept in place");
        assert_eq!(at(SETTLE_MS), ["b", "c"], "at the bound: in order at once");
    }

    #[test]
    fn an_item_changed_twice_in_one_millisecond_is_put_in_order_by_its_last_name() {
        let mut v = CatalogView::default();
        change(&mut v, Action::Created, "1", "a", 0.0);
        change(&mut v, Action::Created, "2", "b", 0.0);
        change(&mut v, Action::Updated, "1", "x", 100.0);
        change(&mut v, Action::Updated, "1", "c", 100.0);
        assert_eq!(names(&v, SortBy::Name), ["c", "b"], "kept in place");
        assert!(v.put_in_order(1_000.0));
        assert_eq!(names(&v, SortBy::Name), ["b", "c"]);
    }

    #[test]
    fn a_resync_puts_the_cards_in_order() {
        let mut v = CatalogView::default();
        change(&mut v, Action::Created, "1", "a", 0.0);
        change(&mut v, Action::Created, "2", "b", 0.0);
        change(&mut v, Action::Updated, "1", "c", 10.0);
        assert_eq!(names(&v, SortBy::Name), ["c", "b"]);
        let entries = v.entries();
        v.replace(entries, 20.0);
        assert_eq!(names(&v, SortBy::Name), ["b", "c"]);
        assert!(!v.put_in_order(1_000.0));
    }

    #[test]
    fn an_update_changes_one_cards_version_only() {
        let mut v = CatalogView::default();
        v.apply(&note(Action::Created, "a", "A"), 0.0);
        v.apply(&note(Action::Created, "b", "B"), 0.0);
        let before = v.cards();
        let (_, changes) = v.apply(&note(Action::Updated, "b", "B2"), 1.0);
        assert_eq!(changes.iter().map(|c| c.key).collect::<Vec<_>>(), ["nombre"]);
        let after = v.cards();
        assert_eq!(after[1].changed_fields, ["nombre"]);
        assert_eq!(before[0].version, after[0].version);
        assert_ne!(before[1].version, after[1].version);
        assert_eq!(after[1].furniture.nombre().as_deref(), Some("B2"));
    }

    #[test]
    fn deleted_items_linger_greyed_then_go() {
        let mut v = CatalogView::new(Catalog::default(), 1000.0);
        v.apply(&note(Action::Created, "a", "A"), 0.0);
        v.apply(&note(Action::Deleted, "a", "A"), 100.0);
        assert_eq!(v.len(), 0);
        let cards = v.cards();
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0].deleted_ms, Some(100.0));
        assert!(!v.has_expired(1099.0));
        assert!(!v.prune(1099.0));
        assert!(v.has_expired(1100.0));
        assert!(v.prune(1100.0));
        assert!(v.cards().is_empty());
    }

    #[test]
    fn recreating_a_lingering_item_revives_it() {
        let mut v = CatalogView::default();
        v.apply(&note(Action::Created, "a", "A"), 0.0);
        v.apply(&note(Action::Deleted, "a", "A"), 1.0);
        v.apply(&note(Action::Created, "a", "A again"), 2.0);
        let cards = v.cards();
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0].deleted_ms, None);
    }

    #[test]
    fn a_resync_replaces_items_and_keeps_unchanged_cards() {
        let mut v = CatalogView::default();
        v.apply(&note(Action::Created, "a", "A"), 0.0);
        v.apply(&note(Action::Created, "b", "B"), 0.0);
        let a_version = v.cards()[0].version;
        let entry = |id: &str, n: &str| CatalogEntry { furniture: Arc::new(Furniture::new(id, n, "", 1, 1, "m", "u")), seq: None, timestamp: Timestamp::parse("1970-01-01T00:00:01Z") };
        v.replace(vec![entry("a", "A"), entry("c", "C")], 5000.0);
        let cards = v.cards();
        let ids: Vec<_> = cards.iter().map(|c| (c.id.as_str(), c.deleted_ms.is_some())).collect();
        assert_eq!(ids, [("a", false), ("b", true), ("c", false)]);
        assert_eq!(cards[0].version, a_version);
        assert_eq!(cards[2].changed_ms, 1000.0, "the broker's time of the change");
        assert_eq!(v.len(), 2);
    }

    /// A page's first catalog: a card's last action is what the history given with it last says
    /// of its item (an update, a creation), and a creation where it says nothing.
    #[test]
    fn a_first_catalog_takes_each_cards_last_action_from_the_history() {
        let mut v = CatalogView::default();
        let entry = |id: &str| CatalogEntry { furniture: Arc::new(Furniture::new(id, "Mesa", "", 1, 1, "m", "u")), seq: None, timestamp: None };
        let history = [note(Action::Created, "a", "Mesa"), note(Action::Created, "b", "Mesa"), note(Action::Updated, "b", "Mesa"), note(Action::Deleted, "z", "Mesa"), note(Action::Updated, "c", "Mesa")];
        v.replace(vec![entry("a"), entry("b"), entry("c"), entry("d")], 0.0);
        v.tell_last_actions(&history);
        let actions: Vec<_> = v.cards().into_iter().map(|c| (c.id, c.last_action)).collect();
        let want = [("a", Action::Created), ("b", Action::Updated), ("c", Action::Updated), ("d", Action::Created)];
        assert_eq!(actions, want.map(|(id, a)| (id.to_owned(), a)));
    }

    #[test]
    fn sorting_grouping_and_counts() {
        let mut v = CatalogView::default();
        let mk = |id: &str, n: &str, w: i64, h: i64, m: &str| Notification {
            action: Action::Created,
            furniture: Furniture::new(id, n, "", h, w, m, "u"),
            message: String::new(),
            timestamp: None,
            seq: None,
        };
        v.apply(&mk("1", "b", 100, 100, "roble"), 3.0);
        v.apply(&mk("2", "a", 50, 50, "Pino"), 1.0);
        v.apply(&mk("3", "c", 200, 100, "roble"), 2.0);
        let ids = |cards: Vec<Card>| cards.into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(v.cards_by(SortBy::Name)), ["2", "1", "3"]);
        assert_eq!(ids(v.cards_by(SortBy::Newest)), ["1", "3", "2"]);
        assert_eq!(ids(v.cards_by(SortBy::Size)), ["3", "1", "2"]);
        assert_eq!(v.material_counts(), [("roble".to_owned(), 2), ("Pino".to_owned(), 1)]);
        let shape = |by_material| v.tiles(SortBy::Newest, by_material, 0..usize::MAX).into_iter().map(|t| (t.card.id, t.group)).collect::<Vec<_>>();
        let group = |m: &str, n| Some((m.to_owned(), n));
        assert_eq!(shape(true), [("2".to_owned(), group("Pino", 1)), ("1".to_owned(), group("roble", 2)), ("3".to_owned(), None)], "groups A to Z, cards in order inside");
        assert_eq!(shape(false), [("1".to_owned(), None), ("3".to_owned(), None), ("2".to_owned(), None)]);
        assert_eq!(SortBy::parse("size"), Some(SortBy::Size));
        assert_eq!(SortBy::parse("x"), None);
        // A blank or missing material counts as a dash; a number as its text.
        v.apply(&mk("4", "d", 1, 1, "  "), 4.0);
        let mut odd = mk("5", "e", 1, 1, "x");
        odd.furniture.0.remove("material");
        v.apply(&odd, 5.0);
        let mut numeric = mk("6", "f", 1, 1, "x");
        numeric.furniture.0.insert("material".into(), serde_json::json!(7));
        v.apply(&numeric, 6.0);
        let counts = v.material_counts();
        assert_eq!(counts, [("roble".to_owned(), 2), ("—".to_owned(), 2), ("7".to_owned(), 1), ("Pino".to_owned(), 1)]);
        // Deleted items are not counted.
        v.apply(&Notification { action: Action::Deleted, ..mk("1", "b", 100, 100, "roble") }, 7.0);
        assert_eq!(v.material_counts()[0], ("—".to_owned(), 2));
        let roble: Vec<_> = v.tiles(SortBy::Newest, true, 0..usize::MAX).into_iter().map(|t| (t.card.id, t.group)).filter(|(id, _)| id == "1" || id == "3").collect();
        assert_eq!(roble, [("1".to_owned(), group("roble", 1)), ("3".to_owned(), None)], "the deleted card shown, not counted");
        // A material changed: the card goes to its new group, `pino` and `Pino` being one.
        v.apply(&Notification { action: Action::Updated, ..mk("3", "c", 200, 100, "pino") }, 8.0);
        let pino: Vec<_> = v.tiles(SortBy::Newest, true, 0..usize::MAX).into_iter().map(|t| (t.card.id, t.group)).filter(|(id, _)| id == "3" || id == "2").collect();
        assert_eq!(pino, [("3".to_owned(), group("pino", 2)), ("2".to_owned(), None)]);
    }

    /// A page of cards is the start of the whole order, lingering deleted cards included, grouped
    /// or not, and a group's heading counts the same on a page as in the whole.
    #[test]
    fn a_page_of_cards_is_the_start_of_the_order() {
        let mut v = CatalogView::default();
        for i in 0..30u64 {
            let mut n = note(Action::Created, &format!("{i}"), &format!("Mesa {}", i * 7 % 30));
            n.seq = Some(i + 1);
            n.furniture.0.insert("material".into(), ["roble", "Haya", "haya", "pino"][i as usize % 4].into());
            v.apply(&n, i as f64);
        }
        for i in [3u64, 17, 29] {
            let mut n = note(Action::Deleted, &format!("{i}"), "");
            n.seq = Some(100 + i);
            v.apply(&n, 50.0);
        }
        let ids = |tiles: Vec<Tile>| tiles.into_iter().map(|t| (t.card.id, t.card.deleted_ms.is_some(), t.group)).collect::<Vec<_>>();
        for (sort, by_material) in SortBy::ALL.into_iter().flat_map(|s| [(s, false), (s, true)]) {
            let all = ids(v.tiles(sort, by_material, 0..usize::MAX));
            assert_eq!(all.len(), 30, "the deleted still shown");
            assert_eq!(all.iter().filter(|c| c.1).count(), 3);
            if by_material {
                let heads: Vec<_> = all.iter().filter_map(|t| t.2.clone()).collect();
                assert_eq!(heads.iter().map(|h| h.1).sum::<usize>(), 27, "{heads:?}");
            }
            for limit in [0, 1, 10, 29, 30, 31] {
                assert_eq!(ids(v.tiles(sort, by_material, 0..limit)), all[..limit.min(30)], "{sort:?}, {by_material}, {limit}");
            }
            // A later part (a wall's next hundred) is that part of the whole, its first card
            // under its group's heading, counted whole, when the group began before it.
            for (from, to) in [(10, 20), (29, 40), (30, 40), (31, 40)] {
                let part = ids(v.tiles(sort, by_material, from..to));
                let mut whole = all[from.min(30)..to.min(30)].to_vec();
                if let Some(first) = whole.first_mut().filter(|_| by_material) {
                    // Groups are runs of the order, each begun by its heading.
                    first.2 = all[..=from].iter().rev().find_map(|t| t.2.clone());
                }
                assert_eq!(part, whole, "{sort:?}, {by_material}, {from}..{to}");
            }
        }
    }

    #[test]
    fn cards_sort_by_name() {
        let mut v = CatalogView::default();
        for (id, n) in [("1", "silla"), ("2", "Armario"), ("3", "mesa")] {
            v.apply(&note(Action::Created, id, n), 0.0);
        }
        let names: Vec<_> = v.cards().iter().map(|c| c.furniture.nombre().unwrap()).collect();
        assert_eq!(names, ["Armario", "mesa", "silla"]);
    }
}
