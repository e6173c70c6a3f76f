//! The dashboard's state, as plain Rust driven by values: frames, "now" in milliseconds, random
//! numbers. No signals and no browser APIs here, so all of it is tested natively.

pub mod activity;
pub mod catalog_view;
pub mod connection;
pub mod diagnostics;
pub mod diff;
pub mod feed;
pub mod format;
pub mod health;
pub mod i18n;
pub mod inbox;
pub mod list_steps;
pub mod reload;
pub mod settings;
pub mod snapshot;
pub mod sort;
pub mod toasts;
pub mod url;
