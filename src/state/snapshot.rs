//! What a page saves before reloading itself and restores after: the feed, the catalog, and which
//! broker numbering they belong to, as one JSON text made of the wire's own frames.

use furniture_protocol::{decode_server, encode_sync_reply, CatalogEntry, ServerFrame};
use serde_json::{json, Value};

use crate::state::diff::{FieldChange, FIELDS};
use crate::state::feed::{Change, GapReason, Origin, Saved};

/// Snapshots older than this (ms) are not restored: the screen starts fresh instead.
pub const MAX_AGE_MS: f64 = 10.0 * 60_000.0;

/// A saved screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub saved_ms: f64,
    /// The broker's `stream` when saved (the last `seq` seen is that of the feed's newest change
    /// of it).
    pub stream: Option<String>,
    /// The highest `seq` of that numbering the page had seen (`Feed::last_seq`), where the next
    /// page asks the broker's history from.
    pub seq: Option<u64>,
    pub catalog: Vec<CatalogEntry>,
    /// The feed's notifications and gap markers, oldest first.
    pub feed: Vec<Saved>,
    /// An outage the broker had not yet said it filled (from, to): the next page waits for
    /// its answer, as this one would have.
    pub outage: Option<(f64, f64)>,
    /// The local day and the reconnections counted on it, which the next page goes on from.
    pub reconnects: Option<(i64, u32)>,
    /// The feed's counts of created, updated and deleted (`Feed::counts`).
    pub counts: Option<[u64; 3]>,
    /// Since when the page's counts of the last hour were whole (`Activity::whole_since`).
    pub activity_since: Option<f64>,
}

impl Snapshot {
    /// The JSON text to keep.
    pub fn encode(&self) -> String {
        let catalog = encode_sync_reply(0, true, &self.catalog, std::iter::empty());
        // A change as [its frame's text, how it came (0 live, 1 from the history, 2 recovered),
        // when, [[field, from, to], …] of an update]; a page of before the evening of
        // 2026-12-07 wrote the text alone. A gap marker as [from, to, reason] (0 disconnected,
        // 1 history too short, 2 a new state; a page of before 2026-12-07 wrote `true` for 1).
        // (Values made directly: in `json!`, a list of values would be copied again through
        // serde's `Serialize`.)
        let feed: Value = self
            .feed
            .iter()
            .map(|s| match s {
                Saved::Change(c) => {
                    let edits: Value = c.changes.iter().map(|f| Value::from(vec![f.key, &f.from, &f.to])).collect();
                    Value::from(vec![c.notification.encode().into(), Value::from(c.origin as u8), Value::from(c.received_ms), edits])
                }
                Saved::Gap(from, to, reason) => Value::from(vec![Value::from(*from), Value::from(*to), Value::from(*reason as u8)]),
            })
            .collect();
        let mut v = json!({"v": 1, "saved_ms": self.saved_ms, "stream": self.stream, "catalog": catalog, "outage_from": self.outage.map(|o| o.0), "outage_to": self.outage.map(|o| o.1), "reconnects": self.reconnects.map(|(d, n)| [d, i64::from(n)]), "counts": self.counts, "seq": self.seq, "activity_since": self.activity_since});
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
            .filter_map(|v| {
                // A change's frame text alone (a page of before), or [text, origin, when, edits]; a
                // gap marker.
                let line = v.as_array().map_or(std::slice::from_ref(v), Vec::as_slice);
                let Some(text) = line.first()?.as_str() else {
                    let reason = match line.get(2) {
                        Some(Value::Bool(true)) => GapReason::HistoryTooShort,
                        Some(n) if n == 1 => GapReason::HistoryTooShort,
                        Some(n) if n == 2 => GapReason::NewState,
                        _ => GapReason::Disconnected,
                    };
                    return Some(Saved::Gap(line[0].as_f64()?, line.get(1)?.as_f64()?, reason));
                };
                let ServerFrame::Notification(n) = decode_server(text) else { return None };
                let origin = match line.get(1).and_then(Value::as_u64) {
                    Some(0) => Origin::Live,
                    Some(2) => Origin::Recovered,
                    _ => Origin::History,
                };
                let mut edits = Vec::new();
                for e in line.get(3).and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
                    for (key, label_es, label_en) in FIELDS {
                        if let (true, Some(from), Some(to)) = (e[0] == key, e[1].as_str(), e[2].as_str()) {
                            edits.push(FieldChange { key, label: (label_es, label_en), from: from.into(), to: to.into() });
                        }
                    }
                }
                Some(Saved::Change(Change::saved(n, origin, line.get(2).and_then(Value::as_f64).unwrap_or(now_ms).min(now_ms).max(0.0), edits)))
            })
            .collect();
        // Optional: a page of before it saved none.
        let outage = v["outage_from"].as_f64().zip(v["outage_to"].as_f64());
        let reconnects = v["reconnects"][0].as_i64().zip(v["reconnects"][1].as_u64().and_then(|n| u32::try_from(n).ok()));
        // Times and counts a page could have reached: no later than now, no count past a
        // double's whole numbers (a count one short of u64's highest would overflow).
        let count = |i: usize| v["counts"][i].as_u64().filter(|n| *n < 1 << 53);
        let counts = count(0).zip(count(1)).zip(count(2)).map(|((c, u), d)| [c, u, d]);
        Some(Snapshot {
            saved_ms,
            stream: v["stream"].as_str().map(str::to_owned),
            seq: v["seq"].as_u64(),
            catalog: reply.catalog,
            feed,
            outage,
            reconnects,
            counts,
            activity_since: v["activity_since"].as_f64().filter(|t| (0.0..=now_ms).contains(t)),
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
            seq: Some(9),
            feed: vec![
                Saved::Gap(100.0, 200.0, GapReason::HistoryTooShort),
                Saved::Change(Change::saved(mesa(Action::Created, 7), Origin::History, 150.0, Vec::new())),
                Saved::Gap(300.0, 400.0, GapReason::Disconnected),
                Saved::Change(Change::saved(mesa(Action::Updated, 8), Origin::Live, 450.0, crate::state::diff::diff(&mesa(Action::Created, 7).furniture, &Furniture::new("1", "Mesa <b>", "", 80, 120, "pino \"x\"", "ana")))),
                Saved::Gap(500.0, 600.0, GapReason::NewState),
                Saved::Change(Change::saved(mesa(Action::Deleted, 9), Origin::Recovered, 650.0, Vec::new())),
            ],
            outage: Some((400.0, 900.0)),
            reconnects: Some((20_428, 3)),
            counts: Some([12, 30, 4]),
            activity_since: Some(500.0),
        }
    }

