//! Keyed lists whose rows leave nothing behind when they go.
//!
//! A wall screen replaces feed rows and catalog cards for weeks, so a row must give back all it
//! took. Two things in Leptos 0.8 keep memory after a row is gone, each found with a counting
//! allocator in the component tests:
//!
//! - `For` makes each row's reactive owner a child of the list's owner, and the list's owner
//!   keeps a record of every child it ever had (a weak pointer that holds the child's
//!   allocation) until the list itself goes: 76 bytes per row, for ever.
//! - A reactive attribute or text (`class:x=move || …`) subscribes to the signals it reads; when
//!   its row goes, it stays in the subscriber list of every long-lived signal it read (the feed,
//!   the clock), and each of those lists grows by one for every row ever drawn, and is walked on
//!   every change.
//!
//! So [`Rows`] gives each row an owner of its own, not recorded by the list, carrying the
//! dashboard's context; and a row reads the long-lived signals only through [`follow`], whose
//! subscriptions end with the row. The row's own reactive parts then read the row's own signal,
//! which goes with them. [`LiveRows`] keeps a row while its item changes (the catalog's cards):
//! its rows read their item from a signal of their own as well, dropped with the row.
//!
//! Both lists also spare the browser work and the page weight: a change reaches the page in steps
//! that take out and put back no row that stays ([`crate::state::list_steps`]), and every list of
//! the page is the same type of keyed list (rows drawn as `AnyView`, told apart by a hash of their
//! key), so its code is in the wasm once rather than once per list.

use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};

use leptos::prelude::*;
use leptos::reactive::effect::RenderEffect;
use leptos::reactive::graph::{Subscriber, ToAnySubscriber};
use leptos::tachys::html::attribute::{any_attribute::AnyAttribute, Attribute};
use leptos::tachys::hydration::Cursor;
use leptos::tachys::reactive_graph::OwnedView;
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::tachys::view::keyed::{keyed, Keyed};
use leptos::tachys::view::{Position, PositionState, Render, RenderHtml};

use crate::app::Live;
use crate::state::list_steps::{steps, Keys, Places};

/// A keyed list like Leptos's `For`: `each` gives the items, `key` identifies one, `children`
/// draws one. A row is drawn once per key and dropped with everything it owned when its key goes.
/// Rows find the [`Live`] state in their context, as the rest of the page does.
#[component]
pub fn Rows<IF, I, T, EF, N, KF, K>(each: IF, key: KF, children: EF) -> impl IntoView
where
    IF: Fn() -> I + Send + 'static,
    I: IntoIterator<Item = T> + Send + 'static,
    EF: Fn(T) -> N + Send + Clone + 'static,
    N: IntoView + 'static,
    KF: Fn(&T) -> K + Send + Clone + 'static,
    K: Hash,
    T: Send + 'static,
{
    let live = expect_context::<Live>();
    let seed = seed();
    rows_of(Box::new(move |keys: &mut Keys, rows: &mut Vec<Item>| {
        for item in each() {
            keys.push_unique(hash_of(seed, &key(&item)));
            let children = children.clone();
            rows.push(Some(Box::new(move || {
                provide_context(live);
                children(item).into_any()
            })));
        }
    }))
}

/// A keyed list whose rows stay while their key does: `children` draws a row once, from a signal
/// of the row's own that then follows the item (set whenever the item differs from the last),
/// so that a changed item changes only what differs in its row. A row whose item changed its
/// place among the others is drawn anew there, since the keyed list would move every row
/// between its old and new place ([`Places`]).
#[component]
pub fn LiveRows<IF, I, T, EF, N, KF, K>(each: IF, key: KF, children: EF) -> impl IntoView
where
    IF: Fn() -> I + Send + 'static,
    I: IntoIterator<Item = T> + Send + 'static,
    EF: Fn(ArcReadSignal<T>) -> N + Send + Clone + 'static,
    N: IntoView + 'static,
    KF: Fn(&T) -> K + Send + Clone + 'static,
    K: Hash,
    T: PartialEq + Send + Sync + 'static,
{
    let live = expect_context::<Live>();
    let seed = seed();
    // Where the rows are, and their signals in the same order.
    let shown = StoredValue::new((Places::default(), Vec::<ArcRwSignal<T>>::new()));
    rows_of(Box::new(move |keys: &mut Keys, rows: &mut Vec<Item>| {
        let (mut places, old) = shown.try_update_value(std::mem::take).unwrap_or_default();
        let items: Vec<T> = each().into_iter().collect();
        let kept = places.next(&items.iter().map(|item| hash_of(seed, &key(item))).collect::<Vec<_>>(), keys);
        let mut old: Vec<Option<ArcRwSignal<T>>> = old.into_iter().map(Some).collect();
        let mut signals = Vec::with_capacity(items.len());
        for (item, kept) in items.into_iter().zip(kept) {
            match kept.and_then(|at| old[at].take()) {
                Some(signal) => {
                    if signal.with_untracked(|v| *v != item) {
                        signal.set(item);
                    }
                    signals.push(signal);
                    rows.push(None);
                }
                None => {
                    let signal = ArcRwSignal::new(item);
                    signals.push(signal.clone());
                    let children = children.clone();
                    rows.push(Some(Box::new(move || {
                        provide_context(live);
                        children(signal.read_only()).into_any()
                    })));
                }
            }
        }
        shown.set_value((places, signals));
    }))
}

