//! One file per panel of the screen.

pub mod catalog;
pub mod charts;
pub mod diagnostics;
pub mod feed;
pub mod rows;
pub mod settings;
pub mod status;
pub mod toasts;

use furniture_protocol::Action;
use leptos::component;

use crate::state::i18n::Lang;

/// The icon of an action.
pub fn action_icon(action: Action) -> &'static str {
    match action {
        Action::Created => "🪑",
        Action::Updated => "🔄",
        Action::Deleted => "🗑️",
    }
}

/// The label of an action.
pub fn action_label(action: Action, lang: Lang) -> &'static str {
    match action {
        Action::Created => lang.t("Creado", "Created"),
        Action::Updated => lang.t("Actualizado", "Updated"),
        Action::Deleted => lang.t("Eliminado", "Deleted"),
    }
}

/// The "show more" button under a list drawn a page at a time: it raises `limit` by `page` and
/// says how many that adds and how many stay hidden.
#[component]
pub fn ShowMore(
    /// Rows added per click.
    page: usize,
    /// Rows drawn now.
    limit: leptos::prelude::RwSignal<usize>,
    /// Rows not drawn.
    #[prop(into)]
    hidden: leptos::prelude::Signal<usize>,
    /// Its `data-testid`.
    testid: &'static str,
) -> impl leptos::prelude::IntoView {
    use leptos::prelude::*;
    let lang = expect_context::<crate::app::Live>().lang;
    let label = move || {
        let hidden = hidden.get();
        let count = crate::browser::number(hidden as u64, lang);
        match lang {
            Lang::Es => format!("Mostrar {} más · {count} sin mostrar", page.min(hidden)),
            Lang::En => format!("Show {} more · {count} not shown", page.min(hidden)),
        }
    };
    view! {
        <button type="button" class="chip" data-testid=testid on:click=move |_| limit.update(|l| *l += page)>{label}</button>
    }
}
