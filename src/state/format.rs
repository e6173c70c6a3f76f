//! How values read on screen. A value that cannot be shown is a dash.

use std::borrow::Cow;

use furniture_protocol::{Action, Furniture, Notification};

use crate::state::i18n::Lang;

/// Shown for a missing or unreadable value.
pub const DASH: &str = "—";

/// A text value or a dash.
pub fn or_dash(v: Option<String>) -> String {
    or_dash_ref(v.map(|s| Cow::Owned(inert_bidi(s)))).into_owned()
}

/// The text without its explicit bidirectional controls (embeddings, overrides, isolates,
/// U+202A–U+202E and U+2066–U+2069): a name holding a right-to-left override reversed what the
/// broker's text put after it ("… - roble (120x75cm)"). Right-to-left letters keep their own
/// direction, which needs none of them.
pub fn inert_bidi(s: String) -> String {
    let control = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if s.contains(control) {
        s.chars().filter(|c| !control(*c)).collect()
    } else {
        s
    }
}

/// [`or_dash`] without a copy of a borrowed value.
pub fn or_dash_ref(v: Option<Cow<'_, str>>) -> Cow<'_, str> {
    v.filter(|s| !s.trim().is_empty()).unwrap_or(Cow::Borrowed(DASH))
}

/// The icon of an action, as the broker's texts start with it.
pub fn action_icon(action: Action) -> &'static str {
    match action {
        Action::Created => "🪑",
        Action::Updated => "🔄",
        Action::Deleted => "🗑\u{fe0f}",
    }
}

/// A notification's headline in the feed: in Spanish the broker's own text (the Python broker's
/// words, without bidirectional controls); in English one of the same form, made from the
/// record.
pub fn headline(n: &Notification, lang: Lang) -> String {
    let f = &n.furniture;
    let name = or_dash(f.nombre());
    let icon = action_icon(n.action);
    match (lang, n.action) {
        (Lang::Es, _) if !n.message.is_empty() => inert_bidi(n.message.clone()),
        (Lang::Es, _) => name,
        (Lang::En, Action::Created) => format!("{icon} New item: {name} - {} ({})", or_dash(f.material()), size(f)),
        (Lang::En, Action::Updated) => format!("{icon} Item updated: {name} - {}", size(f)),
        (Lang::En, Action::Deleted) => format!("{icon} Item deleted: {name}"),
    }
}

/// `120 × 75 cm` (width × height), a dash for each unreadable side; its spaces do not break, so
/// that a narrow column never leaves "cm", or "75 cm", alone on a line.
pub fn size(f: &Furniture) -> String {
    let side = |v: Option<i64>| v.map_or_else(|| DASH.to_owned(), |n| n.to_string());
    format!("{}\u{a0}×\u{a0}{}\u{a0}cm", side(f.ancho()), side(f.altura()))
}

/// A number as short as it reads: `1`, `0.85`, `1.25`. Written by serde_json's formatter, which
/// the page has anyway, rather than the standard library's (several kilobytes more of wasm).
pub fn plain_number(x: f64) -> String {
    match serde_json::Number::from_f64(x) {
        Some(n) => {
            let s = n.to_string();
            match s.strip_suffix(".0") {
                Some(whole) => whole.to_owned(),
                None => s,
            }
        }
        None => DASH.to_owned(),
    }
}

/// A finite number written in JSON's way (`15000`, `0.85`, `1e3`), surrounding spaces allowed;
/// `None` for anything else. Read by serde_json's parser, which the page has anyway, rather than
/// the standard library's (its tables alone are 10 KB of wasm); as a `Value`, the way the page
/// reads every JSON text, so that no second copy of the parser is compiled for `f64` alone.
pub fn parse_number(s: &str) -> Option<f64> {
    serde_json::from_str::<serde_json::Value>(s.trim()).ok()?.as_f64().filter(|x| x.is_finite())
}

