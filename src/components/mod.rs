//! One file per panel of the screen.
//!
//! Reactive text is written as a closure in its block, `{move || label()}`, even where `{label}`
//! would do: built with `erase_components` (`.cargo/config.toml`), Leptos renders closures written
//! in place through one shared function per output type, and a closure passed by name through
//! code of its own (a smaller download; BENCHMARKS.md, bundle size). For the same reason, lists of
//! elements, fixed or drawn by a closure (menu options, filter and material chips, bars), are
//! `Vec<AnyView>`, each item `.into_any()`: one type for all of them (an array is a type per
//! length and element), so the code that draws and updates such a list is in the wasm once.

pub mod catalog;
pub mod charts;
pub mod diagnostics;
pub mod feed;
pub mod rows;
pub mod settings;
pub mod status;
pub mod toasts;

use furniture_protocol::Action;

use crate::state::i18n::Lang;

pub use crate::state::format::action_icon;

/// The label of an action.
pub fn action_label(action: Action, lang: Lang) -> &'static str {
    match action {
        Action::Created => lang.t("Creado", "Created"),
        Action::Updated => lang.t("Actualizado", "Updated"),
        Action::Deleted => lang.t("Eliminado", "Deleted"),
    }
}

/// The label of a "show more" button: how many it adds (up to `page`) and how many stay hidden.
pub fn show_more_label(page: usize, hidden: usize, lang: Lang) -> String {
    let count = crate::state::format::count(hidden as u64, lang);
    match lang {
        Lang::Es => format!("Mostrar {} más · {count} sin mostrar", page.min(hidden)),
        Lang::En => format!("Show {} more · {count} not shown", page.min(hidden)),
    }
}
