//! Toasts: one per change, self-dismissing, in a bounded stack; a burst becomes one digest; a
//! hidden tab gets one "while you were away" digest instead of a flood.

use std::collections::VecDeque;

use furniture_protocol::{Action, Furniture, Notification};

use crate::state::format::{inert_bidi, or_dash};
use crate::state::i18n::Lang;

/// An item's material, size and author (`roble · 120 × 75 cm · ana`), those it has; `None`
/// without any.
fn facts(f: &Furniture) -> Option<String> {
    let size = (f.ancho().is_some() || f.altura().is_some()).then(|| crate::state::format::size(f));
    let mut out = String::new();
    for part in [f.material(), size, f.autor()].into_iter().flatten().filter(|s| !s.trim().is_empty()) {
        if !out.is_empty() {
            out.push_str(" · ");
        }
        out.push_str(&part);
    }
    (!out.is_empty()).then_some(out)
}

/// Default number of toasts visible at once; the oldest goes when a new one would exceed it.
pub const DEFAULT_MAX_TOASTS: usize = 4;

/// How toasts behave.
#[derive(Debug, Clone, PartialEq)]
pub struct ToastPolicy {
    /// Toasts visible at once (default 4; 0 turns them off).
    pub max_visible: usize,
    /// Shortest time on screen, ms (4 s at a desk, 8 s on a wall screen).
    pub min_ms: f64,
    /// Added per character of text, ms (default 50).
    pub per_char_ms: f64,
    /// Longest time on screen, ms (10 s at a desk, 15 s on a wall screen).
    pub max_ms: f64,
    /// More than `burst_count` changes within `burst_window_ms` become one digest
    /// (defaults: 5 in 10 s).
    pub burst_count: usize,
    pub burst_window_ms: f64,
}

impl ToastPolicy {
    /// For a desk.
    pub fn desk() -> ToastPolicy {
        ToastPolicy { max_visible: DEFAULT_MAX_TOASTS, min_ms: 4_000.0, per_char_ms: 50.0, max_ms: 10_000.0, burst_count: 5, burst_window_ms: 10_000.0 }
    }

    /// For a wall screen read from across a room: longer on screen.
    pub fn wall() -> ToastPolicy {
        ToastPolicy { min_ms: 8_000.0, max_ms: 15_000.0, ..ToastPolicy::desk() }
    }

    /// How long a toast with this much text stays.
    pub fn duration_ms(&self, text_chars: usize) -> f64 {
        (self.min_ms + self.per_char_ms * text_chars as f64).min(self.max_ms).max(self.min_ms)
    }
}

/// Changes counted per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: u32,
    pub updated: u32,
    pub deleted: u32,
}

impl Counts {
    pub fn add(&mut self, action: Action) {
        match action {
            Action::Created => self.created += 1,
            Action::Updated => self.updated += 1,
            Action::Deleted => self.deleted += 1,
        }
    }

    pub fn total(&self) -> u32 {
        self.created + self.updated + self.deleted
    }

    /// `7 actualizados, 3 creados, 2 eliminados`, largest first, zeros left out.
    pub fn summary(&self, lang: Lang) -> String {
        let words = |es: (&'static str, &'static str), en: (&'static str, &'static str)| if lang == Lang::Es { es } else { en };
        let (u, c, d) = (
            words(("actualizado", "actualizados"), ("updated", "updated")),
            words(("creado", "creados"), ("created", "created")),
            words(("eliminado", "eliminados"), ("deleted", "deleted")),
        );
        let mut parts = [(self.updated, u.0, u.1), (self.created, c.0, c.1), (self.deleted, d.0, d.1)];
        crate::state::sort::sort_by(&mut parts, |a, b| b.0.cmp(&a.0));
        parts
            .iter()
            .filter(|(n, ..)| *n > 0)
            .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a toast is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Change(Action),
    /// Several changes summed up.
    Digest,
}

impl ToastKind {
    /// The `data-action` value: the action, or `digest`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToastKind::Change(a) => a.as_str(),
            ToastKind::Digest => "digest",
        }
    }
}

/// One toast.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub key: u64,
    pub kind: ToastKind,
    /// The item's name (a dash when it has none), or the digest's headline.
    pub title: String,
    /// The broker's message text, or the digest's counts.
    pub detail: String,
    pub expires_ms: f64,
    /// Set while the pointer rests on it: the time it had left.
    pub paused_left_ms: Option<f64>,
}