/// A count as people of the language write it, with the digits grouped as the browser's `Intl`
/// does for the page's locales: `1,234` in English, `12.345` in Spanish, whose four-digit numbers
/// stay ungrouped (`1234`; CLDR's minimum grouping digits of `es` is 2). Written here rather than
/// by `Intl.NumberFormat`, whose first use loads the locale's data: some 15-30 ms of the page's
/// start on a fresh browser.
pub fn count(n: u64, lang: Lang) -> String {
    let digits = n.to_string();
    let (separator, ungrouped_below) = match lang {
        Lang::Es => ('.', 10_000),
        Lang::En => (',', 1_000),
    };
    if n < ungrouped_below {
        return digits;
    }
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(d);
    }
    out
}

/// A number with one decimal, `2.5` (for values shown to a tenth: seconds, mebibytes).
pub fn tenths(x: f64) -> String {
    if !x.is_finite() {
        return DASH.to_owned();
    }
    let t = (x * 10.0).round() as i64;
    format!("{}{}.{}", if t < 0 { "-" } else { "" }, t.unsigned_abs() / 10, t.unsigned_abs() % 10)
}

/// Text lowercased for comparing, sorting and searching without regard to case. Text of the
/// usual kind (Latin-1 letters, punctuation, the emoji of the broker's messages) is lowered here;
/// other text, in the page, by the browser's `toLowerCase`, which spares the wasm the standard
/// library's Unicode case tables (natively, in the tests, by the standard library's).
pub fn fold(s: &str) -> String {
    if let Some(folded) = fold_common(s) {
        return folded;
    }
    #[cfg(target_arch = "wasm32")]
    {
        String::from(js_sys::JsString::from(s).to_lower_case())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        s.to_lowercase()
    }
}

/// [`fold`]ed text for sorting in Spanish order: accents do not count (`cómoda` before
/// `consola`), and `ñ` comes after every other `n`.
pub fn sort_key(s: &str) -> String {
    let folded = fold(s);
    if folded.is_ascii() {
        return folded;
    }
    let mut out = String::with_capacity(folded.len() + 2);
    for c in folded.chars() {
        match c {
            'à'..='å' => out.push('a'),
            'ç' => out.push('c'),
            'è'..='ë' => out.push('e'),
            'ì'..='ï' => out.push('i'),
            'ò'..='ö' => out.push('o'),
            'ù'..='ü' => out.push('u'),
            'ñ' => out.push_str("n\u{10ffff}"),
            c => out.push(c),
        }
    }
    out
}

/// The lowercase of text made only of Latin-1 and of ranges without case (punctuation, arrows,
/// technical and other symbols, dingbats, variation selectors, emoji), its no-break spaces plain
/// ones (a search for "75 cm" finds a size); `None` for other text.
fn fold_common(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        out.push(match c {
            // Latin-1's capitals: A-Z, À-Ö and Ø-Þ, each 0x20 above its small letter.
            'A'..='Z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{DE}' => char::from_u32(c as u32 + 0x20)?,
            '\u{A0}' => ' ',
            '\0'..='\u{FF}'
            | '\u{2000}'..='\u{206F}'
            | '\u{2190}'..='\u{23FF}'
            | '\u{2600}'..='\u{27BF}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{1F000}'..='\u{1FAFF}' => c,
            _ => return None,
        });
    }
    Some(out)
}

/// `HH:MM:SS` of an instant (ms since the epoch) in a zone `offset_minutes` east of UTC.
pub fn clock(ms: f64, offset_minutes: i32) -> String {
    let secs = (ms / 1000.0).floor() as i64 + i64::from(offset_minutes) * 60;
    let tod = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", tod / 3600, tod % 3600 / 60, tod % 60)
}