/// A key of its own for each list: rows are told apart by a hash of their key made with it (not
/// one an item's sender could aim at), and made unique within the list, which the keyed list
/// needs. Two keys with one hash (a chance in 2^64 for a pair) could show one row's content in
/// the other's place until either changes.
fn seed() -> u64 {
    (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
}

/// The list that `fill` gives (each row's key hash, and how to draw it when it is new), drawn in
/// steps that take out and put back no row that stays. Not generic, so its code is in the wasm
/// once for all lists.
fn rows_of(fill: Fill) -> impl IntoView {
    // Hashes of the rows on screen, to plan the next change's steps.
    let shown = StoredValue::new(Keys::default());
    move || {
        let (mut keys, mut rows) = (Keys::default(), Vec::<Item>::new());
        fill(&mut keys, &mut rows);
        let plan = shown.with_value(|old| steps(old, &keys));
        let view = draw(keys.as_slice(), rows, plan);
        shown.set_value(keys);
        view
    }
}

/// Gives a list's rows: each one's key hash, and how to draw it when it is new.
type Fill = Box<dyn Fn(&mut Keys, &mut Vec<Item>) + Send>;

/// How a row is drawn, once, when its key first appears; later lists only name it.
type Item = Option<Box<dyn FnOnce() -> AnyView + Send>>;
type RowList = Keyed<(u64, Item), Vec<(u64, Item)>, u64, fn(&(u64, Item)) -> u64, fn(usize, (u64, Item)) -> (fn(usize), OwnedView<AnyView>), fn(usize), OwnedView<AnyView>>;

/// The lists to draw for `hashes` (the keys of `rows`), through the steps of `plan`. The same
/// type for every list of the page, so the keyed list's code is there once.
fn draw(hashes: &[u64], mut rows: Vec<Item>, plan: Vec<Vec<usize>>) -> Steps<RowList> {
    let mut list = |at: &mut dyn Iterator<Item = usize>| -> RowList {
        keyed(at.map(|i| (hashes[i], rows[i].take())).collect::<Vec<_>>(), |(k, _)| *k, row)
    };
    let steps = plan.iter().map(|step| list(&mut step.iter().copied())).collect();
    let last = list(&mut (0..hashes.len()));
    Steps { steps, last }
}

fn row(_: usize, (_, item): (u64, Item)) -> (fn(usize), OwnedView<AnyView>) {
    let owner = own_owner();
    let view = owner.with(|| item.map_or_else(|| ().into_any(), |draw| draw()));
    (drop, OwnedView::new_with_owner(view, owner))
}

fn hash_of(seed: u64, key: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    h.write_u64(seed);
    key.hash(&mut h);
    h.finish()
}

/// Views drawn one after another into the same place: `steps`, then `last`. Steps come only with
/// a list redrawn in the page (they lead from the list drawn before), so HTML, which a server
/// draws once, is `last`'s.
pub struct Steps<V> {
    steps: Vec<V>,
    last: V,
}

impl<V: Render> Render for Steps<V> {
    type State = V::State;

    fn build(self) -> Self::State {
        let mut steps = self.steps.into_iter();
        let Some(first) = steps.next() else { return self.last.build() };
        let mut state = first.build();
        for step in steps {
            step.rebuild(&mut state);
        }
        self.last.rebuild(&mut state);
        state
    }

    fn rebuild(self, state: &mut Self::State) {
        for step in self.steps {
            step.rebuild(state);
        }
        self.last.rebuild(state);
    }
}

impl<V: RenderHtml> AddAnyAttr for Steps<V> {
    type Output<A: Attribute> = V::Output<A>;

    fn add_any_attr<A: Attribute>(self, attr: A) -> Self::Output<A>
    where
        Self::Output<A>: RenderHtml,
    {
        self.last.add_any_attr(attr)
    }
}

impl<V: RenderHtml> RenderHtml for Steps<V> {
    type AsyncOutput = V::AsyncOutput;
    type Owned = V::Owned;
    const MIN_LENGTH: usize = V::MIN_LENGTH;

    fn dry_resolve(&mut self) {
        self.last.dry_resolve();
    }

    fn resolve(self) -> impl Future<Output = Self::AsyncOutput> + Send {
        self.last.resolve()
    }

    fn to_html_with_buf(self, buf: &mut String, position: &mut Position, escape: bool, mark_branches: bool, extra_attrs: Vec<AnyAttribute>) {
        self.last.to_html_with_buf(buf, position, escape, mark_branches, extra_attrs);
    }

    fn hydrate<const FROM_SERVER: bool>(self, cursor: &Cursor, position: &PositionState) -> Self::State {
        self.last.hydrate::<FROM_SERVER>(cursor, position)
    }

    fn into_owned(self) -> Self::Owned {
        self.last.into_owned()
    }
}

/// A new reactive owner with no parent (so no list keeps a record of it), leaving the current
/// owner as it was.
fn own_owner() -> Owner {
    let current = Owner::current();
    let owner = Owner::new_root(Owner::current_shared_context());
    match current {
        Some(current) => current.set(),
        None => owner.clone().unset(),
    }
    owner
}

/// `f`, kept current: for the reactive parts of a row that depend on long-lived signals. `f` runs
/// now and again whenever a signal it read changes, and the value is stored in a signal of the
/// row's own; that signal changes only when the value does. When the row's owner is cleaned up,
/// the subscriptions end, so the long-lived signals do not keep a trace of the row.
pub fn follow<T>(f: impl Fn() -> T + 'static) -> ArcReadSignal<T>
where
    T: PartialEq + Send + Sync + 'static,
{
    let value = ArcRwSignal::new(untrack(&f));
    let effect = RenderEffect::new({
        let value = value.clone();
        move |_| {
            let next = f();
            if value.with_untracked(|v| *v != next) {
                value.set(next);
            }
        }
    });
    on_cleanup(move || {
        let subscriber = effect.to_any_subscriber();
        subscriber.clear_sources(&subscriber);
    });
    value.read_only()
}
