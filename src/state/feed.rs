//! The feed: notifications newest first, capped, without duplicates, with gap markers where
//! changes may be missing.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use furniture_protocol::{Action, Notification};

use crate::state::diff::FieldChange;
use crate::state::format::{fold, headline, sort_key};
use crate::state::i18n::Lang;

/// Default number of entries the feed keeps.
pub const DEFAULT_FEED_CAP: usize = 500;

/// One line of the feed.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEntry {
    Change(Arc<Change>),
    /// Changes between these instants (ms since the epoch, local clock) may be missing.
    Gap { key: u64, from_ms: f64, to_ms: f64, reason: GapReason },
}

/// A line of the feed as a page saves it for the next ([`Feed::saved`], [`Feed::restore`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    /// A change as it was shown: how it came, when, and what it changed (its `key` and
    /// `generation` are the new page's to give).
    Change(Change),
    /// A gap marker: from, to, why.
    Gap(f64, f64, GapReason),
}

/// Why a gap is shown (numbered as a saved screen keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapReason {
    /// The connection was down and the broker cannot replay (the Python broker).
    Disconnected = 0,
    /// Our broker's history no longer reached back to the last change seen.
    HistoryTooShort = 1,
    /// Our broker came back with another state (a new numbering, or its numbering gone back):
    /// its catalog replaced ours, and the items it no longer has show as deleted.
    NewState = 2,
}

/// A notification as the feed shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Unique within this page, for keyed rendering.
    pub key: u64,
    pub notification: Notification,
    /// When this page received it (ms since the epoch).
    pub received_ms: f64,
    pub origin: Origin,
    /// The broker numbering (`stream`) its `seq` belongs to, counted from 0 on this page.
    pub generation: u32,
    /// For an update seen live: what it changed.
    pub changes: Vec<FieldChange>,
}

impl Change {
    /// A change to save or restore (key and generation are given when it is put in a feed).
    pub fn saved(notification: Notification, origin: Origin, received_ms: f64, changes: Vec<FieldChange>) -> Change {
        Change { key: 0, notification, received_ms, origin, generation: 0, changes }
    }
}

/// How a change reached this page (numbered as a saved screen keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// As it happened.
    Live = 0,
    /// From the broker's history when the page opened: it happened before.
    History = 1,
    /// Missed while disconnected, then replayed by the broker.
    Recovered = 2,
}

impl FeedEntry {
    pub fn key(&self) -> u64 {
        match self {
            FeedEntry::Change(c) => c.key,
            FeedEntry::Gap { key, .. } => *key,
        }
    }
}

/// The feed, newest first, holding at most `cap` entries.
#[derive(Debug, Clone)]
pub struct Feed {
    entries: VecDeque<FeedEntry>,
    cap: usize,
    next_key: u64,
    /// `seq`s of the changes held, to drop duplicates (bounded by `cap`).
    seqs: HashSet<u64>,
    /// Highest `seq` that fell off the end: anything at or below it would be a duplicate or
    /// would fall off at once.
    trimmed_below: Option<u64>,
    /// Highest `seq` seen, for the next resync.
    last_seq: Option<u64>,
    /// The `seq` the last `sync` asked the broker's history from.
    asked: u64,
    counts: [u64; 3],
    generation: u32,
    /// Changes with a key above this one arrived live since the last "mark all read".
    read_key: u64,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::with_cap(DEFAULT_FEED_CAP)
    }
}

impl Feed {
    pub fn with_cap(cap: usize) -> Feed {
        Feed { entries: VecDeque::new(), cap: cap.max(1), next_key: 1, seqs: HashSet::new(), trimmed_below: None, last_seq: None, asked: 0, counts: [0; 3], generation: 0, read_key: 0 }
    }

    /// Adds a notification at the top unless its `seq` was already seen (or is older than the
    /// oldest held). Returns true when it was added.
    pub fn push(&mut self, n: &Notification, now_ms: f64, origin: Origin) -> bool {
        self.push_with_changes(n, now_ms, origin, Vec::new()).is_some()
    }