/// "hace 5 s", "hace 3 min", "hace 2 h", "hace 4 d" (or "5 s ago", ...) between two instants, the
/// number and its unit joined by a no-break space.
pub fn ago(then_ms: f64, now_ms: f64, lang: Lang) -> String {
    let s = ((now_ms - then_ms) / 1000.0).max(0.0) as u64;
    let amount = match s {
        0..=4 => return lang.t("ahora", "now").to_owned(),
        5..=59 => format!("{s}\u{a0}s"),
        60..=3599 => format!("{}\u{a0}min", s / 60),
        3600..=86_399 => format!("{}\u{a0}h", s / 3600),
        _ => format!("{}\u{a0}d", s / 86_400),
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
    fn a_headline_is_the_brokers_text_in_spanish_and_made_from_the_record_in_english() {
        let mut n = Notification {
            action: Action::Created,
            furniture: Furniture::new("1", "Mesa \u{202e}alta", "", 75, 120, "roble", "ana"),
            message: "🪑 Nuevo mueble creado: Mesa \u{202e}alta - roble (120x75cm)".into(),
            timestamp: None,
            seq: Some(1),
        };
        assert_eq!(headline(&n, Lang::Es), "🪑 Nuevo mueble creado: Mesa alta - roble (120x75cm)");
        assert_eq!(headline(&n, Lang::En), "🪑 New item: Mesa alta - roble (120\u{a0}×\u{a0}75\u{a0}cm)");
        n.action = Action::Updated;
        assert_eq!(headline(&n, Lang::En), "🔄 Item updated: Mesa alta - 120\u{a0}×\u{a0}75\u{a0}cm");
        n.action = Action::Deleted;
        assert_eq!(headline(&n, Lang::En), "🗑\u{fe0f} Item deleted: Mesa alta");
        // Nothing to tell: dashes, and in Spanish the name when the broker sent no text.
        let serde_json::Value::Object(record) = json!({"furniture_id": "2", "altura": "alta"}) else { unreachable!() };
        n.furniture = Furniture(record);
        n.message.clear();
        assert_eq!(headline(&n, Lang::Es), "—");
        n.action = Action::Created;
        assert_eq!(headline(&n, Lang::En), "🪑 New item: — - — (—\u{a0}×\u{a0}—\u{a0}cm)");
    }

    #[test]
    fn folds_case_in_any_script() {
        assert_eq!(fold("Mesa de COMEDOR"), "mesa de comedor");
        assert_eq!(fold("SILLÓN Ñandú"), "sillón ñandú");
        assert_eq!(fold("🗑\u{fe0f} Mueble eliminado: PERCHERO"), "🗑\u{fe0f} mueble eliminado: perchero");
        assert_eq!(fold_common("ΟΔΟΣ Ärmel"), None, "Greek goes to the browser");
        assert_eq!(fold("ΟΔΟΣ Ärmel"), "οδος ärmel");
    }

    // Native only: the wasm component-test build of this crate has no proptest.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Where text is folded here rather than by the browser, it is folded as the standard
        /// library's Unicode tables fold it (and its no-break spaces made plain).
        #[test]
        fn common_text_folds_as_unicode_says(s in "[\\x00-\\u{FF}\\u{2000}-\\u{206F}\\u{2190}-\\u{23FF}\\u{2600}-\\u{27BF}\\u{FE00}-\\u{FE0F}\\u{1F000}-\\u{1FAFF}]{0,40}") {
            proptest::prop_assert_eq!(fold_common(&s), Some(s.to_lowercase().replace('\u{a0}', " ")));
        }
    }

    #[test]
    fn numbers_parse_as_json_writes_them() {
        assert_eq!(parse_number(" 15000 "), Some(15_000.0));
        assert_eq!(parse_number("0.85"), Some(0.85));
        assert_eq!(parse_number("1e3"), Some(1_000.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        for bad in ["", "NaN", "inf", "1e999", "12px", "0x10", "1,5"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    /// Counts grouped as Chromium's `Intl.NumberFormat` writes them for `es-ES` and `en-GB`
    /// (checked against it on 2026-12-05), the page's two locales.
    #[test]
    fn counts_group_their_digits_as_intl_does() {
        let cases: [(u64, &str, &str); 9] = [
            (0, "0", "0"),
            (999, "999", "999"),
            (1_000, "1000", "1,000"),
            (1_234, "1234", "1,234"),
            (9_999, "9999", "9,999"),
            (10_000, "10.000", "10,000"),
            (12_345, "12.345", "12,345"),
            (123_456, "123.456", "123,456"),
            (1_234_567, "1.234.567", "1,234,567"),
        ];
        for (n, es, en) in cases {
            assert_eq!(count(n, Lang::Es), es, "{n} in Spanish");
            assert_eq!(count(n, Lang::En), en, "{n} in English");
        }
        assert_eq!(count(u64::MAX, Lang::En), "18,446,744,073,709,551,615");
    }

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(plain_number(1.0), "1");
        assert_eq!(plain_number(0.85), "0.85");
        assert_eq!(plain_number(1.25), "1.25");
        assert_eq!(plain_number(120.0), "120");
        assert_eq!(plain_number(-2.0), "-2");
        assert_eq!(plain_number(f64::NAN), DASH);
        assert_eq!(tenths(2.0), "2.0");
        assert_eq!(tenths(1.25 * 2.0), "2.5");
        assert_eq!(tenths(0.04), "0.0");
        assert_eq!(tenths(12.345), "12.3");
        assert_eq!(tenths(-0.26), "-0.3");
        assert_eq!(tenths(f64::INFINITY), DASH);
    }

    #[test]
    fn sorting_follows_spanish_order() {
        let mut names = ["Consola", "Cómoda", "nube", "Ñandú", "mármol", "mimbre", "Ópalo", "oro"];
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(names, ["Cómoda", "Consola", "mármol", "mimbre", "nube", "Ñandú", "Ópalo", "oro"]);
    }

    #[test]
    fn bidi_controls_are_dropped_and_other_text_kept() {
        let hostile = "Nuevo mueble creado: Prueba \u{202e}evil\u{2066}x - roble (120x75cm)".to_owned();
        assert_eq!(inert_bidi(hostile), "Nuevo mueble creado: Prueba evilx - roble (120x75cm)");
        assert_eq!(inert_bidi("שולחן עץ · mesa".to_owned()), "שולחן עץ · mesa", "right-to-left letters stay");
        assert_eq!(or_dash(Some("\u{202e}".to_owned())), DASH, "a name of controls only is a dash");
    }

    #[test]
    fn sizes_and_dashes() {
        let f = Furniture(json!({"ancho": 120, "altura": "alta"}).as_object().cloned().unwrap());
        assert_eq!(size(&f), "120\u{a0}×\u{a0}—\u{a0}cm", "spaces that do not break");
        assert_eq!(fold("Mesa 120\u{a0}×\u{a0}75\u{a0}CM"), "mesa 120 × 75 cm", "searched as plain spaces");
        assert_eq!(or_dash(None), "—");
        assert_eq!(or_dash(Some("  ".into())), "—");
        assert_eq!(or_dash(Some("roble".into())), "roble");
        assert!(matches!(or_dash_ref(Some(Cow::Borrowed("roble"))), Cow::Borrowed("roble")), "not copied");
        assert_eq!(or_dash_ref(Some(Cow::Borrowed(" "))), DASH);
    }

    #[test]
    fn clocks_and_ages() {
        assert_eq!(clock(0.0, 60), "01:00:00");
        assert_eq!(clock(86_399_000.0, 0), "23:59:59");
        assert_eq!(clock(0.0, -30), "23:30:00");
        assert_eq!(ago(0.0, 3_000.0, Lang::Es), "ahora");
        assert_eq!(ago(0.0, 125_000.0, Lang::Es), "hace 2\u{a0}min");
        assert_eq!(ago(0.0, 125_000.0, Lang::En), "2\u{a0}min ago");
        assert_eq!(ago(10_000.0, 0.0, Lang::En), "now");
    }
}
