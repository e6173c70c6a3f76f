//! Toasts: a bounded stack in a corner, one per change, each leaving on its own.

use leptos::prelude::*;

use crate::app::Live;
use crate::components::{action_icon, action_label};
use crate::state::toasts::Toast;

/// The toast stack.
#[component]
pub fn ToastStack() -> impl IntoView {
    let live = expect_context::<Live>();
    let toasts = move || live.toasts.with(|t| t.iter().cloned().collect::<Vec<_>>());
    view! {
        <div class="toasts" aria-live="polite" aria-atomic="false">
            <For each=toasts key=|t: &Toast| t.key let:toast>
                <div class=format!("toast action-{}", toast.action.as_str()) data-testid="toast"
                    data-action=toast.action.as_str() role="status">
                    <span class="toast-icon" aria-hidden="true">{action_icon(toast.action)}</span>
                    <div class="toast-body">
                        <p class="toast-title">{action_label(toast.action)} ": " {toast.title.clone()}</p>
                        <p class="toast-detail">{toast.detail.clone()}</p>
                    </div>
                    <button class="toast-close" aria-label="Cerrar"
                        on:click=move |_| live.toasts.update(|t| t.dismiss(toast.key))>"×"</button>
                </div>
            </For>
        </div>
    }
}
