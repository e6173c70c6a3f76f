//! How values read on screen. A value that cannot be shown is a dash.

use furniture_protocol::Furniture;

use crate::state::i18n::Lang;

/// Shown for a missing or unreadable value.
pub const DASH: &str = "—";

/// A text value or a dash.
pub fn or_dash(v: Option<String>) -> String {
    v.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| DASH.to_owned())
}

/// `120 × 75 cm` (width × height), a dash for each unreadable side.
pub fn size(f: &Furniture) -> String {
    let side = |v: Option<i64>| v.map_or_else(|| DASH.to_owned(), |n| n.to_string());
    format!("{} × {} cm", side(f.ancho()), side(f.altura()))
}

/// `HH:MM:SS` of an instant (ms since the epoch) in a zone `offset_minutes` east of UTC.
pub fn clock(ms: f64, offset_minutes: i32) -> String {
    let secs = (ms / 1000.0).floor() as i64 + i64::from(offset_minutes) * 60;
    let tod = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", tod / 3600, tod % 3600 / 60, tod % 60)
}

/// "hace 5 s", "hace 3 min", "hace 2 h", "hace 4 d" (or "5 s ago", ...) between two instants.
pub fn ago(then_ms: f64, now_ms: f64, lang: Lang) -> String {
    let s = ((now_ms - then_ms) / 1000.0).max(0.0) as u64;
    let amount = match s {
        0..=4 => return lang.t("ahora", "now").to_owned(),
        5..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    };
    match lang {
        Lang::Es => format!("hace {amount}"),
        Lang::En => format!("{amount} ago"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_and_dashes() {
        let f = Furniture(json!({"ancho": 120, "altura": "alta"}).as_object().cloned().unwrap());
        assert_eq!(size(&f), "120 × — cm");
        assert_eq!(or_dash(None), "—");
        assert_eq!(or_dash(Some("  ".into())), "—");
        assert_eq!(or_dash(Some("roble".into())), "roble");
    }

    #[test]
    fn clocks_and_ages() {
        assert_eq!(clock(0.0, 60), "01:00:00");
        assert_eq!(clock(86_399_000.0, 0), "23:59:59");
        assert_eq!(clock(0.0, -30), "23:30:00");
        assert_eq!(ago(0.0, 3_000.0, Lang::Es), "ahora");
        assert_eq!(ago(0.0, 125_000.0, Lang::Es), "hace 2 min");
        assert_eq!(ago(0.0, 125_000.0, Lang::En), "2 min ago");
        assert_eq!(ago(10_000.0, 0.0, Lang::En), "now");
    }
}
