//! Every frame on the wire: tolerant decoding of what arrives, strict encoding of what we send.
//!
//! Client → broker: producer messages (`furniture_created|updated|deleted`), `ping`, and this
//! project's `sync` request. Broker → client: the `connection` welcome, `furniture_notification`,
//! `pong`, and this project's `sync` reply. Decoding never panics: whatever cannot be used becomes
//! an [`IgnoredReason`] or [`ServerFrame::Invalid`] that the caller can count and show.
//!
//! # The `sync` extension
//!
//! A client asks `{"type": "sync", "since": 41}` (or without `since` for the catalog alone). Our
//! broker answers that client only with
//! Our broker's welcome also carries `"stream": "<id>"`, the id of its `seq` numbering; a new id
//! means the numbering started over and a client's last `seq` no longer applies.
//!
//! The reply: `{"type": "sync", "seq": 57, "complete": true, "catalog": [entry...], "missed": [notification...]}`:
//! `seq` is the last sequence number broadcast (0 before the first), `catalog` the current items
//! as `{"furniture": {...}, "seq": n, "timestamp": "..."}` (the last change of each), `missed` the
//! notifications with `since < seq` still in the broker's history, oldest first, and `complete`
//! is false when the history no longer reaches back to `since` (a gap: the catalog is still
//! exact, the feed is not). The Python broker ignores the request. With `"parts": true` in the
//! request, a large catalog comes first in `{"type": "sync_part", "catalog": [entry...]}` frames
//! and the reply holds the entries left ([`encode_sync_parts`]).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::message::Action;
use crate::record::Furniture;
use crate::time::Timestamp;
use crate::WELCOME_TEXT;

/// A producer's message: one change to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerMessage {
    pub action: Action,
    pub furniture: Furniture,
}

impl ProducerMessage {
    /// The frame the Python producer sends, its keys in its order, written compactly and in
    /// UTF-8 (Python writes `": "` and `", "` between them and escapes what is not ASCII: the
    /// same JSON, read by value): `{"type":"furniture_created","furniture":{...}}`.
    pub fn encode(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            furniture: &'a Map<String, Value>,
        }
        to_json(&Out { kind: self.action.producer_type(), furniture: &self.furniture.0 })
    }
}

/// A client's request for the catalog and the notifications after `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncRequest {
    /// The last `seq` the client has seen; `None` asks for the catalog alone.
    pub since: Option<u64>,
    /// From now on, frames that pile up for this client may come together in one `batch` frame
    /// (see [`split_batch`]).
    pub batch: bool,
    /// The client reads a large catalog in `sync_part` frames before the `sync` reply (see
    /// [`encode_sync_parts`]).
    pub parts: bool,
}

impl SyncRequest {
    /// `{"type":"sync","since":n}`, or `{"type":"sync"}` without `since`; with `"batch":true`
    /// and `"parts":true` when asked.
    pub fn encode(&self) -> String {
        let since = self.since.map(|n| format!(r#","since":{n}"#)).unwrap_or_default();
        let batch = if self.batch { r#","batch":true"# } else { "" };
        let parts = if self.parts { r#","parts":true"# } else { "" };
        format!(r#"{{"type":"sync"{since}{batch}{parts}}}"#)
    }
}

/// What a frame from a client asks the broker to do.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    /// Broadcast this change to everyone.
    Publish(ProducerMessage),
    /// Answer with a `pong` to this client only.
    Ping,
    /// Answer with the catalog and missed notifications (extension).
    Sync(SyncRequest),
    /// Log and ignore; the connection stays open.
    Ignored(IgnoredReason),
}

/// Why a client frame was ignored.
#[derive(Debug, Clone, PartialEq)]
pub enum IgnoredReason {
    /// Not JSON at all (the parser's message).
    NotJson(String),
    /// JSON, but not an object.
    NotAnObject,
    /// An object without a string `type`.
    MissingType,
    /// A `type` the broker does not handle.
    UnknownType(String),
    /// A producer message whose `furniture` is present but not an object (the Python broker drops
    /// these too).
    FurnitureNotObject,
    /// JSON nested deeper than [`MAX_CLIENT_DEPTH`].
    TooDeep,
}

impl IgnoredReason {
    /// A short stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            IgnoredReason::NotJson(_) => "not_json",
            IgnoredReason::NotAnObject => "not_an_object",
            IgnoredReason::MissingType => "missing_type",
            IgnoredReason::UnknownType(_) => "unknown_type",
            IgnoredReason::FurnitureNotObject => "furniture_not_object",
            IgnoredReason::TooDeep => "too_deep",
        }
    }
}

/// `s` as a JSON string, in quotes, for messages about a peer's text: the same as Rust's `{:?}`
/// for ordinary text, and still there in the dashboard, which is built without `Debug` text.
pub fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Characters of a peer's text (an unknown `type`, a duplicate key) that an [`IgnoredReason`]'s
/// text shows.
const SHOWN_TYPE_CHARS: usize = 64;

/// `text` quoted, only its start when it is long: it is the peer's, and reasons go to the log.
fn quoted_start(text: &str) -> String {
    match text.char_indices().nth(SHOWN_TYPE_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", quoted(&text[..cut]), text.len()),
        None => quoted(text),
    }
}

impl std::fmt::Display for IgnoredReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IgnoredReason::NotJson(e) => write!(f, "not JSON: {e}"),
            IgnoredReason::NotAnObject => f.write_str("JSON but not an object"),
            IgnoredReason::MissingType => f.write_str("no string `type`"),
            IgnoredReason::UnknownType(t) => write!(f, "unknown type {}", quoted_start(t)),
            IgnoredReason::FurnitureNotObject => f.write_str("`furniture` is not an object"),
            IgnoredReason::TooDeep => write!(f, "nested deeper than {MAX_CLIENT_DEPTH} levels"),
        }
    }
}