/// The toast stack, oldest first.
#[derive(Debug, Clone)]
pub struct Toasts {
    items: VecDeque<Toast>,
    policy: ToastPolicy,
    next_key: u64,
    /// Recent changes and when they arrived, for burst detection (at most `burst_count + 1`).
    recent: VecDeque<(f64, Action)>,
    /// The digest toast of the current burst and its counts.
    burst: Option<(u64, Counts, f64)>,
    /// The burst's digest was closed by hand: no toast until the changes slow down.
    hushed: bool,
    /// Changes that arrived while the page was hidden.
    away: Counts,
    lang: Lang,
}

impl Default for Toasts {
    fn default() -> Self {
        Toasts::new(ToastPolicy::desk())
    }
}

impl Toasts {
    pub fn new(policy: ToastPolicy) -> Toasts {
        Toasts { items: VecDeque::new(), policy, next_key: 1, recent: VecDeque::new(), burst: None, hushed: false, away: Counts::default(), lang: Lang::Es }
    }

    /// The language of digests (Spanish by default).
    pub fn with_lang(self, lang: Lang) -> Toasts {
        Toasts { lang, ..self }
    }

    pub fn with_max(max: usize) -> Toasts {
        Toasts::new(ToastPolicy { max_visible: max, ..ToastPolicy::desk() })
    }

    pub fn policy(&self) -> &ToastPolicy {
        &self.policy
    }

    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    fn show(&mut self, kind: ToastKind, title: String, detail: String, now_ms: f64) -> u64 {
        let key = self.key();
        let chars = title.chars().count() + detail.chars().count();
        let expires_ms = now_ms + self.policy.duration_ms(chars);
        self.items.push_back(Toast { key, kind, title, detail, expires_ms, paused_left_ms: None });
        while self.items.len() > self.policy.max_visible {
            self.items.pop_front();
        }
        key
    }

    /// A change arrived. While the page is hidden nothing shows (it is counted for the "while you
    /// were away" digest); in a burst the changes go into one digest toast; otherwise one toast.
    pub fn push(&mut self, n: &Notification, now_ms: f64, page_visible: bool) {
        self.push_described(n, || None, now_ms, page_visible);
    }

    /// As [`Toasts::push`], the toast telling `what` changed (`altura: 75 → 80`) when it gives
    /// one, asked only when the change gets a toast of its own (not in a burst, nor on a hidden
    /// page); otherwise the item's facts (`roble · 120 × 75 cm · ana`), where the broker's text
    /// would repeat the title.
    pub fn push_described(&mut self, n: &Notification, what: impl FnOnce() -> Option<String>, now_ms: f64, page_visible: bool) {
        if self.policy.max_visible == 0 {
            return; // toasts turned off
        }
        if !page_visible {
            self.away.add(n.action);
            return;
        }
        let window = self.policy.burst_window_ms;
        self.recent.push_back((now_ms, n.action));
        while self.recent.front().is_some_and(|(t, _)| now_ms - t > window) || self.recent.len() > self.policy.burst_count + 1 {
            self.recent.pop_front();
        }
        // While changes come at a burst's rate they go into its digest; once they slow down, the
        // digest shows what it counted until it goes, and each change has its toast again.
        let burst_rate = self.recent.len() > self.policy.burst_count;
        // Closed by hand, a burst's digest stays closed while the burst goes on (it came back
        // with the next change).
        self.hushed &= burst_rate;
        if self.hushed {
            return;
        }
        if let Some((key, mut counts, started)) = self.burst.take() {
            if self.items.iter().any(|t| t.key == key) {
                if burst_rate {
                    counts.add(n.action);
                    self.update_digest(key, counts, started, now_ms);
                    return;
                }
                // Kept: should the pace pick up again while it shows, it counts on.
                self.burst = Some((key, counts, started));
            }
        }
        if burst_rate {
            // A burst: the toasts of its first changes give way to one digest that counts them.
            let mut counts = Counts::default();
            for (_, a) in &self.recent {
                counts.add(*a);
            }
            self.items.retain(|t| t.kind == ToastKind::Digest);
            let started = self.recent.front().map_or(now_ms, |(t, _)| *t);
            let key = self.show(ToastKind::Digest, String::new(), String::new(), now_ms);
            self.update_digest(key, counts, started, now_ms);
            return;
        }
        let title = or_dash(n.furniture.nombre());
        // Without a change or a fact to tell, nothing: the broker's text would say the title again.
        let detail = inert_bidi(what().or_else(|| facts(&n.furniture)).unwrap_or_default());
        self.show(ToastKind::Change(n.action), title, detail, now_ms);
    }