    /// [`Feed::push`] with the fields an update changed; gives back the entry added.
    pub fn push_with_changes(&mut self, n: &Notification, now_ms: f64, origin: Origin, changes: Vec<FieldChange>) -> Option<Arc<Change>> {
        if let Some(seq) = n.seq {
            if self.seqs.contains(&seq) || self.trimmed_below.is_some_and(|t| seq <= t) {
                return None;
            }
            self.seqs.insert(seq);
            self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        }
        self.counts[Action::ALL.iter().position(|a| *a == n.action).unwrap_or(0)] += 1;
        let key = self.take_key();
        let change = Arc::new(Change { key, notification: n.clone(), received_ms: now_ms, origin, generation: self.generation, changes });
        self.insert_sorted(FeedEntry::Change(change.clone()));
        Some(change)
    }

    /// The broker's `seq` numbering started over (its `stream` changed): forget the `seq`s seen.
    /// Entries already shown stay, below anything of the new numbering.
    pub fn new_stream(&mut self) {
        self.generation += 1;
        self.seqs.clear();
        self.trimmed_below = None;
        self.last_seq = None;
    }

    /// The changes and gap markers held, oldest first, to be put into a new page's feed: the
    /// changes of an earlier numbering without their `seq`, which the new page could not tell
    /// from the current numbering's (they would hide its changes, and set the point to sync
    /// from).
    pub fn saved(&self) -> Vec<Saved> {
        self.entries
            .iter()
            .rev()
            .map(|e| match e {
                FeedEntry::Change(c) => {
                    let mut c = Change::clone(c);
                    if c.generation != self.generation {
                        c.notification.seq = None;
                    }
                    Saved::Change(c)
                }
                FeedEntry::Gap { from_ms, to_ms, reason, .. } => Saved::Gap(*from_ms, *to_ms, *reason),
            })
            .collect()
    }

    /// Puts in what a page saved ([`Feed::saved`]), each change as it came to that page (live,
    /// from the history, recovered), when, and with what it changed; and that page's counts
    /// ([`Feed::counts`]) when it gave them, else those of the changes put in; and the highest
    /// `seq` it had seen ([`Feed::last_seq`]), its catalog's when that is newer than its rows.
    pub fn restore(&mut self, saved: Vec<Saved>, counts: Option<[u64; 3]>, last_seq: Option<u64>) {
        for s in saved {
            match s {
                Saved::Change(c) => {
                    self.push_with_changes(&c.notification, c.received_ms, c.origin, c.changes);
                }
                Saved::Gap(from, to, reason) => self.push_gap(from, to, reason),
            }
        }
        if let Some(counts) = counts {
            self.counts = counts;
        }
        self.last_seq = self.last_seq.max(last_seq);
    }

    /// Adds a gap marker at the top.
    pub fn push_gap(&mut self, from_ms: f64, to_ms: f64, reason: GapReason) {
        let key = self.take_key();
        self.entries.push_front(FeedEntry::Gap { key, from_ms, to_ms, reason });
        self.trim();
    }