/// Decodes a text frame a client sent to the broker. Never panics.
///
/// Only RFC 8259 JSON gets through, so that whatever the broker passes on parses with a
/// browser's `JSON.parse`: `NaN`, `Infinity`, numbers beyond a double's range (`1e400`), lone
/// surrogates (`"\ud800"`), duplicate keys and nesting deeper than 128 levels are all
/// [`IgnoredReason::NotJson`]; nesting deeper than [`MAX_CLIENT_DEPTH`] is
/// [`IgnoredReason::TooDeep`].
pub fn decode_client(text: &str) -> ClientFrame {
    let value: Value = match serde_json::from_str::<Strict>(text) {
        Ok(v) => v.0,
        Err(e) => return ClientFrame::Ignored(IgnoredReason::NotJson(e.to_string())),
    };
    if deeper_than(&value, MAX_CLIENT_DEPTH) {
        return ClientFrame::Ignored(IgnoredReason::TooDeep);
    }
    let Value::Object(mut obj) = value else {
        return ClientFrame::Ignored(IgnoredReason::NotAnObject);
    };
    let kind = match obj.get("type") {
        Some(Value::String(s)) => s.clone(),
        _ => return ClientFrame::Ignored(IgnoredReason::MissingType),
    };
    if let Some(action) = Action::from_producer_type(&kind) {
        return match obj.remove("furniture") {
            None => ClientFrame::Publish(ProducerMessage { action, furniture: Furniture::default() }),
            Some(Value::Object(m)) => ClientFrame::Publish(ProducerMessage { action, furniture: Furniture(m) }),
            Some(_) => ClientFrame::Ignored(IgnoredReason::FurnitureNotObject),
        };
    }
    match kind.as_str() {
        "ping" => ClientFrame::Ping,
        "sync" => ClientFrame::Sync(SyncRequest {
            since: obj.get("since").and_then(lenient_u64),
            batch: obj.get("batch") == Some(&Value::Bool(true)),
            parts: obj.get("parts") == Some(&Value::Bool(true)),
        }),
        _ => ClientFrame::Ignored(IgnoredReason::UnknownType(kind)),
    }
}

/// How many levels a client's frame may nest, its own object being the first and its `furniture`
/// the second. The broker's sync reply carries a record two levels deeper than the change that
/// brought it, and every frame it sends must read within the 128 levels of serde_json, the
/// dashboard's decoder: a deeper change would make every later sync reply unreadable.
pub const MAX_CLIENT_DEPTH: usize = 64;

/// Whether `v` has a container below `levels` levels (`v` itself being the first).
fn deeper_than(v: &Value, levels: usize) -> bool {
    match v {
        Value::Array(items) => levels == 0 || items.iter().any(|x| deeper_than(x, levels - 1)),
        Value::Object(m) => levels == 0 || m.values().any(|x| deeper_than(x, levels - 1)),
        _ => false,
    }
}

/// A JSON value parsed like `serde_json::Value`, except that an object with the same key twice is
/// an error instead of keeping the last one (which `JSON.parse` and Python would each read their
/// own way).
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        use serde::de::Error;
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if obj.contains_key(&key) {
                return Err(A::Error::custom(format!("duplicate key {}", quoted_start(&key))));
            }
            obj.insert(key, value);
        }
        Ok(Value::Object(obj))
    }
}

/// Why our broker refused a client's frame, sent to that client only as
/// `{"type":"error","reason":"...","message":"...","timestamp":"..."}` (an extension: only a
/// client that tried something it may not do ever receives one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A publish from a connection without the broker's publish token.
    TokenRequired,
    /// A publish from a non-loopback address to a broker in protected mode (no token set).
    ProtectedMode,
    /// The broker could not write the change to its state file; nothing was broadcast.
    Storage,
    /// The broker's shared state (Redis) stopped answering in the middle of writing the change
    /// and did not come back in time to tell whether it was written: it may have been broadcast.
    InDoubt,
}

impl Refusal {
    /// The `reason` field: stable, for programs.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::TokenRequired => "token_required",
            Refusal::ProtectedMode => "protected_mode",
            Refusal::Storage => "storage",
            Refusal::InDoubt => "in_doubt",
        }
    }

    /// The `message` field: for people.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::TokenRequired => {
                "publish refused: this broker needs its publish token (add ?token=... to the URL or send Authorization: Bearer ...)"
            }
            Refusal::ProtectedMode => {
                "publish refused: without a publish token this broker accepts publishing only from its own machine (loopback)"
            }
            Refusal::Storage => "publish refused: the broker cannot write its state; nothing was broadcast, try again",
            Refusal::InDoubt => {
                "publish outcome unknown: the broker lost its state store while writing this change, which may have been broadcast; check before sending it again"
            }
        }
    }

    fn from_reason(reason: &str) -> Option<Refusal> {
        [Refusal::TokenRequired, Refusal::ProtectedMode, Refusal::Storage, Refusal::InDoubt].into_iter().find(|r| r.reason() == reason)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// The `error` frame telling a client why its frame was refused.
pub fn encode_error(refusal: Refusal, now: Timestamp) -> String {
    #[derive(Serialize)]
    struct Out {
        #[serde(rename = "type")]
        kind: &'static str,
        reason: &'static str,
        message: &'static str,
        timestamp: String,
    }
    to_json(&Out { kind: "error", reason: refusal.reason(), message: refusal.message(), timestamp: now.to_string() })
}

/// One broadcast change, as every client receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub action: Action,
    /// The record exactly as the producer sent it (empty when it sent none).
    pub furniture: Furniture,
    /// The broker's text (see [`crate::notification_text`]); empty when missing.
    pub message: String,
    /// When the broker broadcast it; `None` when missing or unreadable.
    pub timestamp: Option<Timestamp>,
    /// This project's broker numbers every broadcast; the Python broker does not.
    pub seq: Option<u64>,
}

impl Notification {
    /// The frame our broker sends: the Python broker's keys in its order, plus `seq`.
    pub fn encode(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            action: &'static str,
            furniture: &'a Map<String, Value>,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            timestamp: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            seq: Option<u64>,
        }
        to_json(&Out {
            kind: "furniture_notification",
            action: self.action.as_str(),
            furniture: &self.furniture.0,
            message: &self.message,
            timestamp: self.timestamp.map(|t| t.to_string()),
            seq: self.seq,
        })
    }

    /// Takes the record out of `obj` rather than copying it (a sync reply holds thousands).
    fn from_object(mut obj: Map<String, Value>) -> Result<Notification, String> {
        let action = match obj.get("action") {
            Some(Value::String(s)) => {
                Action::from_action(s).ok_or_else(|| format!("unknown action {}", quoted(s)))?
            }
            _ => return Err("notification without an action".to_owned()),
        };
        Ok(Notification {
            action,
            furniture: match take(&mut obj, "furniture") {
                Value::Object(m) => Furniture(m),
                _ => Furniture::default(),
            },
            message: match take(&mut obj, "message") {
                Value::String(m) => m,
                _ => String::new(),
            },
            timestamp: timestamp_of(&obj),
            seq: obj.get("seq").and_then(lenient_u64),
        })
    }
}

