//! The live dashboard of the furniture catalog: a feed of notifications, the catalog kept current
//! item by item, and a toast per change, from the broker's WebSocket.
//!
//! # Layout
//!
//! - [`state`]: plain Rust state driven by values (feed, catalog view, toasts, connection state
//!   and backoff, broker URL, formatting), tested natively.
//! - [`app`]: the signals that hold that state and the handler that feeds frames into it.
//! - [`ws`]: the browser glue: one connection loop that never gives up.
//! - [`components`]: one file per panel.

pub mod state;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod components;
#[cfg(target_arch = "wasm32")]
pub mod ws;

#[cfg(target_arch = "wasm32")]
pub use app::App;
