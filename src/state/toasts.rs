//! Toasts: one per change, self-dismissing, in a bounded stack.

use std::collections::VecDeque;

use furniture_protocol::{Action, Notification};

/// Default number of toasts visible at once; the oldest goes when a new one would exceed it.
pub const DEFAULT_MAX_TOASTS: usize = 4;

/// One toast.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub key: u64,
    pub action: Action,
    /// The item's name, or a dash.
    pub title: String,
    /// The broker's message text.
    pub detail: String,
    pub expires_ms: f64,
}

/// The toast stack, oldest first.
#[derive(Debug, Clone)]
pub struct Toasts {
    items: VecDeque<Toast>,
    max: usize,
    next_key: u64,
}

impl Default for Toasts {
    fn default() -> Self {
        Toasts::with_max(DEFAULT_MAX_TOASTS)
    }
}

/// How long a toast stays: 4 s plus 50 ms per character of text, at most 10 s.
pub fn toast_duration_ms(text_chars: usize) -> f64 {
    (4_000.0 + 50.0 * text_chars as f64).min(10_000.0)
}

impl Toasts {
    pub fn with_max(max: usize) -> Toasts {
        Toasts { items: VecDeque::new(), max: max.max(1), next_key: 1 }
    }

    /// Shows a toast for a change.
    pub fn push(&mut self, n: &Notification, now_ms: f64) {
        let title = n.furniture.nombre().unwrap_or_else(|| "—".to_owned());
        let detail = n.message.clone();
        let chars = title.chars().count() + detail.chars().count();
        let key = self.next_key;
        self.next_key += 1;
        self.items.push_back(Toast { key, action: n.action, title, detail, expires_ms: now_ms + toast_duration_ms(chars) });
        while self.items.len() > self.max {
            self.items.pop_front();
        }
    }

    /// Removes expired toasts; true when any went.
    pub fn expire(&mut self, now_ms: f64) -> bool {
        let before = self.items.len();
        self.items.retain(|t| t.expires_ms > now_ms);
        before != self.items.len()
    }

    /// Removes one toast (dismissed by hand).
    pub fn dismiss(&mut self, key: u64) {
        self.items.retain(|t| t.key != key);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Toast> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use furniture_protocol::Furniture;

    fn note(nombre: &str) -> Notification {
        Notification { action: Action::Updated, furniture: Furniture::new("1", nombre, "", 1, 1, "m", "u"), message: "m".into(), timestamp: None, seq: None }
    }

    #[test]
    fn the_stack_is_bounded_and_drops_the_oldest() {
        let mut t = Toasts::default();
        for i in 0..(DEFAULT_MAX_TOASTS + 3) {
            t.push(&note(&i.to_string()), 0.0);
        }
        assert_eq!(t.len(), DEFAULT_MAX_TOASTS);
        assert_eq!(t.iter().next().unwrap().title, "3");
    }

    #[test]
    fn toasts_dismiss_themselves() {
        let mut t = Toasts::default();
        t.push(&note("a"), 0.0);
        let until = t.iter().next().unwrap().expires_ms;
        assert!(!t.expire(until - 1.0));
        assert!(t.expire(until));
        assert!(t.is_empty());
    }

    #[test]
    fn longer_text_stays_longer_within_limits() {
        assert_eq!(toast_duration_ms(0), 4_000.0);
        assert!(toast_duration_ms(40) > toast_duration_ms(10));
        assert_eq!(toast_duration_ms(100_000), 10_000.0);
    }

    #[test]
    fn a_missing_name_is_a_dash() {
        let mut t = Toasts::default();
        let mut n = note("x");
        n.furniture.0.insert("nombre".into(), serde_json::Value::Null);
        t.push(&n, 0.0);
        assert_eq!(t.iter().next().unwrap().title, "—");
    }
}
