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
//! which goes with them.

use std::hash::Hash;

use leptos::prelude::*;
use leptos::reactive::effect::RenderEffect;
use leptos::reactive::graph::{Subscriber, ToAnySubscriber};
use leptos::tachys::reactive_graph::OwnedView;
use leptos::tachys::view::keyed::{keyed, SerializableKey};

use crate::app::Live;

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
    K: Eq + Hash + SerializableKey + 'static,
    T: Send + 'static,
{
    let live = expect_context::<Live>();
    let row = move |_, item| {
        let owner = own_owner();
        let view = owner.with(|| {
            provide_context(live);
            children(item)
        });
        (drop, OwnedView::new_with_owner(view, owner))
    };
    move || keyed(each(), key.clone(), row.clone())
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
