//! The wire contract of the furniture notification system, shared by the dashboard, the broker and
//! the notifier. Pure data: no I/O, no async, no browser APIs.
//!
//! # Layout
//!
//! - [`record`]: the furniture record as received, with tolerant typed accessors.
//! - [`python`]: how Python's `str()` prints a parsed JSON value, for the message texts.
//! - [`message`]: actions and the broker's exact message texts.
//! - [`time`]: timestamps in both of Python's `isoformat()` forms, parsed and produced.
//! - [`frame`]: every frame on the wire, decoded tolerantly and encoded strictly, including this
//!   project's `sync` extension.
//! - [`catalog`]: the catalog reducer: created and updated upsert by `furniture_id`, deleted removes.
//!
//! # Features
//!
//! `exact` (on by default): records keep their keys in the order received, which the message
//! texts need to print them as Python does, and numbers re-encode to exactly what was received.
//! Without it, keys are kept sorted and a number of 16 or more significant digits may parse one
//! unit off in its last place; the dashboard builds without it (a smaller wasm), as it reads
//! records only by field name, to show them.

pub mod catalog;
pub mod frame;
pub mod message;
pub mod python;
pub mod record;
pub mod time;

pub use catalog::{Applied, Catalog, CatalogEntry};
pub use frame::{
    decode_client, decode_server, encode_batch, encode_error, encode_pong, encode_sync_reply,
    encode_sync_parts, encode_welcome, split_batch, ClientFrame, SyncCatalog, IgnoredReason, Notification, ProducerMessage, Refusal, ServerFrame, SyncReply, SYNC_PART_BYTES,
    SyncRequest,
};
pub use message::{notification_text, Action};
pub use record::Furniture;
pub use time::Timestamp;

/// The welcome text the Python broker sends to every new connection, exactly.
pub const WELCOME_TEXT: &str = "Conectado al servidor de notificaciones de muebles";