/// The broker's answer to a [`SyncRequest`] (extension).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncReply {
    /// The last `seq` broadcast; the catalog reflects every notification up to it.
    pub seq: u64,
    /// False when the history no longer reaches back to the requested `since`.
    pub complete: bool,
    pub catalog: Vec<crate::catalog::CatalogEntry>,
    pub missed: Vec<Notification>,
}

/// A catalog that encodes to more than this many bytes goes, to a client that asked for parts, in
/// `sync_part` frames of at least this size, then the `sync` reply with the rest: a browser then
/// decodes it in one task per part instead of in one long task. No smaller than the broker's
/// `batch` frames, so that each part leaves the broker as a message of its own.
pub const SYNC_PART_BYTES: usize = 256 * 1024;

/// Encodes a sync reply. `missed` are already-encoded notification frames (the broker keeps its
/// history encoded, so nothing is serialised twice).
pub fn encode_sync_reply<'a>(
    seq: u64,
    complete: bool,
    catalog: impl IntoIterator<Item = &'a crate::catalog::CatalogEntry>,
    missed: impl IntoIterator<Item = &'a str>,
) -> String {
    encode_sync_parts(seq, complete, catalog, missed, usize::MAX).pop().unwrap_or_default()
}

/// Encodes a sync reply as frames to send in order: `{"type":"sync_part","catalog":[entry...]}`
/// each time the catalog's entries so far reach `part_bytes`, then the `sync` reply with the
/// entries left (all of them when they never do). The client joins the parts' entries, in order,
/// before the reply's own.
pub fn encode_sync_parts<'a>(
    seq: u64,
    complete: bool,
    catalog: impl IntoIterator<Item = &'a crate::catalog::CatalogEntry>,
    missed: impl IntoIterator<Item = &'a str>,
    part_bytes: usize,
) -> Vec<String> {
    let SyncCatalog { mut parts, rest } = SyncCatalog::encode(catalog, part_bytes);
    parts.push(SyncCatalog::reply(seq, complete, &rest, missed));
    parts
}

/// A catalog encoded for sync replies, which any number of replies at the same `seq` can share:
/// its `sync_part` frames, and the entries left for the reply itself (see [`encode_sync_parts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCatalog {
    pub parts: Vec<String>,
    /// The entries, comma-separated, that go in the reply's own `catalog`.
    pub rest: String,
}

const SYNC_PART_HEAD: &str = r#"{"type":"sync_part","catalog":["#;

impl SyncCatalog {
    /// Encodes `catalog` in parts of at least `part_bytes` (no parts with `usize::MAX`).
    pub fn encode<'a>(catalog: impl IntoIterator<Item = &'a crate::catalog::CatalogEntry>, part_bytes: usize) -> SyncCatalog {
        #[derive(Serialize)]
        struct Entry<'a> {
            furniture: &'a Map<String, Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            seq: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            timestamp: Option<String>,
        }
        let mut parts = Vec::new();
        let mut out = String::from(SYNC_PART_HEAD);
        let mut empty = true;
        for e in catalog {
            if !empty {
                out.push(',');
            }
            out.push_str(&to_json(&Entry {
                furniture: &e.furniture.0,
                seq: e.seq,
                timestamp: e.timestamp.map(|t| t.to_string()),
            }));
            empty = false;
            if out.len() >= part_bytes {
                out.push_str("]}");
                parts.push(std::mem::replace(&mut out, String::from(SYNC_PART_HEAD)));
                empty = true;
            }
        }
        SyncCatalog { parts, rest: out.split_off(SYNC_PART_HEAD.len()) }
    }

    /// The `sync` reply that follows the parts: `rest` (a [`SyncCatalog`]'s) as its catalog.
    pub fn reply<'a>(seq: u64, complete: bool, rest: &str, missed: impl IntoIterator<Item = &'a str>) -> String {
        let mut last = format!(r#"{{"type":"sync","seq":{seq},"complete":{complete},"catalog":[{rest}],"missed":["#);
        for (i, frame) in missed.into_iter().enumerate() {
            if i > 0 {
                last.push(',');
            }
            last.push_str(frame);
        }
        last.push_str("]}");
        last
    }

    /// The whole catalog as one reply's entries, when the parts are not to be sent (`parts` as
    /// [`SyncCatalog::parts`] made them).
    pub fn whole<S: AsRef<str>>(parts: &[S], rest: &str) -> String {
        let mut out = String::new();
        for part in parts.iter().map(AsRef::as_ref).chain([rest]) {
            let entries = part.strip_prefix(SYNC_PART_HEAD).and_then(|p| p.strip_suffix("]}")).unwrap_or(part);
            if !entries.is_empty() {
                if !out.is_empty() {
                    out.push(',');
                }
                out.push_str(entries);
            }
        }
        out
    }
}

/// The welcome frame, to the new client only. Our broker adds `stream`: the id of its `seq`
/// numbering, which changes when the numbering starts over (a broker without persistent state
/// restarted), so a client knows its last `seq` no longer applies.
pub fn encode_welcome(client_count: usize, now: Timestamp, stream: Option<&str>) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        message: &'a str,
        timestamp: String,
        client_count: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        stream: Option<&'a str>,
    }
    to_json(&Out { kind: "connection", message: WELCOME_TEXT, timestamp: now.to_string(), client_count, stream })
}