    /// A burst is on: its digest toast is showing.
    #[cfg(test)]
    fn in_burst(&self) -> bool {
        self.burst.as_ref().is_some_and(|(key, ..)| self.items.iter().any(|t| t.key == *key))
    }

    fn update_digest(&mut self, key: u64, counts: Counts, started_ms: f64, now_ms: f64) {
        let secs = ((now_ms - started_ms) / 1000.0).ceil().max(1.0) as u64;
        let expires = now_ms + self.policy.max_ms;
        if let Some(t) = self.items.iter_mut().find(|t| t.key == key) {
            t.title = match self.lang {
                Lang::Es => format!("{} cambios en {} s", counts.total(), secs),
                Lang::En => format!("{} changes in {} s", counts.total(), secs),
            };
            t.detail = counts.summary(self.lang);
            t.expires_ms = t.expires_ms.max(expires);
        }
        self.burst = Some((key, counts, started_ms));
    }

    /// The page became visible again: one digest of what happened meanwhile, if anything did.
    pub fn page_shown(&mut self, now_ms: f64) {
        let away = std::mem::take(&mut self.away);
        if away.total() > 0 {
            let n = u64::from(away.total());
            let title = format!("{}: {}", self.lang.t("Mientras no mirabas", "While you were away"), self.lang.count(n, ("cambio", "cambios"), ("change", "changes")));
            self.show(ToastKind::Digest, title, away.summary(self.lang), now_ms);
        }
    }

    /// Removes expired toasts (paused ones stay); true when any went.
    pub fn expire(&mut self, now_ms: f64) -> bool {
        let before = self.items.len();
        self.items.retain(|t| t.paused_left_ms.is_some() || t.expires_ms > now_ms);
        before != self.items.len()
    }

    /// True when some toast is due to go.
    pub fn has_expired(&self, now_ms: f64) -> bool {
        self.items.iter().any(|t| t.paused_left_ms.is_none() && t.expires_ms <= now_ms)
    }

    /// The pointer rests on a toast: it stays until [`Toasts::resume`].
    pub fn pause(&mut self, key: u64, now_ms: f64) {
        if let Some(t) = self.items.iter_mut().find(|t| t.key == key && t.paused_left_ms.is_none()) {
            t.paused_left_ms = Some((t.expires_ms - now_ms).max(1_000.0));
        }
    }

    /// The pointer left: the toast gets the time it had left.
    pub fn resume(&mut self, key: u64, now_ms: f64) {
        if let Some(t) = self.items.iter_mut().find(|t| t.key == key) {
            if let Some(left) = t.paused_left_ms.take() {
                t.expires_ms = now_ms + left;
            }
        }
    }

