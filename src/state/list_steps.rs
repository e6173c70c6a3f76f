//! How a keyed list goes from the rows on screen to the next list without moving rows that stay.
//!
//! Leptos's keyed list (tachys 0.2) takes rows out of the page and puts them back, though they
//! need not move, when rows are added at the same change as others shift: with four
//! notifications in a frame, the feed took out and put back the three rows below the new ones,
//! and the catalog a card at its end for each change, every one of them then styled and laid out
//! again by the browser. A change that only removes rows, or adds one, or adds rows after every
//! kept one, moves nothing. So [`steps`] plans the lists to draw on the way (`components::rows`
//! draws them).

use std::collections::HashSet;

/// Steps past more than this many added rows are not worth their cost: the list is then
/// redrawn in one step, which may move some rows in the page but ends the same.
pub const MAX_STEPS: usize = 32;

/// The keys of a list's rows (hashes), in order and unique, with the set of them.
#[derive(Debug, Default)]
pub struct Keys {
    order: Vec<u64>,
    set: HashSet<u64>,
}

impl Keys {
    /// Adds `key` at the end, or, when the list has it already, the first value after it that
    /// it has not (the keyed list needs unique keys); returns the key added.
    pub fn push_unique(&mut self, mut key: u64) -> u64 {
        while !self.set.insert(key) {
            key = key.wrapping_add(1);
        }
        self.order.push(key);
        key
    }

    pub fn as_slice(&self) -> &[u64] {
        &self.order
    }
}

impl FromIterator<u64> for Keys {
    fn from_iter<I: IntoIterator<Item = u64>>(keys: I) -> Keys {
        let mut list = Keys::default();
        for k in keys {
            list.push_unique(k);
        }
        list
    }
}

/// The lists to draw, one after another, before the list `new` when the list `old` is on screen:
/// each as positions in `new`. When the kept rows stay in their order, the removals come first,
/// then each row added above the last kept one on its own; rows added after it come with `new`
/// itself. Empty when `new` alone moves nothing, or must move rows.
pub fn steps(old: &Keys, new: &Keys) -> Vec<Vec<usize>> {
    let (old_set, old, new_set, new) = (&old.set, &old.order, &new.set, &new.order);
    let kept: Vec<bool> = new.iter().map(|h| old_set.contains(h)).collect();
    // Kept rows in another order: the keyed list's own moves are needed.
    if !old.iter().filter(|h| new_set.contains(h)).eq(new.iter().zip(&kept).filter(|(_, k)| **k).map(|(h, _)| h)) {
        return Vec::new();
    }
    let Some(last_kept) = kept.iter().rposition(|k| *k) else { return Vec::new() };
    let added_inside = (0..last_kept).filter(|i| !kept[*i]).count();
    let kept_count = kept.iter().filter(|k| **k).count();
    if added_inside == 0 || added_inside > MAX_STEPS {
        return Vec::new();
    }
    let mut on = kept;
    let list = |on: &[bool]| (0..on.len()).filter(|i| on[*i]).collect::<Vec<_>>();
    let mut plan = Vec::with_capacity(added_inside + 1);
    if kept_count < old.len() {
        plan.push(list(&on));
    }
    for i in 0..last_kept {
        if !on[i] {
            on[i] = true;
            plan.push(list(&on));
        }
    }
    plan.pop(); // the last of them: drawn by the final list with the trailing rows
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(old: &[u64], new: &[u64]) -> Vec<Vec<usize>> {
        super::steps(&old.iter().copied().collect(), &new.iter().copied().collect())
    }

    #[test]
    fn keys_are_made_unique_in_order() {
        let mut keys = Keys::default();
        assert_eq!([5, 7, 5, 5, 6].map(|k| keys.push_unique(k)), [5, 7, 6, 8, 9]);
        assert_eq!(keys.as_slice(), [5, 7, 6, 8, 9]);
        let wrapped: Keys = [u64::MAX, u64::MAX].into_iter().collect();
        assert_eq!(wrapped.as_slice(), [u64::MAX, 0]);
    }

    #[test]
    fn new_rows_above_kept_ones_come_one_at_a_time() {
        // The feed: four new rows on top of 1, 2, 3; the oldest (4) goes.
        let plan = steps(&[1, 2, 3, 4], &[10, 11, 12, 13, 1, 2, 3]);
        assert_eq!(plan, [vec![4, 5, 6], vec![0, 4, 5, 6], vec![0, 1, 4, 5, 6], vec![0, 1, 2, 4, 5, 6]]);
    }

    #[test]
    fn removals_first_then_rows_inside_then_the_trailing_ones_together() {
        // The catalog: 1 renamed to the end (a new key there), 3 changed in place, 9 new.
        let plan = steps(&[1, 2, 3, 4, 5], &[2, 30, 9, 4, 5, 10]);
        assert_eq!(plan, [vec![0, 3, 4], vec![0, 1, 3, 4]], "then 9 and 10 in the last list");
    }

    #[test]
    fn one_list_when_it_moves_nothing_or_must_move_rows() {
        assert!(steps(&[], &[1, 2]).is_empty(), "a first drawing");
        assert!(steps(&[1, 2, 3], &[1, 3]).is_empty(), "only removals");
        assert!(steps(&[1, 2], &[1, 2, 3, 4]).is_empty(), "rows added after every kept one");
        assert!(steps(&[1, 2], &[1, 5, 2]).is_empty(), "one row added");
        assert!(steps(&[1, 2], &[3, 4]).is_empty(), "nothing kept");
        assert!(steps(&[1, 2, 3], &[3, 9, 1, 2]).is_empty(), "kept rows reordered (another sort)");
        let many: Vec<u64> = (100..100 + MAX_STEPS as u64 + 1).chain([1]).collect();
        assert!(steps(&[1], &many).is_empty(), "more rows added above the kept ones than MAX_STEPS");
        let most: Vec<u64> = (100..100 + MAX_STEPS as u64).chain([1]).collect();
        assert_eq!(steps(&[1], &most).len(), MAX_STEPS - 1, "up to MAX_STEPS");
    }
}
