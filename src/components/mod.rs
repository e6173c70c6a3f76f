//! One file per panel of the screen.

pub mod catalog;
pub mod charts;
pub mod diagnostics;
pub mod feed;
pub mod status;
pub mod toasts;

use furniture_protocol::Action;

/// The icon of an action.
pub fn action_icon(action: Action) -> &'static str {
    match action {
        Action::Created => "🪑",
        Action::Updated => "🔄",
        Action::Deleted => "🗑️",
    }
}

/// The Spanish label of an action.
pub fn action_label(action: Action) -> &'static str {
    match action {
        Action::Created => "Creado",
        Action::Updated => "Actualizado",
        Action::Deleted => "Eliminado",
    }
}
