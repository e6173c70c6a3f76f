//! The furniture record, kept exactly as received, with tolerant typed accessors.
//!
//! The broker never validates records, so anything may arrive: missing keys, `null`s, numbers sent
//! as strings, strings where numbers belong. The raw object is kept for pass-through and the
//! accessors say what can be shown.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Field names of the furniture record, as on the wire.
pub mod field {
    pub const ID: &str = "furniture_id";
    pub const NOMBRE: &str = "nombre";
    pub const DESCRIPCION: &str = "descripcion";
    pub const ALTURA: &str = "altura";
    pub const ANCHO: &str = "ancho";
    pub const MATERIAL: &str = "material";
    pub const AUTOR: &str = "autor_username";
}

/// A furniture record as received: the JSON object unchanged (key order kept).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Furniture(pub Map<String, Value>);

impl Furniture {
    /// Builds a complete record from typed values, as the producer sends it.
    pub fn new(
        id: &str,
        nombre: &str,
        descripcion: &str,
        altura: i64,
        ancho: i64,
        material: &str,
        autor: &str,
    ) -> Self {
        let mut m = Map::new();
        m.insert(field::ID.into(), id.into());
        m.insert(field::NOMBRE.into(), nombre.into());
        m.insert(field::DESCRIPCION.into(), descripcion.into());
        m.insert(field::ALTURA.into(), altura.into());
        m.insert(field::ANCHO.into(), ancho.into());
        m.insert(field::MATERIAL.into(), material.into());
        m.insert(field::AUTOR.into(), autor.into());
        Furniture(m)
    }

    /// The raw value of a key, `None` when the key is missing.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The catalog key: a string id as it is, a number id as its JSON text; `None` when missing,
    /// empty, or of another type.
    pub fn id(&self) -> Option<String> {
        match self.0.get(field::ID)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A text field for display: strings as they are, numbers and booleans as their JSON text;
    /// `None` for missing, `null`, arrays and objects (shown as a dash).
    pub fn text(&self, key: &str) -> Option<String> {
        self.text_ref(key).map(Cow::into_owned)
    }

    /// [`Furniture::text`] without copying a string value.
    pub fn text_ref(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.0.get(key)? {
            Value::String(s) => Some(Cow::Borrowed(s)),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            Value::Bool(b) => Some(Cow::Owned(b.to_string())),
            _ => None,
        }
    }

    /// A size in centimetres: an integer, an integral float, or a string holding one (`"75"`);
    /// `None` for anything else (shown as a dash).
    pub fn centimetres(&self, key: &str) -> Option<i64> {
        match self.0.get(key)? {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The name for display, `None` when it cannot be shown.
    pub fn nombre(&self) -> Option<String> {
        self.text(field::NOMBRE)
    }

    /// The material for display.
    pub fn material(&self) -> Option<String> {
        self.text(field::MATERIAL)
    }

    /// The description for display.
    pub fn descripcion(&self) -> Option<String> {
        self.text(field::DESCRIPCION)
    }

    /// The author for display.
    pub fn autor(&self) -> Option<String> {
        self.text(field::AUTOR)
    }

    /// Height in cm.
    pub fn altura(&self) -> Option<i64> {
        self.centimetres(field::ALTURA)
    }

    /// Width in cm.
    pub fn ancho(&self) -> Option<i64> {
        self.centimetres(field::ANCHO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> Furniture {
        Furniture(v.as_object().cloned().expect("object"))
    }

    #[test]
    fn ids_are_strings_or_number_text() {
        assert_eq!(rec(json!({"furniture_id": "abc"})).id().as_deref(), Some("abc"));
        assert_eq!(rec(json!({"furniture_id": 42})).id().as_deref(), Some("42"));
        assert_eq!(rec(json!({"furniture_id": ""})).id(), None);
        assert_eq!(rec(json!({"furniture_id": null})).id(), None);
        assert_eq!(rec(json!({})).id(), None);
    }

    #[test]
    fn sizes_accept_numbers_and_numeric_strings_only() {
        let r = rec(json!({"altura": "80", "ancho": 75.0, "x": "alta", "y": true, "z": 1.5}));
        assert_eq!(r.altura(), Some(80));
        assert_eq!(r.ancho(), Some(75));
        assert_eq!(r.centimetres("x"), None);
        assert_eq!(r.centimetres("y"), None);
        assert_eq!(r.centimetres("z"), None);
        assert_eq!(r.centimetres("missing"), None);
    }

    #[test]
    fn text_shows_scalars_and_hides_structures() {
        let r = rec(json!({"nombre": null, "material": 7, "autor_username": ["x"]}));
        assert_eq!(r.nombre(), None);
        assert_eq!(r.material().as_deref(), Some("7"));
        assert_eq!(r.autor(), None);
    }
}
