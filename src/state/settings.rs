//! The screen's settings: from the URL (one bookmark per screen) and, at a desk, remembered in
//! localStorage. The URL wins.

use serde_json::{json, Value};

use crate::state::format::{parse_number, plain_number};
use crate::state::i18n::Lang;

/// Colour theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    /// As the system says (wall screens are always dark).
    #[default]
    Auto,
    Dark,
    Light,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Dark => "dark",
            Theme::Light => "light",
        }
    }

    pub fn parse(s: &str) -> Option<Theme> {
        [Theme::Auto, Theme::Dark, Theme::Light].into_iter().find(|t| t.as_str() == s)
    }
}

/// Bounds of the settings that take numbers.
pub const SCALE_RANGE: (f64, f64) = (0.5, 3.0);
pub const TOASTS_RANGE: (usize, usize) = (0, 8);
pub const TOAST_SECONDS_RANGE: (f64, f64) = (1.0, 60.0);
pub const LINGER_RANGE: (f64, f64) = (0.0, 3600.0);

/// Everything a screen can be told.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub lang: Lang,
    pub theme: Theme,
    /// Multiplies the type size (default 1).
    pub scale: f64,
    /// Toasts visible at once (default 4; 0 turns toasts off).
    pub toasts: usize,
    /// Shortest time a toast stays, in seconds (default: 4 at a desk, 8 on a wall screen).
    pub toast_seconds: Option<f64>,
    /// How long a deleted item stays on screen, greyed, in seconds (default 120).
    pub linger_seconds: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { lang: Lang::Es, theme: Theme::Auto, scale: 1.0, toasts: 4, toast_seconds: None, linger_seconds: 120.0 }
    }
}

impl Settings {
    /// Applies `key=value` pairs (from the URL or storage); unknown keys and bad values are
    /// ignored, numbers are clamped to their ranges.
    pub fn apply<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (k, v) in pairs {
            match k {
                "lang" => self.lang = Lang::parse(v),
                "theme" => self.theme = Theme::parse(v).unwrap_or(self.theme),
                "scale" => {
                    if let Some(x) = clamped(v, SCALE_RANGE) {
                        self.scale = x;
                    }
                }
                "toasts" => {
                    if let Ok(n) = v.parse::<usize>() {
                        self.toasts = n.clamp(TOASTS_RANGE.0, TOASTS_RANGE.1);
                    }
                }
                "linger" => {
                    if let Some(x) = clamped(v, LINGER_RANGE) {
                        self.linger_seconds = x;
                    }
                }
                "toast_seconds" => {
                    if let Some(x) = clamped(v, TOAST_SECONDS_RANGE) {
                        self.toast_seconds = Some(x);
                    }
                }
                _ => {}
            }
        }
    }

    /// The stored form (localStorage): what the settings panel shows and sets. The rest comes
    /// from the URL only, so that a one-off `?linger=0` is not kept for every later visit.
    pub fn to_json(&self) -> String {
        let v = json!({
            "lang": self.lang.code(),
            "theme": self.theme.as_str(),
            "scale": plain_number(self.scale),
            "toasts": self.toasts.to_string(),
        });
        serde_json::to_string(&v).unwrap_or_default()
    }

    /// Stored settings, then the URL's on top: the URL wins.
    pub fn resolve(stored: Option<&str>, url: &[(String, String)]) -> Settings {
        let mut s = Settings::default();
        if let Some(Value::Object(map)) = stored.and_then(|t| serde_json::from_str::<Value>(t).ok()) {
            let pairs: Vec<(String, String)> =
                map.into_iter().filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned()))).collect();
            s.apply(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        s.apply(url.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        s
    }
}

/// `v` as a finite number clamped to `range`, or `None` when it is not one.
fn clamped(v: &str, range: (f64, f64)) -> Option<f64> {
    // max then min rather than f64::clamp, whose check formats floats for its panic message (the
    // standard float formatting, 13 KB of wasm, would be in the page for that alone).
    parse_number(v).map(|x| x.max(range.0).min(range.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// What the panel saves is what it shows: a parameter of the URL that it does not show is
    /// not remembered with it.
    #[test]
    fn only_the_panels_settings_are_stored() {
        let shown = Settings::resolve(None, &url(&[("linger", "0"), ("toast_seconds", "1"), ("lang", "en")]));
        assert_eq!(Settings::resolve(Some(&shown.to_json()), &[]), Settings { lang: Lang::En, ..Settings::default() });
    }

    #[test]
    fn the_url_wins_over_storage() {
        let stored = Settings { lang: Lang::En, theme: Theme::Light, scale: 1.5, toasts: 2, toast_seconds: Some(6.0), linger_seconds: 30.0 }.to_json();
        let s = Settings::resolve(Some(&stored), &url(&[("theme", "dark"), ("toasts", "0"), ("linger", "2")]));
        assert_eq!(s, Settings { lang: Lang::En, theme: Theme::Dark, scale: 1.5, toasts: 0, toast_seconds: None, linger_seconds: 2.0 });
    }

    #[test]
    fn bad_values_are_ignored_and_numbers_clamped() {
        let s = Settings::resolve(
            Some("not json"),
            &url(&[("scale", "NaN"), ("theme", "purple"), ("toasts", "99"), ("toast_seconds", "0"), ("other", "x")]),
        );
        assert_eq!(s, Settings { toasts: 8, toast_seconds: Some(1.0), ..Settings::default() });
        let s = Settings::resolve(None, &url(&[("scale", "10")]));
        assert_eq!(s.scale, 3.0);
    }

    #[test]
    fn storage_round_trips() {
        let s = Settings { lang: Lang::En, theme: Theme::Light, scale: 1.25, toasts: 3, toast_seconds: None, linger_seconds: 120.0 };
        assert_eq!(Settings::resolve(Some(&s.to_json()), &[]), s);
    }
}
