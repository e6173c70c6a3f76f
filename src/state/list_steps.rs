//! How a keyed list goes from the rows on screen to the next list without moving rows that stay.
//!
//! Leptos's keyed list (tachys 0.2) takes rows out of the page and puts them back, though they
//! need not move, when rows are added at the same change as others shift: with four
//! notifications in a frame, the feed took out and put back the three rows below the new ones,
//! and the catalog a card at its end for each change, every one of them then styled and laid out
//! again by the browser. A change that only removes rows, or adds one, or adds rows after every
//! kept one, moves nothing. So [`steps`] plans the lists to draw on the way (`components::rows`
//! draws them).

use std::collections::{HashMap, HashSet};

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

    pub fn contains(&self, key: u64) -> bool {
        self.set.contains(&key)
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

/// Where the rows of a list that keeps its rows are (`components::rows::LiveRows`): by each
/// item's key (hashed), the row's own key in the list and its place.
#[derive(Debug, Default)]
pub struct Places {
    rows: HashMap<u64, (u64, usize)>,
    /// Rows drawn so far: tells apart the successive rows of one item.
    drawn: u64,
}

impl Places {
    /// The next list, of the items whose keys are `items`: adds each row's key to `keys`, and
    /// gives for each item the place of the row it keeps, or `None` when its row is drawn anew:
    /// a new item, or one whose row would have to move, since the keyed list moves every row
    /// between a row's old and new place. Rows are kept for a largest set of items that stayed
    /// in their order ([`in_order`]); the others' rows are taken out and drawn anew in their
    /// place, which moves no other.
    pub fn next(&mut self, items: &[u64], keys: &mut Keys) -> Vec<Option<usize>> {
        let was: Vec<Option<(u64, usize)>> = items.iter().map(|k| self.rows.get(k).copied()).collect();
        let stay = in_order(&was.iter().map(|w| w.map(|(_, at)| at)).collect::<Vec<_>>());
        let mut rows = HashMap::with_capacity(items.len());
        let mut kept = Vec::with_capacity(items.len());
        for (at, ((k, was), stay)) in items.iter().zip(was).zip(stay).enumerate() {
            let was = was.filter(|(row, _)| stay && !keys.contains(*row));
            let row = match was {
                Some((row, _)) => row,
                None => {
                    // Another key for each row of the item (`k` is a keyed hash already).
                    self.drawn += 1;
                    k ^ self.drawn.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                }
            };
            rows.insert(*k, (keys.push_unique(row), at));
            kept.push(was.map(|(_, place)| place));
        }
        self.rows = rows;
        kept
    }
}

/// Which of the rows of a new list keep their order: `was` gives each row's place in the list
/// before (`None` for a new row), and the answer marks a largest set of rows that were there in
/// the same order.
pub fn in_order(was: &[Option<usize>]) -> Vec<bool> {
    // Longest increasing subsequence: `ends[k]` is the row ending the best run of length k + 1
    // found so far (the one with the lowest old place), `before[i]` the row before i in its run.
    let mut ends: Vec<usize> = Vec::new();
    let mut before = vec![usize::MAX; was.len()];
    for (i, at) in was.iter().enumerate() {
        let Some(at) = *at else { continue };
        let k = ends.partition_point(|&e| was[e].is_some_and(|e| e < at));
        if k > 0 {
            before[i] = ends[k - 1];
        }
        if k == ends.len() {
            ends.push(i);
        } else {
            ends[k] = i;
        }
    }
    let mut keep = vec![false; was.len()];
    let mut i = ends.last().copied().unwrap_or(usize::MAX);
    while i != usize::MAX {
        keep[i] = true;
        i = before[i];
    }
    keep
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

    #[test]
    fn rows_in_order_are_a_largest_set_that_kept_its_order() {
        let keep = |was: &[Option<usize>]| in_order(was).iter().enumerate().filter(|(_, k)| **k).map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(keep(&[Some(0), Some(1), Some(2)]), [0, 1, 2], "nothing moved");
        assert_eq!(keep(&[Some(1), Some(2), Some(3), Some(0)]), [0, 1, 2], "the first row moved to the end");
        assert_eq!(keep(&[Some(3), Some(0), Some(1), Some(2)]), [1, 2, 3], "the last row moved to the top");
        assert_eq!(keep(&[None, Some(0), None, Some(2), Some(1)]).len(), 2, "new rows are not kept; of 0, 2, 1 two keep their order");
        assert_eq!(keep(&[Some(2), Some(1), Some(0)]).len(), 1, "reversed: one stays");
        assert_eq!(keep(&[None, None]), Vec::<usize>::new());
        assert_eq!(keep(&[]), Vec::<usize>::new());
        // Two rows swapped among eight: the six others stay.
        assert_eq!(keep(&[Some(0), Some(1), Some(5), Some(3), Some(4), Some(2), Some(6), Some(7)]).len(), 6);
    }

    #[test]
    fn a_list_that_keeps_its_rows_draws_anew_only_new_and_moved_items() {
        let mut places = Places::default();
        let mut keys = Keys::default();
        assert_eq!(places.next(&[1, 2, 3, 4], &mut keys), [None; 4], "all new");
        let first = keys.as_slice().to_vec();
        // 2 changed in place (same key), 1 moved to the end, 9 new.
        let mut keys = Keys::default();
        assert_eq!(places.next(&[2, 3, 9, 4, 1], &mut keys), [Some(1), Some(2), None, Some(3), None]);
        let second = keys.as_slice().to_vec();
        assert_eq!(second[0], first[1], "2 keeps its row");
        assert_eq!(second[1], first[2], "3 keeps its row");
        assert_eq!(second[3], first[3], "4 keeps its row");
        assert_ne!(second[4], first[0], "1 moved: a new row, under a new key");
        assert!(!first.contains(&second[2]), "9: a new row");
        // So the rows kept are in their old order, and the keyed list moves none of them.
        let kept: Vec<usize> = second.iter().filter_map(|k| first.iter().position(|f| f == k)).collect();
        assert_eq!(kept, [1, 2, 3]);
        // A second move of 1, back to the top: drawn anew again, under yet another key.
        let mut keys = Keys::default();
        assert_eq!(places.next(&[1, 2, 3, 9, 4], &mut keys), [None, Some(0), Some(1), Some(2), Some(3)]);
        assert!(!second.contains(&keys.as_slice()[0]) && keys.as_slice()[0] != first[0]);
        // Gone items are forgotten; a duplicate key keeps one row and draws the other.
        let mut keys = Keys::default();
        let kept = places.next(&[4, 4], &mut keys);
        assert_eq!(kept.iter().flatten().collect::<Vec<_>>(), [&4], "one of the two keeps the row");
        assert_eq!(places.rows.len(), 1);
    }
}