/// The answer to a `ping`: exactly the Python broker's, or, for a client that uses this
/// project's extensions (`client_count` given), with the number of clients connected now, so that
/// a screen open for weeks does not show the count of the day it connected.
pub fn encode_pong(now: Timestamp, client_count: Option<usize>) -> String {
    match client_count {
        None => format!(r#"{{"type":"pong","timestamp":"{now}"}}"#),
        Some(n) => format!(r#"{{"type":"pong","timestamp":"{now}","client_count":{n}}}"#),
    }
}

/// What a frame from the broker says, decoded tolerantly.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// The `connection` welcome.
    Welcome { message: String, client_count: Option<u64>, timestamp: Option<Timestamp>, stream: Option<String> },
    Notification(Notification),
    /// The answer to a `ping`; this project's broker adds the client count for extension users.
    Pong { timestamp: Option<Timestamp>, client_count: Option<u64> },
    Sync(SyncReply),
    /// Part of the catalog of the `sync` reply that follows (asked for with `parts`).
    SyncPart(Vec<crate::catalog::CatalogEntry>),
    /// Our broker refused something this client sent (`reason` as sent, `refusal` when known).
    Error { reason: String, refusal: Option<Refusal>, message: String },
    /// A JSON object with a `type` we do not know: count it, show it in diagnostics.
    Unknown { kind: String },
    /// Anything unusable: not JSON, not an object, a notification without a valid action.
    Invalid(String),
}

/// The frames of a `batch` frame, in order, or `None` when `text` is not one. A `batch` frame
/// (this project's broker only, to clients that asked for it in `sync`) holds frames that piled
/// up for one client: `{"type":"batch","frames":[{...},{...}]}`. Each part decodes like a frame of
/// its own with [`decode_server`].
pub fn split_batch(text: &str) -> Option<Vec<&str>> {
    // Split where the broker joined, without parsing the frames twice: each part is parsed by
    // `decode_server`, which rejects anything that is not JSON. Only the compact form that
    // `encode_batch` writes is recognised.
    let inner = text.strip_prefix(BATCH_HEAD)?.strip_suffix("]}")?;
    let mut parts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0);
    for (i, b) in inner.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || in_string {
        return None;
    }
    if !inner.is_empty() {
        parts.push(&inner[start..]);
    }
    parts.iter().all(|p| p.starts_with('{') && p.ends_with('}')).then_some(parts)
}

/// How a `batch` frame begins.
const BATCH_HEAD: &str = r#"{"type":"batch","frames":["#;

/// One `batch` frame holding `frames` (each a JSON object), for [`split_batch`].
pub fn encode_batch<'a>(frames: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from(BATCH_HEAD);
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(frame);
    }
    out.push_str("]}");
    out
}

/// Why a frame is not JSON: where, and whether it is cut short or malformed. Not serde_json's
/// own message ("expected `,` or `}` at line 1 column 9"), whose texts, and the standard
/// library's I/O error texts behind them, would be 0.9 KB of the dashboard's download (gzip).
fn not_json(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "cut short",
        _ => "malformed",
    };
    format!("not JSON: {what} at line {} column {}", e.line(), e.column())
}

/// Decodes a text frame from a broker (ours or the Python one). Never panics. What the Python
/// broker passes on as Python's `json` reads and writes it, and serde_json does not read
/// (`NaN`, `Infinity`, integers past a double's range, nesting past 128 levels, lone
/// surrogates), costs the value, not the change: see [`python_json_as_ours`].
pub fn decode_server(text: &str) -> ServerFrame {
    let parsed = serde_json::from_str::<Value>(text).or_else(|e| python_json_as_ours(text).and_then(|t| serde_json::from_str(&t).ok()).ok_or(e));
    let mut obj = match parsed {
        Ok(Value::Object(obj)) => obj,
        Ok(_) => return ServerFrame::Invalid("JSON but not an object".to_owned()),
        Err(e) => return ServerFrame::Invalid(not_json(&e)),
    };
    let kind = match obj.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => String::new(),
    };
    match kind.as_str() {
        "connection" => ServerFrame::Welcome {
            message: obj.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
            client_count: obj.get("client_count").and_then(lenient_u64),
            timestamp: timestamp_of(&obj),
            stream: obj.get("stream").and_then(Value::as_str).map(str::to_owned),
        },
        "furniture_notification" => match Notification::from_object(obj) {
            Ok(n) => ServerFrame::Notification(n),
            Err(e) => ServerFrame::Invalid(e),
        },
        "pong" => ServerFrame::Pong { timestamp: timestamp_of(&obj), client_count: obj.get("client_count").and_then(lenient_u64) },
        "sync" => ServerFrame::Sync(sync_reply_of(obj)),
        "sync_part" => ServerFrame::SyncPart(catalog_of(&mut obj)),
        "error" => {
            let reason = obj.get("reason").and_then(Value::as_str).unwrap_or_default().to_owned();
            ServerFrame::Error {
                refusal: Refusal::from_reason(&reason),
                reason,
                message: obj.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
            }
        }
        "" => ServerFrame::Invalid("no string `type`".to_owned()),
        _ => ServerFrame::Unknown { kind },
    }
}

/// Levels of nesting that [`python_json_as_ours`] keeps (serde_json reads 128).
const PYTHON_DEPTH: usize = 100;

/// Digits (and sign, point, exponent) of the longest number [`python_json_as_ours`] keeps: a
/// double's range ends at 309 digits.
const PYTHON_NUMBER_LEN: usize = 300;

