//! What an update changed, field by field: "altura: 75 → 80 · material: pino → roble".

use furniture_protocol::record::field;
use furniture_protocol::Furniture;

use crate::state::format::DASH;
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
        Some(serde_json::Value::String(s)) => s.clone(),
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

/// `altura: 75 → 80 · material: pino → roble`; long values are shortened. (A colon after the
/// field's name: "nombre Mesa alta → Mesa baja" read as one phrase; a dot between fields: a
/// value may hold a comma.)
pub fn describe(changes: &[FieldChange], lang: Lang) -> String {
    let short = |s: &str| {
        if s.chars().count() > 40 {
            format!("{}…", s.chars().take(39).collect::<String>())
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

    #[test]
    fn long_values_are_shortened() {
        let old = rec(json!({"descripcion": "a".repeat(100)}));
        let new = rec(json!({"descripcion": "b"}));
        assert_eq!(describe(&diff(&old, &new), Lang::Es), format!("descripción: {}… → b", "a".repeat(39)));
    }
}
