//! What an update changed, field by field: "altura: 75 → 80 · material: pino → roble".

use furniture_protocol::record::field;
use furniture_protocol::Furniture;

use crate::state::format::{inert_bidi, DASH};
use crate::state::i18n::Lang;

/// The record's fields as the screen names them (Spanish, English), in display order.
pub const FIELDS: [(&str, &str, &str); 6] = [
    (field::NOMBRE, "nombre", "name"),
    (field::DESCRIPCION, "descripción", "description"),
    (field::ALTURA, "altura", "height"),
    (field::ANCHO, "ancho", "width"),
    (field::MATERIAL, "material", "material"),
    (field::AUTOR, "autor", "author"),
];

/// One changed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The wire key (`altura`).
    pub key: &'static str,
    /// The names on screen: Spanish (`altura`) and English (`height`).
    pub label: (&'static str, &'static str),
    pub from: String,
    pub to: String,
}

fn shown(f: &Furniture, key: &str) -> String {
    match f.get(key) {
        None | Some(serde_json::Value::Null) => DASH.to_owned(),
        Some(serde_json::Value::String(s)) => inert_bidi(s.clone()),
        // serde_json::to_string rather than `Display`, whose `io` adapter would bring the
        // standard library's error types into the page.
        Some(other) => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// The fields whose shown value differs between `old` and `new`.
pub fn diff(old: &Furniture, new: &Furniture) -> Vec<FieldChange> {
    FIELDS
        .iter()
        .filter_map(|&(key, es, en)| {
            let (from, to) = (shown(old, key), shown(new, key));
            (from != to).then_some(FieldChange { key, label: (es, en), from, to })
        })
        .collect()
}

/// `altura: 75 → 80 · material: pino → roble`; long values are shortened, at the end of a word
/// where one ends in their last 20 characters. (A colon after the field's name: "nombre Mesa
/// alta → Mesa baja" read as one phrase; a dot between fields: a value may hold a comma.)
pub fn describe(changes: &[FieldChange], lang: Lang) -> String {
    let short = |s: &str| {
        if s.chars().count() > 40 {
            let head: String = s.chars().take(39).collect();
            // (In bytes: a space is one, and `head` is the start of `s`.)
            let n = head.len();
            let word = if s.as_bytes()[n] == b' ' { n } else { head.as_bytes().iter().rposition(|b| *b == b' ').filter(|i| *i >= 19).unwrap_or(n) };
            format!("{}…", &head[..word])
        } else {
            s.to_owned()
        }
    };
    changes.iter().map(|c| format!("{}: {} → {}", lang.t(c.label.0, c.label.1), short(&c.from), short(&c.to))).collect::<Vec<_>>().join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: serde_json::Value) -> Furniture {
        Furniture(v.as_object().cloned().unwrap())
    }

    #[test]
    fn changed_fields_in_display_order() {
        let old = Furniture::new("1", "Mesa", "d", 75, 120, "pino", "ana");
        let new = Furniture::new("1", "Mesa", "d", 80, 120, "roble", "ana");
        let d = diff(&old, &new);
        assert_eq!(describe(&d, Lang::Es), "altura: 75 → 80 · material: pino → roble");
        assert_eq!(describe(&d, Lang::En), "height: 75 → 80 · material: pino → roble");
        assert_eq!(d.iter().map(|c| c.key).collect::<Vec<_>>(), ["altura", "material"]);
    }

    #[test]
    fn missing_nulls_and_odd_types_show_as_text_or_dash() {
        let old = rec(json!({"altura": "75", "material": null}));
        let new = rec(json!({"altura": 75, "material": "haya", "nombre": "x"}));
        // "75" and 75 read the same on screen: not a change worth showing.
        assert_eq!(describe(&diff(&old, &new), Lang::Es), "nombre: — → x · material: — → haya");
        assert!(diff(&new, &new).is_empty());
    }

    /// A right-to-left override in a value turned round the rest of the line (" · autor: …").
    #[test]
    fn values_are_described_without_bidirectional_controls() {
        let old = rec(json!({"autor_username": "ana", "material": "pino"}));
        let new = rec(json!({"autor_username": "ana \u{202e}x", "material": "roble"}));
        assert_eq!(describe(&diff(&old, &new), Lang::Es), "material: pino → roble · autor: ana → ana x");
        // A control alone changes nothing on screen.
        assert!(diff(&old, &rec(json!({"autor_username": "an\u{2066}a", "material": "pino"}))).is_empty());
    }

    #[test]
    fn long_values_are_shortened() {
        let old = rec(json!({"descripcion": "a".repeat(100)}));
        let new = rec(json!({"descripcion": "b"}));
        assert_eq!(describe(&diff(&old, &new), Lang::Es), format!("descripción: {}… → b", "a".repeat(39)));
        // At a word's end, not at a letter ("(edició…"), where a word ends late enough.
        let old = rec(json!({"nombre": "Mesa de centro natural (edición limitada)"}));
        let new = rec(json!({"nombre": "Mesa de centro natural (edición limitada) bis"}));
        assert_eq!(describe(&diff(&old, &new), Lang::Es), "nombre: Mesa de centro natural (edición… → Mesa de centro natural (edición…");
        let old = rec(json!({"nombre": "Mesa de centro natural lacada en blanco roto"}));
        assert_eq!(describe(&diff(&old, &new), Lang::En).split(" → ").next(), Some("name: Mesa de centro natural lacada en blanco…"), "a word that ends at the cut is kept");
        let old = rec(json!({"nombre": format!("Mesa {}", "x".repeat(60))}));
        assert_eq!(describe(&diff(&old, &new), Lang::En).split(" → ").next(), Some(format!("name: Mesa {}…", "x".repeat(34)).as_str()), "no word end late enough: at a letter");
    }
}