/// `text` as serde_json reads what Python's `json` writes and the Python broker passes on, with
/// each value it cannot read made one it shows as missing: `NaN`, `Infinity`, `-Infinity`,
/// numbers too long for a double (Python's integers have no bound) and values nested deeper than
/// [`PYTHON_DEPTH`] as `null`; lone surrogates (`"\ud800"`) as U+FFFD, as a browser shows them.
/// `None` when it has none of them.
fn python_json_as_ours(text: &str) -> Option<String> {
    let b = text.as_bytes();
    // Whether the escape at `at` is of a surrogate, a high one (`\ud800`–`\udbff`: 1) or a
    // low one (2), 0 when it is not one or not whole (its six bytes ASCII: what replaces them
    // ends at a character's end).
    let surrogate = |at: usize| match b.get(at..at + 6) {
        Some([b'\\', b'u', b'd' | b'D', c, d, e]) if d.is_ascii_hexdigit() && e.is_ascii_hexdigit() => match c | 0x20 {
            b'8' | b'9' | b'a' | b'b' => 1,
            b'c'..=b'f' => 2,
            _ => 0,
        },
        _ => 0,
    };
    let mut out = String::new();
    let (mut from, mut i, mut depth) = (0, 0, 0);
    // `text[at]` written as `with`. (Every place replaced starts and ends at an ASCII byte.)
    let mut put = |from: &mut usize, at: std::ops::Range<usize>, with: &str| {
        out.push_str(&text[*from..at.start]);
        out.push_str(with);
        *from = at.end;
    };
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    match surrogate(i) {
                        1 if surrogate(i + 6) == 2 => i += 12,
                        1 | 2 => {
                            put(&mut from, i..i + 6, "\\ufffd");
                            i += 6;
                        }
                        _ => i += 1 + usize::from(b[i] == b'\\'),
                    }
                }
            }
            b'[' | b'{' if depth == PYTHON_DEPTH => {
                let end = value_end(b, i);
                put(&mut from, i..end, "null");
                i = end;
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' | b'I' | b'N' => {
                let run = i + b[i..].iter().position(|c| !matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')).unwrap_or(b.len() - i);
                let word = ["-Infinity", "Infinity", "NaN"].into_iter().find(|w| b[i..].starts_with(w.as_bytes())).map(|w| i + w.len());
                if let Some(end) = word.or((run - i > PYTHON_NUMBER_LEN).then_some(run)) {
                    put(&mut from, i..end, "null");
                }
                i = word.unwrap_or(run).max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (from > 0).then(|| out + &text[from..])
}

/// Where the array or object opening at `i` ends: past its closing bracket, or at the text's end.
fn value_end(b: &[u8], mut i: usize) -> usize {
    let (mut depth, mut in_string) = (0usize, false);
    while i < b.len() {
        match (in_string, b[i]) {
            (true, b'\\') => i += 1,
            (_, b'"') => in_string = !in_string,
            (false, b'[' | b'{') => depth += 1,
            (false, b']' | b'}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// The value at `key`, left as `null` in `obj` (cheaper in code than removing it).
fn take(obj: &mut Map<String, Value>, key: &str) -> Value {
    obj.get_mut(key).map(Value::take).unwrap_or_default()
}

fn list(obj: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match take(obj, key) {
        Value::Array(list) => list,
        _ => Vec::new(),
    }
}

/// The entries of a `catalog` list; those that are not objects with a `furniture` object are
/// left out.
fn catalog_of(obj: &mut Map<String, Value>) -> Vec<crate::catalog::CatalogEntry> {
    list(obj, "catalog")
        .into_iter()
        .filter_map(|e| match e {
            Value::Object(mut e) => {
                let furniture = match take(&mut e, "furniture") {
                    Value::Object(f) => std::sync::Arc::new(Furniture(f)),
                    _ => return None,
                };
                Some(crate::catalog::CatalogEntry { furniture, seq: e.get("seq").and_then(lenient_u64), timestamp: timestamp_of(&e) })
            }
            _ => None,
        })
        .collect()
}

fn sync_reply_of(mut obj: Map<String, Value>) -> SyncReply {
    let catalog = catalog_of(&mut obj);
    let missed = list(&mut obj, "missed")
        .into_iter()
        .filter_map(|n| match n {
            Value::Object(n) => Notification::from_object(n).ok(),
            _ => None,
        })
        .collect();
    SyncReply {
        seq: obj.get("seq").and_then(lenient_u64).unwrap_or(0),
        complete: obj.get("complete").and_then(Value::as_bool).unwrap_or(false),
        catalog,
        missed,
    }
}

fn timestamp_of(obj: &Map<String, Value>) -> Option<Timestamp> {
    obj.get("timestamp").and_then(Value::as_str).and_then(Timestamp::parse)
}

/// A non-negative integer sent as a number or as a string of digits.
fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serialising maps with string keys and plain values cannot fail.
    serde_json::to_string(value).expect("JSON values always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn producer_frames_decode_to_publishes() {
        let f = decode_client(r#"{"type": "furniture_updated", "furniture": {"furniture_id": "a"}}"#);
        let ClientFrame::Publish(p) = f else { panic!("{f:?}") };
        assert_eq!(p.action, Action::Updated);
        assert_eq!(p.furniture.id().as_deref(), Some("a"));
    }

    #[test]
    fn missing_furniture_is_an_empty_record_and_non_objects_are_ignored() {
        assert_eq!(
            decode_client(r#"{"type":"furniture_updated"}"#),
            ClientFrame::Publish(ProducerMessage { action: Action::Updated, furniture: Furniture::default() })
        );
        for bad in [r#"{"type":"furniture_updated","furniture":null}"#, r#"{"type":"furniture_deleted","furniture":"texto"}"#] {
            assert_eq!(decode_client(bad), ClientFrame::Ignored(IgnoredReason::FurnitureNotObject));
        }
    }

    #[test]
    fn everything_else_is_ignored_with_a_reason() {
        assert!(matches!(decode_client("not json at all"), ClientFrame::Ignored(IgnoredReason::NotJson(_))));
        assert_eq!(decode_client("[1,2]"), ClientFrame::Ignored(IgnoredReason::NotAnObject));
        assert_eq!(decode_client(r#"{"type": 5}"#), ClientFrame::Ignored(IgnoredReason::MissingType));
        assert_eq!(
            decode_client(r#"{"type": "something_else"}"#),
            ClientFrame::Ignored(IgnoredReason::UnknownType("something_else".into()))
        );
        assert_eq!(decode_client(r#"{"type":"ping"}"#), ClientFrame::Ping);
    }

    #[test]
    fn sync_requests_round_trip() {
        for since in [None, Some(41)] {
            for batch in [false, true] {
                for parts in [false, true] {
                    let req = SyncRequest { since, batch, parts };
                    assert_eq!(decode_client(&req.encode()), ClientFrame::Sync(req));
                }
            }
        }
        assert_eq!(
            decode_client(r#"{"type":"sync","since":"7","parts":1}"#),
            ClientFrame::Sync(SyncRequest { since: Some(7), batch: false, parts: false })
        );
        assert_eq!(
            SyncRequest { since: Some(3), batch: true, parts: true }.encode(),
            r#"{"type":"sync","since":3,"batch":true,"parts":true}"#
        );
    }

    /// A catalog in parts: each part at least the size asked for, nothing but entries in them,
    /// and the parts' entries then the reply's are the whole catalog in order.
    #[test]
    fn sync_replies_split_into_parts_that_join_in_order() {
        let catalog: Vec<crate::catalog::CatalogEntry> = (0..50)
            .map(|i| crate::catalog::CatalogEntry {
                furniture: std::sync::Arc::new(Furniture::new(&i.to_string(), &format!("Mesa {i}"), "d", 75, 120, "roble", "Ana")),
                seq: Some(i),
                timestamp: Timestamp::parse("2024-01-15T14:30:00Z"),
            })
            .collect();
        let missed = Notification {
            action: Action::Deleted,
            furniture: Furniture::new("x", "Silla", "d", 90, 40, "pino", "Ana"),
            message: "🗑️ Mueble eliminado: Silla".into(),
            timestamp: None,
            seq: Some(51),
        };
        let whole = encode_sync_reply(51, true, &catalog, [missed.encode().as_str()]);
        assert_eq!(encode_sync_parts(51, true, &catalog, [missed.encode().as_str()], usize::MAX), std::slice::from_ref(&whole));
        let frames = encode_sync_parts(51, true, &catalog, [missed.encode().as_str()], 1000);
        assert!(frames.len() > 4, "{} frames", frames.len());
        let mut joined = Vec::new();
        let (last, parts) = frames.split_last().unwrap();
        for part in parts {
            assert!(part.len() >= 1000 && part.len() < 1000 + 400, "a part of {} bytes", part.len());
            let ServerFrame::SyncPart(entries) = decode_server(part) else { panic!("{part}") };
            joined.extend(entries);
        }
        let ServerFrame::Sync(reply) = decode_server(last) else { panic!("{last}") };
        assert_eq!((reply.seq, reply.complete, &reply.missed), (51, true, &vec![missed.clone()]));
        joined.extend(reply.catalog);
        assert_eq!(joined, catalog);
        // A catalog that ends exactly at a part's end leaves the reply an empty list.
        // The parts joined back into one reply's catalog are the whole catalog's.
        let shared = SyncCatalog::encode(&catalog, 1000);
        assert_eq!(SyncCatalog::reply(51, true, &SyncCatalog::whole(&shared.parts, &shared.rest), [missed.encode().as_str()]), whole);
        assert_eq!(SyncCatalog::whole(&[] as &[&str], ""), "");
        let exact = encode_sync_parts(0, true, &catalog[..1], std::iter::empty(), 1);
        assert_eq!(exact.len(), 2);
        let ServerFrame::Sync(reply) = decode_server(&exact[1]) else { panic!("{}", exact[1]) };
        assert!(reply.catalog.is_empty());
        assert_eq!(decode_server(r#"{"type":"sync_part","catalog":[1,{"furniture":2},{"furniture":{}}]}"#), ServerFrame::SyncPart(vec![crate::catalog::CatalogEntry {
            furniture: std::sync::Arc::new(Furniture::default()), seq: None, timestamp: None }]));
    }

    /// A change nested to the bound is taken, and the sync reply that carries it, two levels
    /// deeper, still decodes; one level more is refused.
    #[test]
    fn changes_nest_only_as_deep_as_a_sync_reply_can_carry_them() {
        // The frame's object, its `furniture`, then `arrays` nested arrays.
        let change = |arrays: usize| format!(r#"{{"type":"furniture_created","furniture":{{"furniture_id":"d","x":{}1{}}}}}"#, "[".repeat(arrays), "]".repeat(arrays));
        let ClientFrame::Publish(m) = decode_client(&change(MAX_CLIENT_DEPTH - 2)) else { panic!("a change at the bound was refused") };
        assert_eq!(decode_client(&change(MAX_CLIENT_DEPTH - 1)), ClientFrame::Ignored(IgnoredReason::TooDeep));
        assert_eq!(IgnoredReason::TooDeep.to_string(), "nested deeper than 64 levels");
        // A long unknown type (the peer's text, logged) is shown by its start only.
        let ClientFrame::Ignored(long) = decode_client(&format!(r#"{{"type":"{}"}}"#, "ñ".repeat(100_000))) else { panic!() };
        assert_eq!(long.to_string(), format!("unknown type \"{}\"… (200000 bytes)", "ñ".repeat(64)));
        // So is a long duplicate key.
        let key = "k".repeat(100_000);
        let ClientFrame::Ignored(twice) = decode_client(&format!(r#"{{"type":"ping","{key}":1,"{key}":2}}"#)) else { panic!() };
        let said = twice.to_string();
        assert!(said.contains("duplicate key") && said.contains("(100000 bytes)") && said.len() < 200, "{said:.300}");
        let note = Notification { action: m.action, furniture: m.furniture.clone(), message: "x".into(), timestamp: None, seq: Some(1) };
        let entry = crate::catalog::CatalogEntry { furniture: std::sync::Arc::new(m.furniture), seq: Some(1), timestamp: None };
        for frame in encode_sync_parts(1, true, [&entry], [note.encode().as_str()], 1) {
            assert!(matches!(decode_server(&frame), ServerFrame::Sync(_) | ServerFrame::SyncPart(_)), "{frame:.80}");
        }
        // Deep frames are refused as readily as any other: nesting within objects counts too.
        let objects = format!(r#"{{"type":"ping","x":{}1{}}}"#, r#"{"a":"#.repeat(MAX_CLIENT_DEPTH), "}".repeat(MAX_CLIENT_DEPTH));
        assert_eq!(decode_client(&objects), ClientFrame::Ignored(IgnoredReason::TooDeep));
    }

    /// A batch splits into its frames as sent, each decoding on its own; anything else is not a
    /// batch (and a malformed one decodes as an unknown frame, never a panic).
    #[test]
    fn batches_split_into_their_frames() {
        let pong = encode_pong(Timestamp::parse("2024-05-01T10:00:00").unwrap(), None);
        let error = encode_error(Refusal::Storage, Timestamp::parse("2024-05-01T10:00:01").unwrap());
        let batch = encode_batch([pong.as_str(), error.as_str()]);
        assert!(serde_json::from_str::<Value>(&batch).is_ok(), "a batch is JSON");
        assert_eq!(split_batch(&batch), Some(vec![pong.as_str(), error.as_str()]));
        assert!(matches!(decode_server(split_batch(&batch).unwrap()[1]), ServerFrame::Error { refusal: Some(Refusal::Storage), .. }));
        assert_eq!(split_batch(&pong), None);
        assert_eq!(split_batch(r#"{"type":"batch","frames":[]}"#), Some(vec![]));
        let tricky = [r#"{"a":"},{\\\"]"}"#, r#"{"b":[{"c":1},{"d":"\\"}]}"#];
        assert_eq!(split_batch(&encode_batch(tricky)), Some(tricky.to_vec()), "commas and brackets in strings and nesting");
        for bad in [r#"{"type":"batch"}"#, r#"{"type":"batch","frames":{}}"#, r#"{"type":"batch","frames":[1,"#, r#"{"type":"batch","frames":[1,2]}"#, r#"{"type":"batch","frames":[{"a":"}]}"#, r#"{"type":"batch","frames":[{}]]}]}"#] {
            assert_eq!(split_batch(bad), None, "{bad}");
            let _ = decode_server(bad);
        }
    }

    #[test]
    #[cfg(feature = "exact")]
    fn notifications_round_trip_with_seq_and_key_order() {
        let n = Notification {
            action: Action::Created,
            furniture: Furniture::new("1", "Mesa", "d", 75, 120, "roble", "Ana"),
            message: "🪑 Nuevo mueble creado: Mesa - roble (120x75cm)".into(),
            timestamp: Timestamp::parse("2024-01-15T14:30:00Z"),
            seq: Some(9),
        };
        let text = n.encode();
        assert!(text.starts_with(r#"{"type":"furniture_notification","action":"created","furniture":{"furniture_id":"1","nombre""#), "{text}");
        assert_eq!(decode_server(&text), ServerFrame::Notification(n));
    }

    #[test]
    fn welcome_and_pong_encode_as_the_python_broker_does() {
        let now = Timestamp::parse("2024-01-15T14:30:00.123456Z").unwrap();
        let v: Value = serde_json::from_str(&encode_welcome(3, now, None)).unwrap();
        assert_eq!(v, json!({"type": "connection", "message": WELCOME_TEXT, "timestamp": "2024-01-15T14:30:00.123456Z", "client_count": 3}));
        let v: Value = serde_json::from_str(&encode_welcome(1, now, Some("ab12"))).unwrap();
        assert_eq!(v["stream"], "ab12");
        let v: Value = serde_json::from_str(&encode_pong(now, None)).unwrap();
        assert_eq!(v, json!({"type": "pong", "timestamp": "2024-01-15T14:30:00.123456Z"}));
    }

    #[test]
    fn pongs_for_extension_users_carry_the_client_count() {
        let now = Timestamp::parse("2024-01-15T14:30:00Z").unwrap();
        let v: Value = serde_json::from_str(&encode_pong(now, Some(12))).unwrap();
        assert_eq!(v, json!({"type": "pong", "timestamp": "2024-01-15T14:30:00Z", "client_count": 12}));
        assert_eq!(decode_server(&encode_pong(now, Some(12))), ServerFrame::Pong { timestamp: Some(now), client_count: Some(12) });
        assert_eq!(decode_server(&encode_pong(now, None)), ServerFrame::Pong { timestamp: Some(now), client_count: None });
    }

    #[test]
    fn sync_replies_round_trip() {
        let entry = crate::catalog::CatalogEntry {
            furniture: std::sync::Arc::new(Furniture::new("1", "Mesa", "d", 75, 120, "roble", "Ana")),
            seq: Some(3),
            timestamp: Timestamp::parse("2024-01-15T14:30:00Z"),
        };
        let n = Notification {
            action: Action::Deleted,
            furniture: Furniture::new("2", "Silla", "d", 90, 40, "pino", "Ana"),
            message: "🗑️ Mueble eliminado: Silla".into(),
            timestamp: Timestamp::parse("2024-01-15T14:31:00Z"),
            seq: Some(4),
        };
        let text = encode_sync_reply(4, false, [&entry], [n.encode().as_str()]);
        let ServerFrame::Sync(reply) = decode_server(&text) else { panic!("{text}") };
        assert_eq!(reply, SyncReply { seq: 4, complete: false, catalog: vec![entry], missed: vec![n] });
    }

    #[test]
    fn server_frames_tolerate_strings_nulls_and_junk() {
        assert_eq!(
            decode_server(r#"{"type":"connection","client_count":"3","timestamp":null}"#),
            ServerFrame::Welcome { message: String::new(), client_count: Some(3), timestamp: None, stream: None }
        );
        assert_eq!(decode_server("{"), ServerFrame::Invalid("not JSON: cut short at line 1 column 1".into()));
        assert_eq!(decode_server("{\n \"type\" 1}"), ServerFrame::Invalid("not JSON: malformed at line 2 column 9".into()));
        assert!(matches!(decode_server("null"), ServerFrame::Invalid(_)));
        assert!(matches!(decode_server(r#"{"type":"furniture_notification","action":"exploded"}"#), ServerFrame::Invalid(_)));
        assert_eq!(decode_server(r#"{"type":"news"}"#), ServerFrame::Unknown { kind: "news".into() });
        let ServerFrame::Notification(n) = decode_server(r#"{"type":"furniture_notification","action":"updated","furniture":"x","seq":"12"}"#) else { panic!() };
        assert_eq!((n.furniture, n.seq, n.timestamp), (Furniture::default(), Some(12), None));
    }

    #[test]
    fn python_constants_from_the_python_broker_are_read_as_null() {
        // As the Python broker writes a change whose sizes were NaN and ±Infinity.
        let text = r#"{"type": "furniture_notification", "action": "created", "furniture": {"_id": "n1", "nombre": "NaN \" Infinity", "altura": NaN, "ancho": Infinity, "profundo": [-Infinity, 1]}, "message": "Nuevo mueble creado: NaN \" Infinity - (nanxinfcm)", "timestamp": "2025-11-28T03:20:00.123456"}"#;
        let ServerFrame::Notification(n) = decode_server(text) else { panic!("{:?}", decode_server(text)) };
        assert_eq!(n.furniture.0["altura"], Value::Null);
        assert_eq!(n.furniture.0["ancho"], Value::Null);
        assert_eq!(n.furniture.0["profundo"], json!([null, 1]));
        assert_eq!(n.furniture.0["nombre"], "NaN \" Infinity", "strings keep their text");
        assert_eq!(n.message, "Nuevo mueble creado: NaN \" Infinity - (nanxinfcm)");
        assert_eq!(python_json_as_ours(r#"{"a":"NaN"}"#), None, "none outside strings");
        // Still not JSON for other reasons: the first error is told.
        assert_eq!(decode_server("{\"a\": NaN,"), ServerFrame::Invalid("not JSON: malformed at line 1 column 7".into()));
    }

    /// What Python's `json` writes and serde_json does not read (lone surrogates, integers past
    /// a double's range, nesting past 128 levels) costs the value, not the change: the Python
    /// broker passes each on as it came.
    #[test]
    fn python_json_past_serde_json_costs_the_value_not_the_change() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let huge = "9".repeat(400);
        let text = format!(
            r#"{{"type": "furniture_notification", "action": "created", "furniture": {{"_id": "s1", "nombre": "Mesa \ud800 \udc00 \ud83d\ude00 \\ud800 \ud800\u0041", "descripcion": {deep}, "altura": {huge}, "ancho": -{huge}.5e1, "fondo": 1{zeros}, "material": ["]", "\"[", {{"a": [1, 2]}}]}}, "message": "Nuevo mueble creado: Mesa \udfff", "seq": 7}}"#,
            zeros = "0".repeat(299)
        );
        let ServerFrame::Notification(n) = decode_server(&text) else { panic!("{:?}", decode_server(&text)) };
        // Each lone surrogate is U+FFFD; a pair stays, and so does an escaped backslash's text.
        assert_eq!(n.furniture.0["nombre"], "Mesa \u{fffd} \u{fffd} 😀 \\ud800 \u{fffd}A");
        assert_eq!(n.message, "Nuevo mueble creado: Mesa \u{fffd}");
        // Nesting is kept to 100 levels, the frame's and the record's among them: 98 arrays,
        // the innermost holding `null`.
        let mut v = &n.furniture.0["descripcion"];
        for _ in 0..PYTHON_DEPTH - 3 {
            v = &v[0];
        }
        assert_eq!(*v, json!([null]));
        assert_eq!((&n.furniture.0["altura"], &n.furniture.0["ancho"]), (&Value::Null, &Value::Null));
        assert_eq!(n.furniture.0["fondo"].as_f64(), Some(1e299), "a number of 300 characters is read");
        let past = format!(r#"{{"a": 1{}, "b": "\ud800"}}"#, "0".repeat(300));
        assert_eq!(python_json_as_ours(&past).as_deref(), Some(r#"{"a": null, "b": "\ufffd"}"#), "one of 301 is not");
        assert_eq!(n.furniture.0["material"], json!(["]", "\"[", {"a": [1, 2]}]), "brackets in strings are text");
        assert_eq!(n.seq, Some(7));
        assert_eq!(python_json_as_ours(r#"{"a": "\ud83d\ude00", "b": [[1e5]]}"#), None, "nothing to change");
        // An escape cut short by the text's end is left as it is (found by fuzzing).
        assert_eq!(python_json_as_ours("{\"t\u{f5}t \\ud8\n"), None);
        assert_eq!(python_json_as_ours(r#"["\ud800", "\ud8"#).as_deref(), Some(r#"["\ufffd", "\ud8"#));
        assert_eq!(python_json_as_ours("[\"\\ud83\u{e9}7\"]"), None, "nor one that holds a letter past ASCII");
        // A value cut short past the levels kept stays not JSON.
        let cut = format!(r#"{{"a": {}"#, "[".repeat(200));
        assert!(matches!(decode_server(&cut), ServerFrame::Invalid(_)));
    }

    #[test]
    fn only_rfc_json_reaches_the_broker() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let cases = [
            r#"{"type":"furniture_created","furniture":{"altura":NaN}}"#,
            r#"{"type":"furniture_created","furniture":{"altura":Infinity}}"#,
            r#"{"type":"furniture_created","furniture":{"altura":-Infinity}}"#,
            r#"{"type":"furniture_created","furniture":{"altura":1e400}}"#,
            r#"{"type":"furniture_created","furniture":{"nombre":"\ud800"}}"#,
            r#"{"type":"furniture_created","furniture":{"nombre":"\udc00x"}}"#,
            r#"{"type":"furniture_created","furniture":{"nombre":"a","nombre":"b"}}"#,
            r#"{"type":"furniture_created","type":"furniture_deleted","furniture":{}}"#,
            deep.as_str(),
        ];
        for case in cases {
            match decode_client(case) {
                ClientFrame::Ignored(IgnoredReason::NotJson(_)) => {}
                other => panic!("{case:.60} was accepted: {other:?}"),
            }
        }
        // What is valid stays valid: a surrogate pair, big integers, repeated keys in different objects.
        let ok = r#"{"type":"furniture_created","furniture":{"nombre":"\ud83e\ude91","altura":1e300,"n":18446744073709551615,"a":{"x":1},"b":{"x":2}}}"#;
        let ClientFrame::Publish(m) = decode_client(ok) else { panic!("valid JSON refused") };
        assert_eq!(m.furniture.0["nombre"], "\u{1fa91}");
        assert_eq!(m.furniture.0["n"], json!(18446744073709551615u64));
    }

    #[test]
    fn an_error_frame_says_why_and_decodes_back() {
        let text = encode_error(Refusal::TokenRequired, Timestamp::from_unix_micros(1_764_300_000_000_000));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["reason"], "token_required");
        assert_eq!(v["timestamp"], "2025-11-28T03:20:00Z");
        match decode_server(&text) {
            ServerFrame::Error { refusal, reason, message } => {
                assert_eq!(refusal, Some(Refusal::TokenRequired));
                assert_eq!(reason, "token_required");
                assert!(message.contains("token"));
            }
            other => panic!("{other:?}"),
        }
    }
}