    /// Entries, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &FeedEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Live changes not yet marked read.
    pub fn unread(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e, FeedEntry::Change(c) if c.key > self.read_key && c.origin == Origin::Live))
            .count()
    }

    /// Marks everything so far as read.
    pub fn mark_all_read(&mut self) {
        self.read_key = self.next_key.saturating_sub(1);
    }

    /// Live changes with a key above this one are unread.
    pub fn read_key(&self) -> u64 {
        self.read_key
    }

    /// The highest `seq` seen so far.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Where a `sync` asks the broker's history from: the highest `seq` seen (0 for all of it),
    /// kept for [`Feed::synced`].
    pub fn ask_since(&mut self) -> u64 {
        self.asked = self.last_seq.unwrap_or(0);
        self.asked
    }

    /// Where the last `sync` asked from ([`Feed::ask_since`]).
    pub fn asked(&self) -> u64 {
        self.asked
    }

    /// The broker's catalog as it stood at `seq` is taken in, with the history it gave from
    /// `history_from` (its first `seq`; the history runs on to `seq` without a hole), which was
    /// `complete` or did not reach back to what was asked: everything up to `seq` is seen now (a
    /// broker run with `--history 0` gives none: asked from before `seq` again, it would say
    /// that changes were missed). Tells whether nothing was missed: the history was complete,
    /// or every change between the one asked from and the history's first came live before
    /// the reply (a broker without history hands out at once a change made between its welcome
    /// and the page's `sync`). Asked before the history is taken in: what the feed holds then
    /// is what the page saw.
    pub fn synced(&mut self, seq: u64, complete: bool, history_from: Option<u64>) -> bool {
        let to = history_from.map_or(seq, |s| s.saturating_sub(1));
        let complete = complete || to.saturating_sub(self.asked) <= self.cap as u64 && (self.asked.saturating_add(1)..=to).all(|s| self.seqs.contains(&s));
        self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        complete
    }

    /// Changes received per action since the page opened, or since the first of the pages that
    /// reloaded themselves into this one (created, updated, deleted).
    pub fn count(&self, action: Action) -> u64 {
        self.counts[Action::ALL.iter().position(|a| *a == action).unwrap_or(0)]
    }

    /// The counts of [`Feed::count`], created, updated and deleted, for the next page.
    pub fn counts(&self) -> [u64; 3] {
        self.counts
    }

    fn take_key(&mut self) -> u64 {
        let k = self.next_key;
        self.next_key += 1;
        k
    }

    /// Newest first by `seq` when both have one (replays can arrive after live changes),
    /// otherwise by arrival.
    fn insert_sorted(&mut self, entry: FeedEntry) {
        let seq_of = |e: &FeedEntry| match e {
            FeedEntry::Change(c) => c.notification.seq.map(|s| (c.generation, s)),
            FeedEntry::Gap { .. } => None,
        };
        let at = match seq_of(&entry) {
            Some(key) => self
                .entries
                .iter()
                .position(|e| seq_of(e).is_none_or(|k| k < key))
                .unwrap_or(self.entries.len()),
            None => 0,
        };
        self.entries.insert(at, entry);
        self.trim();
    }

    /// Drops the oldest entries beyond the cap. The `seq`s of a numbering that started over
    /// since are forgotten already: they neither free nor bar a `seq` of the current one.
    fn trim(&mut self) {
        while self.entries.len() > self.cap {
            if let Some(FeedEntry::Change(c)) = self.entries.pop_back() {
                if let Some(seq) = c.notification.seq.filter(|_| c.generation == self.generation) {
                    self.seqs.remove(&seq);
                    self.trimmed_below = Some(self.trimmed_below.map_or(seq, |t| t.max(seq)));
                }
            }
        }
    }
}

/// What the feed shows: by action, material, author and free text (all must match).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedFilter {
    /// Actions hidden (none hidden by default).
    pub hidden_actions: Vec<Action>,
    /// Only this material, when set (exact, case-insensitive).
    pub material: Option<String>,
    /// Only this author, when set.
    pub author: Option<String>,
    /// Text to find in the headline as shown (in the screen's language), name, description,
    /// material, author or id (case-insensitive; accents count).
    pub text: String,
}

impl FeedFilter {
    /// True when nothing is filtered out.
    pub fn is_empty(&self) -> bool {
        self.hidden_actions.is_empty() && self.material.is_none() && self.author.is_none() && self.text.trim().is_empty()
    }

    /// Gap markers always show; changes show when they match everything set, the text as the
    /// feed shows it in `lang` (in English "New item" is found, not the broker's "Nuevo mueble").
    pub fn matches(&self, entry: &FeedEntry, lang: Lang) -> bool {
        let FeedEntry::Change(c) = entry else { return true };
        let n = &c.notification;
        let f = &n.furniture;
        // Fields are read (and copied) only for a filter that asks about them: the page filters
        // every entry at every change, mostly with no filter set.
        let same = |want: &Option<String>, got: &dyn Fn() -> Option<String>| {
            want.as_ref().is_none_or(|w| got().is_some_and(|g| fold(&g) == fold(w)))
        };
        if self.hidden_actions.contains(&n.action) || !same(&self.material, &|| f.material()) || !same(&self.author, &|| f.autor()) {
            return false;
        }
        let text = self.text.trim();
        text.is_empty() || {
            let needle = fold(text);
            [Some(headline(n, lang)), f.nombre(), f.descripcion(), f.material(), f.autor(), f.id()]
                .into_iter()
                .flatten()
                .any(|hay| fold(&hay).contains(&needle))
        }
    }
}

