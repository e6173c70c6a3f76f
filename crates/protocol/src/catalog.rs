//! The catalog reducer: the current items, kept by applying notifications in order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::frame::Notification;
use crate::message::Action;
use crate::record::Furniture;
use crate::time::Timestamp;

/// Default cap on the number of items (a real catalog holds far fewer).
pub const DEFAULT_MAX_ITEMS: usize = 100_000;

/// Deleted ids remembered, so that a late update (one numbered before the deletion) does not
/// bring an item back.
pub const MAX_TOMBSTONES: usize = 10_000;

/// One item of the catalog, with the change that last touched it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// Shared rather than owned: a screen keeps the record for its card too (one copy, not two).
    pub furniture: Arc<Furniture>,
    /// `seq` of the last notification applied to it, when the broker numbers them.
    pub seq: Option<u64>,
    /// When that notification was broadcast.
    pub timestamp: Option<Timestamp>,
}

/// What [`Catalog::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A new item, under this id.
    Inserted(String),
    /// An existing item replaced.
    Updated(String),
    /// An item removed.
    Removed(String),
    /// Nothing changed.
    Skipped(Skip),
}

/// Why a notification left the catalog unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The record has no usable `furniture_id`.
    NoId,
    /// A delete of an item that is not in the catalog.
    NotPresent,
    /// The item (or its deletion) already reflects a later change, by `seq` or else timestamp.
    Stale,
    /// An update of a deleted item with nothing to show it is newer than the delete.
    Deleted,
    /// The catalog is at its cap; the new item was not added.
    Full,
}

/// When a change happened, for ordering: `seq` when both sides have one; when neither has (the
/// Python broker), the order they arrive in, which is the broker's; else the timestamp.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Order {
    seq: Option<u64>,
    timestamp: Option<Timestamp>,
}

impl Order {
    /// True when `self` is known to be no newer than `other`.
    fn not_newer_than(self, other: Order) -> bool {
        match (self.seq, other.seq, self.timestamp, other.timestamp) {
            (Some(a), Some(b), _, _) => a <= b,
            // Both from a broker that numbers nothing: it sends changes in its order, one
            // connection each, which its timestamps contradict after its clock is set back.
            (None, None, _, _) => false,
            (_, _, Some(a), Some(b)) => a <= b,
            _ => false,
        }
    }

    /// True when `self` is known to be newer than `other` (asked only of an update of a
    /// deleted item).
    fn newer_than(self, other: Order) -> bool {
        match (self.seq, other.seq, self.timestamp, other.timestamp) {
            (Some(a), Some(b), _, _) => a > b,
            // Neither numbered: the catalog's API cannot update a deleted item, so an update
            // that comes after the deletion is an older one that came late (the producer opens
            // a connection per change, and two can overtake each other).
            (None, None, _, _) => false,
            (_, _, Some(a), Some(b)) => a > b,
            _ => false,
        }
    }
}

/// The catalog: items keyed by `furniture_id`, bounded by `max_items`, with a bounded memory of
/// deletions so that a late update never resurrects a deleted item (changes that neither side
/// numbers are taken in the order they come, but an update after the deletion is a late one:
/// only a create brings the item back).
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    items: BTreeMap<String, CatalogEntry>,
    max_items: usize,
    tombstones: HashMap<String, Order>,
    tombstone_order: VecDeque<String>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::with_max_items(DEFAULT_MAX_ITEMS)
    }
}

impl Catalog {
    /// An empty catalog holding at most `max_items` items.
    pub fn with_max_items(max_items: usize) -> Self {
        Catalog { items: BTreeMap::new(), max_items, tombstones: HashMap::new(), tombstone_order: VecDeque::new() }
    }

    fn bury(&mut self, id: String, order: Order) {
        if self.tombstones.insert(id.clone(), order).is_none() {
            self.tombstone_order.push_back(id);
            while self.tombstone_order.len() > MAX_TOMBSTONES {
                if let Some(old) = self.tombstone_order.pop_front() {
                    self.tombstones.remove(&old);
                }
            }
        }
    }