    /// Removes one toast (dismissed by hand); a burst's digest, until the changes slow down.
    pub fn dismiss(&mut self, key: u64) {
        self.hushed |= self.burst.as_ref().is_some_and(|b| b.0 == key && self.items.iter().any(|t| t.key == key));
        self.items.retain(|t| t.key != key);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Toast> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The screen reader's summary: at most one announcement per `interval_ms` (default 10 s),
/// summing up what changed since the last one.
#[derive(Debug, Clone)]
pub struct Announcer {
    pending: Counts,
    last_ms: f64,
    pub interval_ms: f64,
}

impl Default for Announcer {
    fn default() -> Self {
        Announcer { pending: Counts::default(), last_ms: f64::NEG_INFINITY, interval_ms: 10_000.0 }
    }
}

impl Announcer {
    pub fn note(&mut self, action: Action) {
        self.pending.add(action);
    }

    /// The text to announce now, if it is time and something changed.
    pub fn due(&mut self, now_ms: f64, lang: Lang) -> Option<String> {
        if self.pending.total() == 0 || now_ms - self.last_ms < self.interval_ms {
            return None;
        }
        self.last_ms = now_ms;
        let counts = std::mem::take(&mut self.pending);
        let n = u64::from(counts.total());
        Some(format!("{}: {}", lang.count(n, ("cambio", "cambios"), ("change", "changes")), counts.summary(lang)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(action: Action, nombre: &str) -> Notification {
        Notification { action, furniture: Furniture::new("1", nombre, "", 1, 1, "m", "u"), message: "m".into(), timestamp: None, seq: None }
    }

    fn kinds(t: &Toasts) -> Vec<&'static str> {
        t.iter().map(|x| x.kind.as_str()).collect()
    }

    #[test]
    fn the_stack_is_bounded_and_drops_the_oldest() {
        let mut t = Toasts::default();
        for i in 0..(DEFAULT_MAX_TOASTS + 1) {
            // Spaced out so that no burst forms.
            t.push(&note(Action::Updated, &i.to_string()), i as f64 * 3_000.0, true);
        }
        assert_eq!(t.len(), DEFAULT_MAX_TOASTS);
        assert_eq!(t.iter().next().unwrap().title, "1");
    }

    #[test]
    fn toasts_dismiss_themselves() {
        let mut t = Toasts::default();
        t.push(&note(Action::Created, "a"), 0.0, true);
        let until = t.iter().next().unwrap().expires_ms;
        assert!(!t.has_expired(until - 1.0));
        assert!(!t.expire(until - 1.0));
        assert!(t.has_expired(until));
        assert!(t.expire(until));
        assert!(t.is_empty());
    }

    #[test]
    fn durations_grow_with_text_within_limits_longer_on_a_wall() {
        let desk = ToastPolicy::desk();
        assert_eq!(desk.duration_ms(0), 4_000.0);
        assert!(desk.duration_ms(40) > desk.duration_ms(10));
        assert_eq!(desk.duration_ms(100_000), 10_000.0);
        let wall = ToastPolicy::wall();
        assert_eq!(wall.duration_ms(0), 8_000.0);
        assert!(wall.duration_ms(60) > desk.duration_ms(60));
    }

    /// A created or deleted item's toast gives its facts, not the broker's text, which repeats
    /// the title; an item without any gets no more than its title.
    #[test]
    fn a_toast_gives_the_items_facts() {
        let mut t = Toasts::default();
        let mut n = note(Action::Created, "Mesa");
        n.furniture = Furniture::new("1", "Mesa", "", 75, 120, "roble", "ana");
        t.push(&n, 0.0, true);
        n.action = Action::Deleted;
        n.furniture.0.remove("material");
        n.furniture.0.insert("altura".into(), "alta".into());
        t.push(&n, 20_000.0, true);
        n.furniture.0.retain(|k, _| k == "nombre");
        t.push(&n, 40_000.0, true);
        let details: Vec<&str> = t.iter().map(|x| x.detail.as_str()).collect();
        assert_eq!(details, ["roble · 120\u{a0}×\u{a0}75\u{a0}cm · ana", "120\u{a0}×\u{a0}—\u{a0}cm · ana", ""]);
    }

    #[test]
    fn a_missing_name_is_a_dash() {
        let mut t = Toasts::default();
        let mut n = note(Action::Created, "x");
        n.furniture.0.insert("nombre".into(), serde_json::Value::Null);
        t.push(&n, 0.0, true);
        assert_eq!(t.iter().next().unwrap().title, "—");
    }

    #[test]
    fn a_burst_becomes_one_digest_that_counts_everything() {
        let mut t = Toasts::default();
        let actions = [Action::Created, Action::Updated, Action::Updated, Action::Deleted, Action::Updated, Action::Created];
        for (i, a) in actions.iter().enumerate() {
            t.push(&note(*a, "x"), i as f64 * 100.0, true);
        }
        assert_eq!(kinds(&t), ["digest"], "the burst's own toasts gave way to the digest");
        for i in 6..12 {
            t.push(&note(Action::Updated, "x"), i as f64 * 100.0, true);
        }
        let d = t.iter().next().unwrap();
        assert_eq!(d.title, "12 cambios en 2 s", "0 to 1.1 s");
        assert_eq!(d.detail, "9 actualizados, 2 creados, 1 eliminado");
        assert_eq!(t.len(), 1);
    }

    /// The screen keeps a digest's toast (by its key) while its counts change.
    #[test]
    fn a_digest_keeps_its_key_while_its_counts_change() {
        let mut t = Toasts::default();
        for i in 0..6 {
            t.push(&note(Action::Updated, "x"), f64::from(i) * 10.0, true);
        }
        let digest = t.iter().next().unwrap().clone();
        assert_eq!((digest.kind, digest.title.as_str()), (ToastKind::Digest, "6 cambios en 1 s"));
        t.push(&note(Action::Created, "x"), 60.0, true);
        let counted = t.iter().next().unwrap();
        assert_eq!((counted.key, counted.title.as_str()), (digest.key, "7 cambios en 1 s"), "the same digest, new counts");
        // The next burst's digest is a new toast.
        t.expire(counted.expires_ms);
        for i in 0..6 {
            t.push(&note(Action::Deleted, "x"), 20_000.0 + f64::from(i), true);
        }
        assert_ne!(t.iter().next().unwrap().key, digest.key);
    }

    /// What an update changed is worked out only for a toast of its own: not for a hidden page,
    /// nor for a change taken into a burst's digest.
    #[test]
    fn what_changed_is_asked_only_for_a_toast_of_its_own() {
        let mut t = Toasts::default();
        t.push_described(&note(Action::Updated, "hidden"), || panic!("asked for a hidden page"), 0.0, false);
        for i in 0..8 {
            t.push(&note(Action::Updated, "x"), 10.0 + i as f64 * 10.0, true);
        }
        assert!(t.in_burst());
        t.push_described(&note(Action::Updated, "y"), || panic!("asked in a burst"), 100.0, true);
        let end = t.iter().next().unwrap().expires_ms;
        t.expire(end);
        t.push_described(&note(Action::Updated, "z"), || Some("altura: 75 → 80".into()), end + 20_000.0, true);
        assert_eq!(t.iter().next().map(|x| x.detail.as_str()), Some("altura: 75 → 80"));
    }

    #[test]
    fn after_a_burst_single_toasts_come_back() {
        let mut t = Toasts::default();
        for i in 0..8 {
            t.push(&note(Action::Updated, "x"), i as f64 * 10.0, true);
        }
        assert!(t.in_burst());
        let end = t.iter().next().unwrap().expires_ms;
        t.expire(end);
        assert!(!t.in_burst(), "over once its digest is gone");
        t.push(&note(Action::Created, "solo"), end + 20_000.0, true);
        assert_eq!(kinds(&t), ["created"]);
        assert!(!t.in_burst());
    }

    /// A digest takes in changes while they come at a burst's rate; slower ones, even before
    /// it goes, have their own toasts again (the digest does not live on, counting for ever).
    #[test]
    fn changes_that_slow_down_after_a_burst_have_their_own_toasts() {
        let mut t = Toasts::default();
        for i in 0..6 {
            t.push(&note(Action::Updated, "x"), f64::from(i) * 100.0, true);
        }
        assert_eq!(kinds(&t), ["digest"]);
        let digest = t.iter().next().unwrap().clone();
        for i in 1..=20 {
            t.push(&note(Action::Created, "slow"), 500.0 + f64::from(i) * 9_000.0, true);
            t.expire(500.0 + f64::from(i) * 9_000.0);
        }
        assert_eq!(kinds(&t).last().copied(), Some("created"), "the last change has its own toast");
        assert!(t.iter().all(|d| d.key != digest.key), "the digest went when its time was up");
        assert!(!t.in_burst());
    }

    /// A burst that picks up again while its digest still shows counts on in that digest, not
    /// in a second one beside it.
    #[test]
    fn a_burst_that_picks_up_again_counts_on_in_its_digest() {
        // On a wall screen a digest shows for 15 s, longer than the 10 s a burst is told over;
        // room for 8 toasts keeps it on screen beside the slower changes' toasts.
        let mut t = Toasts::new(ToastPolicy { max_visible: 8, ..ToastPolicy::wall() });
        for i in 0..6 {
            t.push(&note(Action::Updated, "x"), f64::from(i) * 100.0, true);
        }
        t.push(&note(Action::Created, "slow"), 11_000.0, true);
        t.expire(11_000.0);
        assert_eq!(kinds(&t), ["digest", "created"], "slower: a toast of its own");
        for i in 0..6 {
            t.push(&note(Action::Updated, "x"), 11_100.0 + f64::from(i) * 10.0, true);
        }
        assert_eq!(kinds(&t).iter().filter(|k| **k == "digest").count(), 1, "{:?}", kinds(&t));
        // The first burst's 6, then the 2 that came at a burst's pace again.
        assert!(t.iter().any(|d| d.title.starts_with("8 cambios")), "{:?}", t.iter().map(|d| d.title.clone()).collect::<Vec<_>>());
    }

    /// A digest closed by hand stays closed while the changes keep coming at a burst's pace (it
    /// came back with the next one); once they slow down each has its toast again. Closing any
    /// other toast hushes nothing.
    #[test]
    fn a_digest_closed_by_hand_stays_closed_while_the_burst_goes_on() {
        let mut t = Toasts::default();
        for i in 0..6 {
            t.push(&note(Action::Updated, "x"), f64::from(i) * 1_000.0, true);
        }
        assert_eq!(kinds(&t), ["digest"]);
        let digest = t.iter().next().unwrap().key;
        t.dismiss(digest);
        for i in 6..60 {
            t.push(&note(Action::Updated, "x"), f64::from(i) * 1_000.0, true);
            assert!(t.is_empty(), "a change a second, {i} s in: {:?}", kinds(&t));
        }
        t.push(&note(Action::Created, "solo"), 80_000.0, true);
        assert_eq!(kinds(&t), ["created"], "slower: a toast of its own again");
        let solo = t.iter().next().unwrap().key;
        t.dismiss(solo);
        for i in 0..6 {
            t.push(&note(Action::Updated, "x"), 81_000.0 + f64::from(i) * 100.0, true);
        }
        assert_eq!(kinds(&t), ["digest"], "a change's toast closed by hand hushes no burst");
        // Nor a digest closed after its burst is over and before the next one.
        let digest = t.iter().next().unwrap().key;
        t.push(&note(Action::Created, "slow"), 100_000.0, true);
        t.dismiss(digest);
        for i in 0..6 {
            t.push(&note(Action::Updated, "x"), 101_000.0 + f64::from(i) * 100.0, true);
        }
        assert_eq!(kinds(&t).last().copied(), Some("digest"), "{:?}", kinds(&t));
    }

    #[test]
    fn a_burst_is_on_from_the_change_past_the_count() {
        let mut t = Toasts::default();
        for i in 0..5 {
            t.push(&note(Action::Created, "x"), i as f64 * 100.0, true);
            assert!(!t.in_burst(), "{} changes in the window are not a burst", i + 1);
        }
        t.push(&note(Action::Created, "x"), 500.0, true);
        assert!(t.in_burst(), "the sixth within 10 s is");
        let key = t.iter().next().unwrap().key;
        t.dismiss(key);
        assert!(!t.in_burst(), "nor is one whose digest was closed");
    }

    #[test]
    fn hidden_pages_get_one_digest_when_shown() {
        let mut t = Toasts::default();
        for a in [Action::Created, Action::Deleted, Action::Created] {
            t.push(&note(a, "x"), 0.0, false);
        }
        assert!(t.is_empty(), "nothing shows while hidden");
        t.page_shown(5_000.0);
        let d = t.iter().next().unwrap();
        assert_eq!((d.kind, d.title.as_str(), d.detail.as_str()), (ToastKind::Digest, "Mientras no mirabas: 3 cambios", "2 creados, 1 eliminado"));
        let mut en = Toasts::default().with_lang(Lang::En);
        en.push(&note(Action::Deleted, "x"), 0.0, false);
        en.page_shown(1.0);
        assert_eq!(en.iter().next().unwrap().title, "While you were away: 1 change");
        t.page_shown(6_000.0);
        assert_eq!(t.len(), 1, "only once");
    }

    #[test]
    fn zero_visible_turns_toasts_off() {
        let mut t = Toasts::with_max(0);
        t.push(&note(Action::Created, "a"), 0.0, true);
        t.push(&note(Action::Created, "b"), 0.0, false);
        t.page_shown(1.0);
        assert!(t.is_empty());
    }

    #[test]
    fn a_paused_toast_stays_and_then_gets_its_time_back() {
        let mut t = Toasts::default();
        t.push(&note(Action::Created, "a"), 0.0, true);
        let key = t.iter().next().unwrap().key;
        let until = t.iter().next().unwrap().expires_ms;
        t.pause(key, until - 2_000.0);
        assert!(!t.expire(until + 60_000.0));
        t.resume(key, until + 60_000.0);
        assert!(!t.expire(until + 61_000.0));
        assert!(t.expire(until + 62_000.0));
    }

    #[test]
    fn the_announcer_speaks_at_most_every_ten_seconds() {
        let mut a = Announcer::default();
        assert_eq!(a.due(0.0, Lang::Es), None, "nothing to say");
        a.note(Action::Created);
        assert_eq!(a.due(0.0, Lang::Es).as_deref(), Some("1 cambio: 1 creado"));
        a.note(Action::Updated);
        a.note(Action::Updated);
        assert_eq!(a.due(5_000.0, Lang::Es), None, "too soon");
        assert_eq!(a.due(10_000.0, Lang::En).as_deref(), Some("2 changes: 2 updated"));
    }
}
