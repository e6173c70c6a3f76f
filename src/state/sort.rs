//! One sort for the whole page. The standard library's sort is a few kilobytes of wasm for every
//! element type and comparison it is used with (seven of them here came to 25 KB); sorting
//! positions through one comparison behind a pointer builds it once.

use std::cmp::Ordering;

/// The positions `0..n` in the order `cmp` puts them, stably.
fn order(n: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut positions: Vec<usize> = (0..n).collect();
    positions.sort_by(|a, b| cmp(*a, *b));
    positions
}

/// Sorts `v` by `cmp`, stably: what `v.sort_by(cmp)` does.
pub fn sort_by<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    // from[k]: where the item that belongs at k is now. Each cycle of that permutation is
    // walked once, swapping each item into its place.
    let mut from = order(v.len(), &|a, b| cmp(&v[a], &v[b]));
    for start in 0..from.len() {
        let mut k = start;
        while from[k] != start {
            let next = from[k];
            v.swap(k, next);
            from[k] = k;
            k = next;
        }
        from[k] = k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Native only: the wasm component-test build of this crate has no proptest.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn sorts_as_the_standard_library_does(mut v in proptest::collection::vec((0u8..8, proptest::prelude::any::<u16>()), 0..200)) {
            let mut expected = v.clone();
            expected.sort_by_key(|p| p.0);
            sort_by(&mut v, |a, b| a.0.cmp(&b.0));
            proptest::prop_assert_eq!(v, expected, "same order, equal keys kept in their order");
        }
    }

    #[test]
    fn sorts_a_three_cycle_and_short_lists() {
        let mut v = ['c', 'a', 'b'];
        sort_by(&mut v, |a, b| a.cmp(b));
        assert_eq!(v, ['a', 'b', 'c']);
        let mut one = [1];
        sort_by(&mut one, |a: &i32, b| b.cmp(a));
        assert_eq!(one, [1]);
    }
}