    fn mesa(action: Action, seq: u64) -> Notification {
        Notification { action, furniture: Furniture::new("1", "Mesa <b>", "", 75, 120, "roble", "ana"), message: "🪑 x".into(), timestamp: None, seq: Some(seq) }
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

    /// A page saved by the code of before the evening of 2026-12-07 wrote a change as its frame's
    /// text alone, and no counts, hour or seq: its changes read as from before the page opened,
    /// received when read.
    #[test]
    fn changes_saved_by_a_page_of_before_read_as_history() {
        let mut s = sample();
        s.feed.truncate(2);
        (s.counts, s.activity_since, s.seq) = (None, None, None);
        let mut v: Value = serde_json::from_str(&s.encode()).unwrap();
        v["feed"][1] = Value::from(mesa(Action::Created, 7).encode());
        for key in ["counts", "activity_since", "seq"] {
            v.as_object_mut().unwrap().remove(key);
        }
        s.feed[1] = Saved::Change(Change::saved(mesa(Action::Created, 7), Origin::History, 2_000.0, Vec::new()));
        assert_eq!(Snapshot::decode(&v.to_string(), 2_000.0), Some(s));
    }

    /// Times past the moment of reading and counts past what a page could reach (only a
    /// hand-edited storage holds them) are not taken: the hour's minutes and the feed's counts
    /// would overflow.
    #[test]
    fn times_and_counts_out_of_reach_are_not_taken() {
        let mut v: Value = serde_json::from_str(&sample().encode()).unwrap();
        v["activity_since"] = json!(1e308);
        v["counts"] = json!([1, u64::MAX, 0]);
        v["feed"][1][2] = json!(-1e308);
        v["feed"][3][2] = json!(1e308);
        let s = Snapshot::decode(&v.to_string(), 2_000.0).unwrap();
        assert_eq!((s.activity_since, s.counts), (None, None));
        let received: Vec<f64> = s.feed.iter().filter_map(|l| if let Saved::Change(c) = l { Some(c.received_ms) } else { None }).collect();
        assert_eq!(received, [0.0, 2_000.0, 650.0]);
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
