//! What the diagnostics overlay shows: the last raw frames, decode errors, unknown types, close
//! codes and reconnect history, all bounded, exportable as JSON.

use std::collections::VecDeque;

use serde_json::{json, Value};

/// Raw frames kept (both directions).
pub const MAX_FRAMES: usize = 200;
/// Errors, closes and reconnects kept, each.
pub const MAX_EVENTS: usize = 50;
/// Longest raw frame text kept, in characters (the rest is cut).
pub const MAX_FRAME_CHARS: usize = 2_000;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawFrame {
    pub at_ms: f64,
    pub direction: Direction,
    pub text: String,
}

/// The diagnostics of one page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics {
    pub frames: VecDeque<RawFrame>,
    /// (when, what could not be decoded and why)
    pub errors: VecDeque<(f64, String)>,
    /// (when, close code, reason)
    pub closes: VecDeque<(f64, Option<u16>, String)>,
    /// (when, attempt, wait in ms)
    pub reconnects: VecDeque<(f64, u32, f64)>,
    pub invalid: u64,
    pub unknown: u64,
}

fn bounded<T>(q: &mut VecDeque<T>, item: T, cap: usize) {
    q.push_back(item);
    while q.len() > cap {
        q.pop_front();
    }
}

impl Diagnostics {
    pub fn frame(&mut self, at_ms: f64, direction: Direction, text: &str) {
        // Cut at the character past the limit, without counting the rest (a catalog's part is
        // 256 KiB).
        let text = match text.char_indices().nth(MAX_FRAME_CHARS) {
            Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
            None => text.to_owned(),
        };
        bounded(&mut self.frames, RawFrame { at_ms, direction, text }, MAX_FRAMES);
    }

    pub fn invalid(&mut self, at_ms: f64, why: String) {
        self.invalid += 1;
        bounded(&mut self.errors, (at_ms, why), MAX_EVENTS);
    }

    pub fn unknown(&mut self, at_ms: f64, kind: &str) {
        self.unknown += 1;
        bounded(&mut self.errors, (at_ms, format!("unknown type {}", furniture_protocol::frame::quoted(kind))), MAX_EVENTS);
    }

    pub fn closed(&mut self, at_ms: f64, code: Option<u16>, reason: String) {
        bounded(&mut self.closes, (at_ms, code, reason), MAX_EVENTS);
    }

    pub fn reconnect(&mut self, at_ms: f64, attempt: u32, wait_ms: f64) {
        bounded(&mut self.reconnects, (at_ms, attempt, wait_ms), MAX_EVENTS);
    }

    /// Everything as one JSON value, with `extra` (memory figures, the broker URL) merged in.
    pub fn to_json(&self, extra: Value) -> Value {
        // The lists are collected into values and put in as they are: written in `json!`, each
        // would be copied again through serde's `Serialize`.
        let mut v = serde_json::Map::new();
        v.insert("invalid_frames".into(), self.invalid.into());
        v.insert("unknown_frames".into(), self.unknown.into());
        v.insert("frames".into(), self.frames.iter().map(|f| json!({"at_ms": f.at_ms, "direction": if f.direction == Direction::In { "in" } else { "out" }, "text": f.text})).collect());
        v.insert("errors".into(), self.errors.iter().map(|(t, e)| json!({"at_ms": t, "error": e})).collect());
        v.insert("closes".into(), self.closes.iter().map(|(t, c, r)| json!({"at_ms": t, "code": c, "reason": r})).collect());
        v.insert("reconnects".into(), self.reconnects.iter().map(|(t, a, w)| json!({"at_ms": t, "attempt": a, "wait_ms": w})).collect());
        if let Value::Object(more) = extra {
            v.extend(more);
        }
        Value::Object(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_is_bounded() {
        let mut d = Diagnostics::default();
        for i in 0..(MAX_FRAMES + 10) {
            d.frame(i as f64, Direction::In, "x");
        }
        for i in 0..(MAX_EVENTS + 10) {
            d.invalid(i as f64, "bad".into());
            d.closed(i as f64, Some(1006), String::new());
            d.reconnect(i as f64, 1, 100.0);
        }
        assert_eq!(d.frames.len(), MAX_FRAMES);
        assert_eq!(d.frames.front().unwrap().at_ms, 10.0, "the oldest went first");
        assert_eq!((d.errors.len(), d.closes.len(), d.reconnects.len()), (MAX_EVENTS, MAX_EVENTS, MAX_EVENTS));
        assert_eq!(d.invalid, (MAX_EVENTS + 10) as u64, "the count is not capped");
    }

    #[test]
    fn long_frames_are_cut() {
        let mut d = Diagnostics::default();
        d.frame(0.0, Direction::In, &"é".repeat(MAX_FRAME_CHARS + 5));
        let t = &d.frames[0].text;
        assert!(t.ends_with(&format!("… ({} bytes)", 2 * (MAX_FRAME_CHARS + 5))));
        assert_eq!(t.chars().filter(|c| *c == 'é').count(), MAX_FRAME_CHARS);
        let whole = "é".repeat(MAX_FRAME_CHARS);
        d.frame(0.0, Direction::In, &whole);
        assert_eq!(d.frames[1].text, whole, "at the limit, kept whole");
    }

    #[test]
    fn exports_as_json() {
        let mut d = Diagnostics::default();
        d.unknown(1.0, "news");
        d.closed(2.0, Some(1001), "broker shutting down".into());
        let v = d.to_json(json!({"url": "ws://x/"}));
        assert_eq!(v["unknown_frames"], 1);
        assert_eq!(v["closes"][0]["code"], 1001);
        assert_eq!(v["errors"][0]["error"], "unknown type \"news\"");
        assert_eq!(v["url"], "ws://x/");
    }
}
