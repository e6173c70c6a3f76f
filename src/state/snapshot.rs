//! What a page saves before reloading itself and restores after: the feed, the catalog, and which
//! broker numbering they belong to, as one JSON text made of the wire's own frames.

use furniture_protocol::{decode_server, encode_sync_reply, CatalogEntry, ServerFrame};
use serde_json::{json, Value};

use crate::state::feed::{GapReason, Saved};

/// Snapshots older than this (ms) are not restored: the screen starts fresh instead.
pub const MAX_AGE_MS: f64 = 10.0 * 60_000.0;

/// A saved screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub saved_ms: f64,
    /// The broker's `stream` when saved (the last `seq` seen is that of the feed's newest change
    /// of it).
    pub stream: Option<String>,
    pub catalog: Vec<CatalogEntry>,
    /// The feed's notifications and gap markers, oldest first.
    pub feed: Vec<Saved>,
    /// An outage the broker had not yet said it filled (from, to): the next page waits for
    /// its answer, as this one would have.
    pub outage: Option<(f64, f64)>,
    /// The local day and the reconnections counted on it, which the next page goes on from.
    pub reconnects: Option<(i64, u32)>,
}

impl Snapshot {
    /// The JSON text to keep.
    pub fn encode(&self) -> String {
        let catalog = encode_sync_reply(0, true, &self.catalog, std::iter::empty());
        // A notification as its frame's text, a gap marker as [from, to, reason] (0 disconnected,
        // 1 history too short, 2 a new state; a page of before 2026-12-07 wrote `true` for 1).
        // (Values made directly: in `json!`, a list of values would be copied again through
        // serde's `Serialize`.)
        let feed: Value = self
            .feed
            .iter()
            .map(|s| match s {
                Saved::Change(n) => n.encode().into(),
                Saved::Gap(from, to, reason) => Value::from(vec![Value::from(*from), Value::from(*to), Value::from(*reason as u8)]),
            })
            .collect();
        let mut v = json!({"v": 1, "saved_ms": self.saved_ms, "stream": self.stream, "catalog": catalog, "outage_from": self.outage.map(|o| o.0), "outage_to": self.outage.map(|o| o.1), "reconnects": self.reconnects.map(|(d, n)| [d, i64::from(n)])});
        if let Value::Object(map) = &mut v {
            map.insert("feed".into(), feed);
        }
        serde_json::to_string(&v).unwrap_or_default()
    }

    /// Reads a saved text; `None` when it is unreadable, of another version, or older than
    /// [`MAX_AGE_MS`] at `now_ms`.
    pub fn decode(text: &str, now_ms: f64) -> Option<Snapshot> {
        let v: Value = serde_json::from_str(text).ok()?;
        if v["v"] != 1 {
            return None;
        }
        let saved_ms = v["saved_ms"].as_f64()?;
        if !(0.0..=MAX_AGE_MS).contains(&(now_ms - saved_ms)) {
            return None;
        }
        let ServerFrame::Sync(reply) = decode_server(v["catalog"].as_str()?) else { return None };
        let feed = v["feed"]
            .as_array()?
            .iter()
            .filter_map(|v| match v {
                Value::String(t) => match decode_server(t) {
                    ServerFrame::Notification(n) => Some(Saved::Change(n)),
                    _ => None,
                },
                Value::Array(gap) => {
                    let reason = match gap.get(2) {
                        Some(Value::Bool(true)) => GapReason::HistoryTooShort,
                        Some(n) if n == 1 => GapReason::HistoryTooShort,
                        Some(n) if n == 2 => GapReason::NewState,
                        _ => GapReason::Disconnected,
                    };
                    Some(Saved::Gap(gap.first()?.as_f64()?, gap.get(1)?.as_f64()?, reason))
                }
                _ => None,
            })
            .collect();
        // Optional: a page of before it saved none.
        let outage = v["outage_from"].as_f64().zip(v["outage_to"].as_f64());
        let reconnects = v["reconnects"][0].as_i64().zip(v["reconnects"][1].as_u64().and_then(|n| u32::try_from(n).ok()));
        Some(Snapshot {
            saved_ms,
            stream: v["stream"].as_str().map(str::to_owned),
            catalog: reply.catalog,
            feed,
            outage,
            reconnects,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use furniture_protocol::{Action, Furniture, Notification, Timestamp};

    fn sample() -> Snapshot {
        Snapshot {
            saved_ms: 1_000.0,
            stream: Some("ab".into()),
            catalog: vec![CatalogEntry { furniture: std::sync::Arc::new(Furniture::new("1", "Mesa <b>", "", 75, 120, "roble", "ana")), seq: Some(7), timestamp: Timestamp::parse("2024-01-15T14:30:00Z") }],
            feed: vec![
                Saved::Gap(100.0, 200.0, GapReason::HistoryTooShort),
                Saved::Change(Notification { action: Action::Created, furniture: Furniture::new("1", "Mesa <b>", "", 75, 120, "roble", "ana"), message: "🪑 x".into(), timestamp: None, seq: Some(7) }),
                Saved::Gap(300.0, 400.0, GapReason::Disconnected),
                Saved::Gap(500.0, 600.0, GapReason::NewState),
            ],
            outage: Some((400.0, 900.0)),
            reconnects: Some((20_428, 3)),
        }
    }

    #[test]
    fn a_snapshot_without_an_outage_or_reconnects_still_reads() {
        let mut s = sample();
        let text = s
            .encode()
            .replace(r#","outage_from":400.0"#, "")
            .replace(r#","outage_to":900.0"#, "")
            .replace(r#","reconnects":[20428,3]"#, "");
        assert!(!text.contains("outage") && !text.contains("reconnects"), "{text}");
        (s.outage, s.reconnects) = (None, None);
        assert_eq!(Snapshot::decode(&text, 2_000.0), Some(s));
    }

    #[test]
    fn round_trips() {
        let s = sample();
        assert_eq!(Snapshot::decode(&s.encode(), 2_000.0), Some(s));
    }

    /// A page saved by the code of before (a nightly reload that loads a new version) wrote a
    /// gap's reason as whether the history was too short.
    #[test]
    fn gaps_saved_by_a_page_of_before_still_read() {
        let text = sample().encode();
        assert!(text.contains("[100.0,200.0,1]") && text.contains("[300.0,400.0,0]"), "{text}");
        let old = text.replace("[100.0,200.0,1]", "[100.0,200.0,true]").replace("[300.0,400.0,0]", "[300.0,400.0,false]");
        assert_eq!(Snapshot::decode(&old, 2_000.0), Some(sample()));
    }

    #[test]
    fn stale_broken_or_foreign_texts_are_not_restored() {
        let text = sample().encode();
        assert_eq!(Snapshot::decode(&text, 1_000.0 + MAX_AGE_MS + 1.0), None);
        assert_eq!(Snapshot::decode(&text, 0.0), None, "saved in the future");
        assert_eq!(Snapshot::decode("{", 2_000.0), None);
        assert_eq!(Snapshot::decode(&text.replace("\"v\":1", "\"v\":2"), 2_000.0), None);
    }
}