    /// Created and updated insert or replace the item by `furniture_id`; deleted removes it.
    /// A change older than the item's last one (by `seq`, else by timestamp; when neither is
    /// numbered, none is) is skipped, and so is an update of a deleted item unless it is known
    /// to be newer than the delete (when neither is numbered it is not: see `Order::newer_than`).
    pub fn apply(&mut self, n: &Notification) -> Applied {
        let Some(id) = n.furniture.id() else { return Applied::Skipped(Skip::NoId) };
        let order = Order { seq: n.seq, timestamp: n.timestamp };
        if let Some(e) = self.items.get(&id) {
            if order.not_newer_than(Order { seq: e.seq, timestamp: e.timestamp }) {
                return Applied::Skipped(Skip::Stale);
            }
        } else if let Some(&grave) = self.tombstones.get(&id) {
            match n.action {
                _ if order.not_newer_than(grave) => return Applied::Skipped(Skip::Stale),
                Action::Updated if !order.newer_than(grave) => return Applied::Skipped(Skip::Deleted),
                _ => {}
            }
        }
        match n.action {
            Action::Deleted => {
                self.bury(id.clone(), order);
                match self.items.remove(&id) {
                    Some(_) => Applied::Removed(id),
                    None => Applied::Skipped(Skip::NotPresent),
                }
            }
            Action::Created | Action::Updated => {
                let entry =
                    CatalogEntry { furniture: Arc::new(n.furniture.clone()), seq: n.seq, timestamp: n.timestamp };
                if let Some(slot) = self.items.get_mut(&id) {
                    *slot = entry;
                    Applied::Updated(id)
                } else if self.items.len() >= self.max_items {
                    Applied::Skipped(Skip::Full)
                } else {
                    if self.tombstones.remove(&id).is_some() {
                        self.tombstone_order.retain(|t| t != &id);
                    }
                    self.items.insert(id.clone(), entry);
                    Applied::Inserted(id)
                }
            }
        }
    }

    /// Replaces the whole catalog (a sync reply), keeping at most `max_items`, and gives back
    /// the items it held (in id order), for a caller that compares the two. The broker's catalog
    /// is the truth: remembered deletions are dropped.
    pub fn replace(&mut self, entries: impl IntoIterator<Item = CatalogEntry>) -> BTreeMap<String, CatalogEntry> {
        let previous = std::mem::take(&mut self.items);
        self.tombstones.clear();
        self.tombstone_order.clear();
        for e in entries {
            if self.items.len() >= self.max_items {
                break;
            }
            if let Some(id) = e.furniture.id() {
                self.items.insert(id, e);
            }
        }
        previous
    }

    /// Puts back an item as it was before an [`Catalog::apply`] that must be undone (the broker
    /// does this when it could not write the change to disk). `previous` is what
    /// [`Catalog::get`] returned before; a deletion remembered since is forgotten.
    pub fn restore(&mut self, id: &str, previous: Option<CatalogEntry>) {
        match previous {
            Some(entry) => {
                self.items.insert(id.to_owned(), entry);
                if self.tombstones.remove(id).is_some() {
                    self.tombstone_order.retain(|t| t != id);
                }
            }
            None => {
                self.items.remove(id);
            }
        }
    }

    /// The item with this id.
    pub fn get(&self, id: &str) -> Option<&CatalogEntry> {
        self.items.get(id)
    }

    /// Items in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &CatalogEntry)> {
        self.items.iter()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(action: Action, id: &str, nombre: &str, seq: Option<u64>) -> Notification {
        Notification {
            action,
            furniture: Furniture::new(id, nombre, "", 75, 120, "roble", "Ana"),
            message: String::new(),
            timestamp: None,
            seq,
        }
    }

