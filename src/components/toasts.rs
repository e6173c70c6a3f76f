//! Toasts: a bounded stack in a corner (on a wall, below the feed), one per change, each leaving
//! on its own.

use leptos::prelude::*;

use crate::app::Live;
use crate::browser::now_ms;
use crate::components::rows::{follow, Rows};
use crate::components::{action_icon, action_label};
use crate::state::i18n::Lang;
use crate::state::toasts::{Toast, ToastKind};

/// The icon and label of a toast.
fn heading(kind: ToastKind, lang: Lang) -> (&'static str, &'static str) {
    match kind {
        ToastKind::Change(a) => (action_icon(a), action_label(a, lang)),
        ToastKind::Digest => ("🗂️", ""),
    }
}

/// The toast stack. Toasts wait while the pointer rests on them (never because the window lost
/// focus). Screen readers hear the separate summary region, not every toast.
#[component]
pub fn ToastStack() -> impl IntoView {
    let live = expect_context::<Live>();
    let toasts = move || live.toasts.with(|t| t.iter().cloned().collect::<Vec<_>>());
    view! {
        <div class="toasts">
            <Rows each=toasts key=|t: &Toast| t.key children=move |toast: Toast| {
                // A digest's counts change while it shows: its text follows them and the toast
                // stays, rather than a new one at every count, which started its entrance again
                // (at 100 changes a second it never became visible) and moved its close button
                // from under the pointer.
                let key = toast.key;
                let text = follow(move || {
                    live.toasts.with(|t| t.iter().find(|t| t.key == key).map(|t| (t.title.clone(), t.detail.clone()))).unwrap_or_default()
                });
                let title = {
                    let text = text.clone();
                    move || text.with(|t| t.0.clone())
                };
                let detail = move || text.with(|t| t.1.clone());
                let label = match heading(toast.kind, live.lang).1 {
                    "" => String::new(),
                    label => format!("{label}: "),
                };
                view! {
                    <div class=format!("toast action-{}", toast.kind.as_str()) data-testid="toast"
                        data-action=toast.kind.as_str()
                        on:mouseenter=move |_| live.toasts.update(|t| t.pause(key, now_ms()))
                        on:mouseleave=move |_| live.toasts.update(|t| t.resume(key, now_ms()))>
                        <span class="toast-icon" aria-hidden="true">{heading(toast.kind, live.lang).0}</span>
                        <div class="toast-body">
                            <p class="toast-title">{label}{title}</p>
                            <p class="toast-detail">{detail}</p>
                        </div>
                        <button class="toast-close" aria-label=live.lang.t("Cerrar", "Close")
                            on:click=move |_| live.toasts.update(|t| t.dismiss(key))>"×"</button>
                    </div>
                }
            }/>
        </div>
    }
}