/// The distinct non-empty values of the text field `key` across the feed, sorted (case folded),
/// for filter menus. Each value is copied once, not once per entry: this runs at every change.
pub fn distinct(feed: &Feed, key: &str) -> Vec<String> {
    let mut seen: Vec<Cow<'_, str>> = feed
        .iter()
        .filter_map(|e| match e {
            FeedEntry::Change(c) => c.notification.furniture.text_ref(key).filter(|s| !s.trim().is_empty()),
            FeedEntry::Gap { .. } => None,
        })
        .collect();
    crate::state::sort::sort_by(&mut seen, |a, b| a.cmp(b));
    seen.dedup();
    let mut keyed: Vec<(String, String)> = seen.into_iter().map(|s| (sort_key(&s), s.into_owned())).collect();
    crate::state::sort::sort_by(&mut keyed, |a, b| a.cmp(b));
    keyed.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use furniture_protocol::Furniture;

    fn note(seq: Option<u64>, id: &str) -> Notification {
        Notification {
            action: Action::Created,
            furniture: Furniture::new(id, id, "", 1, 1, "m", "u"),
            message: String::new(),
            timestamp: None,
            seq,
        }
    }

    fn ids(f: &Feed) -> Vec<String> {
        f.iter()
            .map(|e| match e {
                FeedEntry::Change(c) => c.notification.furniture.id().unwrap(),
                FeedEntry::Gap { .. } => "gap".into(),
            })
            .collect()
    }

    #[test]
    fn a_sync_asks_from_the_catalog_taken_in_and_counts_what_came_live_meanwhile() {
        let mut f = Feed::with_cap(3);
        assert_eq!(f.ask_since(), 0, "nothing seen: all of the history");
        // A catalog at seq 7 without history (a broker run with --history 0).
        assert!(!f.synced(7, false, None), "1 to 7 not seen");
        assert_eq!(f.ask_since(), 7, "from the catalog's seq, not from the feed's last change");
        assert!(f.clone().synced(7, false, None), "nothing came since");
        assert!(f.clone().synced(8, true, None), "the broker's history was whole");
        assert!(!f.clone().synced(8, false, None), "8 was not seen");
        assert!(f.clone().synced(8, false, Some(8)), "8 is in the history");
        f.push(&note(Some(8), "a"), 0.0, Origin::Live);
        assert!(f.clone().synced(8, false, None), "8 came live before the reply");
        assert!(!f.clone().synced(9, false, None));
        assert!(f.clone().synced(12, false, Some(9)), "8 live, 9 to 12 in the history");
        assert!(!f.clone().synced(12, false, Some(10)), "9 in neither");
        assert!(!f.clone().synced(u64::MAX, false, None), "a hostile seq is told at once");
        let mut last = Feed::with_cap(3);
        last.push(&note(Some(u64::MAX), "z"), 0.0, Origin::Live);
        assert_eq!(last.ask_since(), u64::MAX);
        assert!(last.synced(u64::MAX, false, None), "nothing after the last seq there is");
        // A catalog older than what was seen keeps the highest.
        f.synced(5, true, None);
        assert_eq!(f.ask_since(), 8);
        f.new_stream();
        assert_eq!(f.ask_since(), 0, "a new numbering is asked from its start");
    }

    /// A page away for long: it asked from 5, and the history reaches back only to 20, which
    /// fills the feed's bound once taken in. 6 to 19 were missed, however many of the history's
    /// rows the feed then lets go.
    #[test]
    fn a_hole_before_the_history_is_a_hole_whatever_the_history_fills() {
        let mut f = Feed::with_cap(3);
        for seq in 1..=5 {
            f.push(&note(Some(seq), "a"), 0.0, Origin::Live);
        }
        assert_eq!(f.ask_since(), 5);
        assert!(!f.synced(30, false, Some(20)), "6 to 19 missed");
        for seq in 20..=30 {
            f.push(&note(Some(seq), "b"), 0.0, Origin::Recovered);
        }
        assert_eq!(f.ask_since(), 30);
    }

    #[test]
    fn newest_first_and_capped_at_the_bound() {
        let mut f = Feed::with_cap(3);
        for i in 0..5 {
            assert!(f.push(&note(None, &i.to_string()), 0.0, Origin::Live));
        }
        assert_eq!(ids(&f), ["4", "3", "2"]);
        assert_eq!(f.len(), 3);
        assert_eq!(f.count(Action::Created), 5);
    }

    // Native only: the wasm component-test build of this crate has no proptest.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Whatever arrives, in whatever order (duplicates, replays, pushes without `seq`, gap
        /// markers, a broker that starts its numbering over, marks as read), the feed holds at
        /// most its cap, never shows the same change twice, and takes every change newer than
        /// all it has seen of the current numbering.
        #[test]
        fn the_feed_never_exceeds_its_cap_nor_repeats_a_change(
            cap in 1usize..12,
            ops in proptest::collection::vec((0..6u8, 0..40u64), 0..200),
        ) {
            let mut f = Feed::with_cap(cap);
            let mut newest: Option<u64> = None;
            for (op, n) in ops {
                match op {
                    0..=2 => {
                        let added = f.push(&note(Some(n), "x"), 0.0, Origin::Live);
                        if newest.is_none_or(|s| n > s) {
                            proptest::prop_assert!(added, "seq {n}, newer than all of its numbering, dropped");
                            newest = Some(n);
                        }
                    }
                    3 => {
                        f.push(&note(None, "y"), 0.0, Origin::History);
                    }
                    4 => f.push_gap(0.0, n as f64, GapReason::Disconnected),
                    _ if n % 8 == 0 => {
                        f.new_stream();
                        newest = None;
                    }
                    _ => f.mark_all_read(),
                }
                proptest::prop_assert!(f.len() <= cap, "{} entries, cap {cap}", f.len());
                proptest::prop_assert!(f.unread() <= f.len());
                let mut shown = std::collections::HashSet::new();
                for entry in f.iter() {
                    if let FeedEntry::Change(c) = entry {
                        if let Some(seq) = c.notification.seq {
                            proptest::prop_assert!(shown.insert((c.generation, seq)), "seq {seq} twice");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_default_cap_holds() {
        let mut f = Feed::default();
        for i in 0..(DEFAULT_FEED_CAP as u64 + 50) {
            f.push(&note(Some(i + 1), "x"), 0.0, Origin::Live);
        }
        assert_eq!(f.len(), DEFAULT_FEED_CAP);
        assert_eq!(f.last_seq(), Some(DEFAULT_FEED_CAP as u64 + 50));
    }

    #[test]
    fn duplicate_seqs_are_dropped() {
        let mut f = Feed::default();
        assert!(f.push(&note(Some(1), "a"), 0.0, Origin::Live));
        assert!(!f.push(&note(Some(1), "a"), 0.0, Origin::Recovered));
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn replays_older_than_the_retained_window_are_dropped() {
        let mut f = Feed::with_cap(2);
        for seq in 1..=4 {
            f.push(&note(Some(seq), "x"), 0.0, Origin::Live);
        }
        assert!(!f.push(&note(Some(2), "x"), 0.0, Origin::Recovered));
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn replays_slot_in_by_seq() {
        let mut f = Feed::default();
        f.push(&note(Some(5), "e"), 0.0, Origin::Live);
        f.push(&note(Some(3), "c"), 0.0, Origin::Recovered);
        f.push(&note(Some(4), "d"), 0.0, Origin::Recovered);
        assert_eq!(ids(&f), ["e", "d", "c"]);
        assert_eq!(f.last_seq(), Some(5));
    }

    #[test]
    fn a_new_stream_accepts_its_seqs_again_above_the_old_entries() {
        let mut f = Feed::default();
        f.push(&note(Some(1), "old1"), 0.0, Origin::Live);
        f.push(&note(Some(2), "old2"), 0.0, Origin::Live);
        f.new_stream();
        assert_eq!(f.last_seq(), None);
        assert!(f.push(&note(Some(1), "new1"), 0.0, Origin::Live));
        assert_eq!(ids(&f), ["new1", "old2", "old1"]);
    }

    /// A feed saved across a change of numbering and put into a new page's feed keeps every
    /// change and gap marker in order, and only the current numbering's seqs: the next sync starts from its
    /// last, and its seqs that the old numbering also used are taken.
    #[test]
    fn a_saved_feed_restores_one_numbering_only() {
        let mut f = Feed::default();
        for seq in 1..=3 {
            f.push(&note(Some(seq), &format!("a{seq}")), 0.0, Origin::Live);
        }
        f.push_gap(1.0, 2.0, GapReason::HistoryTooShort);
        f.new_stream();
        f.push(&note(Some(1), "b1"), 0.0, Origin::Live);
        f.push_gap(3.0, 4.0, GapReason::Disconnected);
        let saved = f.saved();
        let seqs: Vec<_> = saved.iter().filter_map(|s| if let Saved::Change(c) = s { Some(c.notification.seq) } else { None }).collect();
        assert_eq!(seqs, [None, None, None, Some(1)]);
        let mut restored = Feed::default();
        restored.restore(saved, None, None);
        assert_eq!(ids(&restored), ["gap", "b1", "gap", "a3", "a2", "a1"], "gap markers where they were");
        let gaps: Vec<_> = restored.iter().filter_map(|e| if let FeedEntry::Gap { from_ms, to_ms, reason, .. } = e { Some((*from_ms, *to_ms, *reason)) } else { None }).collect();
        assert_eq!(gaps, [(3.0, 4.0, GapReason::Disconnected), (1.0, 2.0, GapReason::HistoryTooShort)]);
        assert_eq!(restored.last_seq(), Some(1));
        assert!(restored.push(&note(Some(2), "b2"), 0.0, Origin::Live), "the new numbering's seq 2, which the old one had too");
        assert_eq!(ids(&restored)[0], "b2");
    }

    /// A wall that reloads itself shows its rows as they were: each as it came (live, from the
    /// history, recovered; until the evening of 2026-12-07 all read "before the page opened"),
    /// at the time it came (the reload's, for a change without a timestamp, until then), with
    /// what an update changed, and the heading's count goes on from the page before's, not from
    /// the rows it kept.
    #[test]
    fn a_restored_feed_keeps_how_and_when_each_change_came_and_the_counts() {
        let mut f = Feed::with_cap(3);
        f.push(&note(Some(1), "h"), 10.0, Origin::History);
        f.push(&note(Some(2), "r"), 20.0, Origin::Recovered);
        let edit = FieldChange { key: "altura", label: ("altura", "height"), from: "75".into(), to: "80".into() };
        f.push_with_changes(&note(Some(3), "l"), 30.0, Origin::Live, vec![edit.clone()]);
        f.push(&note(Some(4), "l2"), 40.0, Origin::Live);
        assert_eq!(f.counts(), [4, 0, 0]);
        let mut restored = Feed::with_cap(3);
        restored.restore(f.saved(), Some(f.counts()), Some(9));
        let rows: Vec<_> = restored.iter().map(|e| match e {
            FeedEntry::Change(c) => (c.notification.seq, c.origin, c.received_ms, c.changes.clone()),
            FeedEntry::Gap { .. } => unreachable!(),
        }).collect();
        assert_eq!(rows, [(Some(4), Origin::Live, 40.0, vec![]), (Some(3), Origin::Live, 30.0, vec![edit]), (Some(2), Origin::Recovered, 20.0, vec![])]);
        assert_eq!(restored.count(Action::Created), 4, "the page before's count, not the 3 rows kept");
        assert_eq!(restored.unread(), 2, "the live rows as new as they were");
        assert_eq!(restored.ask_since(), 9, "asks from the page before's last seq, past its rows");
        let mut older = Feed::default();
        older.restore(f.saved(), None, None);
        assert_eq!(older.count(Action::Created), 3, "a page of before that saved no counts: the rows'");
    }

    #[test]
    fn a_full_feed_takes_every_change_of_a_new_stream() {
        // A page open for long holds a full feed of the old numbering (seq 100 to 102); the
        // broker starts over at 1. Each new change pushes an old entry out, and none of those
        // old seqs may bar the new ones.
        let mut f = Feed::with_cap(3);
        for seq in 100..=102 {
            f.push(&note(Some(seq), &format!("old{seq}")), 0.0, Origin::Live);
        }
        f.new_stream();
        for seq in 1..=5 {
            assert!(f.push(&note(Some(seq), &format!("new{seq}")), 0.0, Origin::Live), "seq {seq} of the new stream");
        }
        assert_eq!(ids(&f), ["new5", "new4", "new3"]);
        assert!(!f.push(&note(Some(2), "new2"), 0.0, Origin::Recovered), "the new stream's own trimmed seqs still bar replays");
        assert_eq!(f.last_seq(), Some(5));
    }

    #[test]
    fn unread_counts_live_changes_until_marked_read() {
        let mut f = Feed::default();
        f.push(&note(Some(1), "h"), 0.0, Origin::History);
        f.push(&note(Some(2), "a"), 0.0, Origin::Live);
        f.push(&note(Some(3), "b"), 0.0, Origin::Live);
        assert_eq!(f.unread(), 2, "history is not news");
        f.mark_all_read();
        assert_eq!(f.unread(), 0);
        f.push(&note(Some(4), "c"), 0.0, Origin::Live);
        assert_eq!(f.unread(), 1);
    }

    #[test]
    fn filters_by_action_material_author_and_text() {
        let mut f = Feed::default();
        let mut mesa = note(Some(1), "m1");
        mesa.furniture = furniture_protocol::Furniture::new("m1", "Mesa Ñandú", "de comedor", 75, 120, "Roble", "ana");
        mesa.message = "🪑 Nuevo mueble creado: Mesa Ñandú".into();
        let mut silla = note(Some(2), "s1");
        silla.action = Action::Deleted;
        silla.furniture = furniture_protocol::Furniture::new("s1", "Silla", "", 90, 40, "pino", "luis");
        f.push(&mesa, 0.0, Origin::Live);
        f.push(&silla, 0.0, Origin::Live);
        f.push_gap(0.0, 1.0, GapReason::Disconnected);
        let shown = |flt: &FeedFilter| ids_where(&f, flt);
        assert_eq!(shown(&FeedFilter::default()), ["gap", "s1", "m1"]);
        assert_eq!(shown(&FeedFilter { hidden_actions: vec![Action::Deleted], ..Default::default() }), ["gap", "m1"]);
        assert_eq!(shown(&FeedFilter { material: Some("roble".into()), ..Default::default() }), ["gap", "m1"]);
        assert_eq!(shown(&FeedFilter { author: Some("luis".into()), ..Default::default() }), ["gap", "s1"]);
        assert_eq!(shown(&FeedFilter { text: "ñandú".into(), ..Default::default() }), ["gap", "m1"]);
        assert_eq!(shown(&FeedFilter { text: "COMEDOR".into(), ..Default::default() }), ["gap", "m1"]);
        assert_eq!(shown(&FeedFilter { text: "nada".into(), ..Default::default() }), ["gap"]);
        // The headline as the feed shows it: the broker's in Spanish, one made from the record in
        // English.
        let text = |t: &str| FeedFilter { text: t.into(), ..Default::default() };
        assert_eq!(shown(&text("nuevo mueble")), ["gap", "m1"]);
        assert_eq!(ids_where_in(&f, &text("nuevo mueble"), Lang::En), ["gap"]);
        assert_eq!(ids_where_in(&f, &text("new item"), Lang::En), ["gap", "m1"]);
        assert_eq!(ids_where_in(&f, &text("item deleted"), Lang::En), ["gap", "s1"]);
        assert_eq!(shown(&text("new item")), ["gap"]);
        assert_eq!(distinct(&f, furniture_protocol::record::field::MATERIAL), ["pino", "Roble"]);
    }

    #[test]
    fn filter_menus_list_each_value_once_sorted_without_blanks() {
        let mut f = Feed::default();
        for (seq, material) in [(1, "roble"), (2, "Roble"), (3, "roble"), (4, " "), (5, "pino"), (6, "roble")] {
            let mut n = note(Some(seq), &format!("i{seq}"));
            n.furniture = furniture_protocol::Furniture::new(&format!("i{seq}"), "Mesa", "", 75, 120, material, "ana");
            f.push(&n, 0.0, Origin::Live);
        }
        assert_eq!(distinct(&f, furniture_protocol::record::field::MATERIAL), ["pino", "Roble", "roble"]);
        assert_eq!(distinct(&f, furniture_protocol::record::field::AUTOR), ["ana"]);
    }

    fn ids_where(f: &Feed, flt: &FeedFilter) -> Vec<String> {
        ids_where_in(f, flt, Lang::Es)
    }

    fn ids_where_in(f: &Feed, flt: &FeedFilter, lang: Lang) -> Vec<String> {
        f.iter()
            .filter(|e| flt.matches(e, lang))
            .map(|e| match e {
                FeedEntry::Change(c) => c.notification.furniture.id().unwrap(),
                FeedEntry::Gap { .. } => "gap".into(),
            })
            .collect()
    }

    #[test]
    fn gaps_go_on_top() {
        let mut f = Feed::default();
        f.push(&note(None, "a"), 0.0, Origin::Live);
        f.push_gap(1.0, 2.0, GapReason::Disconnected);
        f.push(&note(None, "b"), 3.0, Origin::Live);
        assert_eq!(ids(&f), ["b", "gap", "a"]);
    }
}