    #[test]
    fn created_and_updated_upsert_and_deleted_removes() {
        let mut c = Catalog::default();
        assert_eq!(c.apply(&note(Action::Created, "a", "Mesa", None)), Applied::Inserted("a".into()));
        assert_eq!(c.apply(&note(Action::Updated, "a", "Mesa XL", None)), Applied::Updated("a".into()));
        assert_eq!(c.get("a").unwrap().furniture.nombre().as_deref(), Some("Mesa XL"));
        assert_eq!(c.apply(&note(Action::Updated, "b", "Silla", None)), Applied::Inserted("b".into()));
        assert_eq!(c.apply(&note(Action::Created, "b", "Silla 2", None)), Applied::Updated("b".into()));
        assert_eq!(c.apply(&note(Action::Deleted, "a", "Mesa XL", None)), Applied::Removed("a".into()));
        assert_eq!(c.apply(&note(Action::Deleted, "a", "Mesa XL", None)), Applied::Skipped(Skip::NotPresent));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_replaced_catalog_gives_back_what_it_held_and_forgets_its_deletions() {
        let mut c = Catalog::default();
        c.apply(&note(Action::Created, "b", "Silla", Some(1)));
        c.apply(&note(Action::Created, "a", "Mesa", Some(2)));
        c.apply(&note(Action::Deleted, "z", "Sofá", Some(3)));
        let entry = |id: &str, nombre: &str| CatalogEntry {
            furniture: Arc::new(Furniture::new(id, nombre, "", 75, 120, "roble", "Ana")),
            seq: Some(9),
            timestamp: None,
        };
        let previous = c.replace(vec![entry("c", "Cama"), entry("a", "Mesa XL")]);
        let names: Vec<(&str, Option<String>)> = previous.iter().map(|(id, e)| (id.as_str(), e.furniture.nombre())).collect();
        assert_eq!(names, [("a", Some("Mesa".into())), ("b", Some("Silla".into()))]);
        assert_eq!(c.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(c.get("a").unwrap().furniture.nombre().as_deref(), Some("Mesa XL"));
        // The deletion of "z" was forgotten: an update of it is taken in again.
        assert_eq!(c.apply(&note(Action::Updated, "z", "Sofá", Some(1))), Applied::Inserted("z".into()));
    }

    #[test]
    fn records_without_an_id_are_skipped() {
        let mut c = Catalog::default();
        let mut n = note(Action::Created, "a", "Mesa", None);
        n.furniture.0.remove("furniture_id");
        assert_eq!(c.apply(&n), Applied::Skipped(Skip::NoId));
        assert!(c.is_empty());
    }

    #[test]
    fn an_older_seq_never_overwrites_a_newer_one() {
        let mut c = Catalog::default();
        c.apply(&note(Action::Created, "a", "nuevo", Some(5)));
        assert_eq!(c.apply(&note(Action::Updated, "a", "viejo", Some(4))), Applied::Skipped(Skip::Stale));
        assert_eq!(c.apply(&note(Action::Deleted, "a", "viejo", Some(5))), Applied::Skipped(Skip::Stale));
        assert_eq!(c.get("a").unwrap().furniture.nombre().as_deref(), Some("nuevo"));
    }

    #[test]
    fn a_late_update_never_resurrects_a_deleted_item() {
        let mut c = Catalog::default();
        c.apply(&note(Action::Created, "a", "x", Some(1)));
        c.apply(&note(Action::Deleted, "a", "x", Some(3)));
        assert_eq!(c.apply(&note(Action::Updated, "a", "late", Some(2))), Applied::Skipped(Skip::Stale));
        // Without any ordering, an update of a deleted item is not trusted either.
        assert_eq!(c.apply(&note(Action::Updated, "a", "unordered", None)), Applied::Skipped(Skip::Deleted));
        assert!(c.get("a").is_none());
        // A newer update, or a new create, brings it back.
        assert_eq!(c.apply(&note(Action::Created, "a", "again", None)), Applied::Inserted("a".into()));
    }

    /// Without `seq` on either side (the Python broker) the order of arrival, the broker's,
    /// decides: a change stamped earlier than the one before it (the broker's clock set back)
    /// is still the newer. Against an item that has a `seq` (a catalog synced from our broker),
    /// timestamps decide.
    #[test]
    fn without_seq_the_order_of_arrival_decides() {
        let at = |s: &str| Timestamp::parse(s);
        let mut c = Catalog::default();
        let mut first = note(Action::Updated, "a", "first", None);
        first.timestamp = at("2024-01-15T14:30:05Z");
        let mut after_clock_set_back = note(Action::Updated, "a", "second", None);
        after_clock_set_back.timestamp = at("2024-01-15T14:30:01Z");
        c.apply(&first);
        assert_eq!(c.apply(&after_clock_set_back), Applied::Updated("a".into()));
        assert_eq!(c.get("a").unwrap().furniture.nombre().as_deref(), Some("second"));

        let mut synced = note(Action::Updated, "b", "synced", Some(9));
        synced.timestamp = at("2024-01-15T14:30:05Z");
        c.apply(&synced);
        let mut older = note(Action::Updated, "b", "older", None);
        older.timestamp = at("2024-01-15T14:30:01Z");
        assert_eq!(c.apply(&older), Applied::Skipped(Skip::Stale), "against a numbered item, by timestamp");

        // An update that comes after the deletion of its item is a late one, whatever their
        // timestamps say (the API cannot update a deleted item); a create brings it back.
        let mut deleted = note(Action::Deleted, "a", "second", None);
        deleted.timestamp = at("2024-01-15T14:30:02Z");
        c.apply(&deleted);
        let mut update = note(Action::Updated, "a", "third", None);
        update.timestamp = at("2024-01-15T14:30:09Z");
        assert_eq!(c.apply(&update), Applied::Skipped(Skip::Deleted));
        let mut created = note(Action::Created, "a", "again", None);
        created.timestamp = at("2024-01-15T14:30:00Z");
        assert_eq!(c.apply(&created), Applied::Inserted("a".into()));
    }

    #[test]
    fn tombstones_are_bounded() {
        let mut c = Catalog::default();
        for i in 0..(MAX_TOMBSTONES + 10) {
            c.apply(&note(Action::Deleted, &i.to_string(), "x", None));
        }
        assert_eq!(c.tombstones.len(), MAX_TOMBSTONES);
        assert_eq!(c.tombstone_order.len(), MAX_TOMBSTONES);
        assert!(!c.tombstones.contains_key("0"), "the oldest went first");
    }

    #[test]
    fn the_cap_refuses_new_items_but_still_updates_existing_ones() {
        let mut c = Catalog::with_max_items(2);
        c.apply(&note(Action::Created, "a", "1", None));
        c.apply(&note(Action::Created, "b", "2", None));
        assert_eq!(c.apply(&note(Action::Created, "c", "3", None)), Applied::Skipped(Skip::Full));
        assert_eq!(c.apply(&note(Action::Updated, "b", "2b", None)), Applied::Updated("b".into()));
        assert_eq!(c.len(), 2);
    }
}
