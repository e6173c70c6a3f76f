//! The catalog reducer: the current items, kept by applying notifications in order.

use std::collections::BTreeMap;

use crate::frame::Notification;
use crate::message::Action;
use crate::record::Furniture;
use crate::time::Timestamp;

/// Default cap on the number of items (a real catalog holds far fewer).
pub const DEFAULT_MAX_ITEMS: usize = 100_000;

/// One item of the catalog, with the change that last touched it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    pub furniture: Furniture,
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
    /// The item already reflects a later `seq`.
    Stale,
    /// The catalog is at its cap; the new item was not added.
    Full,
}

/// The catalog: items keyed by `furniture_id`, bounded by `max_items`.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    items: BTreeMap<String, CatalogEntry>,
    max_items: usize,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::with_max_items(DEFAULT_MAX_ITEMS)
    }
}

impl Catalog {
    /// An empty catalog holding at most `max_items` items.
    pub fn with_max_items(max_items: usize) -> Self {
        Catalog { items: BTreeMap::new(), max_items }
    }

    /// Created and updated insert or replace the item by `furniture_id`; deleted removes it.
    /// A notification older (by `seq`) than the item's last change is skipped.
    pub fn apply(&mut self, n: &Notification) -> Applied {
        let Some(id) = n.furniture.id() else { return Applied::Skipped(Skip::NoId) };
        if let (Some(existing), Some(seq)) = (self.items.get(&id).and_then(|e| e.seq), n.seq) {
            if seq <= existing {
                return Applied::Skipped(Skip::Stale);
            }
        }
        match n.action {
            Action::Deleted => match self.items.remove(&id) {
                Some(_) => Applied::Removed(id),
                None => Applied::Skipped(Skip::NotPresent),
            },
            Action::Created | Action::Updated => {
                let entry =
                    CatalogEntry { furniture: n.furniture.clone(), seq: n.seq, timestamp: n.timestamp };
                if let Some(slot) = self.items.get_mut(&id) {
                    *slot = entry;
                    Applied::Updated(id)
                } else if self.items.len() >= self.max_items {
                    Applied::Skipped(Skip::Full)
                } else {
                    self.items.insert(id.clone(), entry);
                    Applied::Inserted(id)
                }
            }
        }
    }

    /// Replaces the whole catalog (a sync reply), keeping at most `max_items`.
    pub fn replace(&mut self, entries: impl IntoIterator<Item = CatalogEntry>) {
        self.items.clear();
        for e in entries {
            if self.items.len() >= self.max_items {
                break;
            }
            if let Some(id) = e.furniture.id() {
                self.items.insert(id, e);
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
    fn the_cap_refuses_new_items_but_still_updates_existing_ones() {
        let mut c = Catalog::with_max_items(2);
        c.apply(&note(Action::Created, "a", "1", None));
        c.apply(&note(Action::Created, "b", "2", None));
        assert_eq!(c.apply(&note(Action::Created, "c", "3", None)), Applied::Skipped(Skip::Full));
        assert_eq!(c.apply(&note(Action::Updated, "b", "2b", None)), Applied::Updated("b".into()));
        assert_eq!(c.len(), 2);
    }
}
