//! Actions and the broker's message texts, exactly as the Python broker builds them.

use crate::python::py_str;
use crate::record::{field, Furniture};

/// What happened to a catalog item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Created,
    Updated,
    Deleted,
}

impl Action {
    /// All actions, in display order.
    pub const ALL: [Action; 3] = [Action::Created, Action::Updated, Action::Deleted];

    /// The `action` value of a notification: `created`, `updated`, `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
        }
    }

    /// The producer's `type` for this action: `furniture_created`, ...
    pub fn producer_type(self) -> &'static str {
        match self {
            Action::Created => "furniture_created",
            Action::Updated => "furniture_updated",
            Action::Deleted => "furniture_deleted",
        }
    }

    /// Parses a notification's `action`.
    pub fn from_action(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Parses a producer message's `type`.
    pub fn from_producer_type(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.producer_type() == s)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::from_action(s).ok_or_else(|| format!("unknown action `{s}` (created, updated, deleted)"))
    }
}

fn shown(record: &Furniture, key: &str, missing: &str) -> String {
    record.get(key).map(py_str).unwrap_or_else(|| missing.to_owned())
}

/// The `message` of a notification, exactly as the Python broker builds it: a missing `nombre`
/// prints `Sin nombre`, a missing `material` prints `Material desconocido`, a missing size prints
/// `None`, and a present value prints as Python's `str()` prints it.
pub fn notification_text(action: Action, record: &Furniture) -> String {
    let nombre = shown(record, field::NOMBRE, "Sin nombre");
    match action {
        Action::Created => format!(
            "🪑 Nuevo mueble creado: {nombre} - {} ({}x{}cm)",
            shown(record, field::MATERIAL, "Material desconocido"),
            shown(record, field::ANCHO, "None"),
            shown(record, field::ALTURA, "None"),
        ),
        Action::Updated => format!(
            "🔄 Mueble actualizado: {nombre} - {}x{}cm",
            shown(record, field::ANCHO, "None"),
            shown(record, field::ALTURA, "None"),
        ),
        Action::Deleted => format!("🗑\u{fe0f} Mueble eliminado: {nombre}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: serde_json::Value) -> Furniture {
        Furniture(v.as_object().cloned().expect("object"))
    }

    #[test]
    fn complete_records_give_the_exact_texts() {
        let r = Furniture::new("1", "Mesa de Roble", "d", 75, 120, "roble", "Juan");
        assert_eq!(
            notification_text(Action::Created, &r),
            "🪑 Nuevo mueble creado: Mesa de Roble - roble (120x75cm)"
        );
        assert_eq!(notification_text(Action::Updated, &r), "🔄 Mueble actualizado: Mesa de Roble - 120x75cm");
        assert_eq!(notification_text(Action::Deleted, &r), "🗑️ Mueble eliminado: Mesa de Roble");
    }

    #[test]
    fn missing_keys_print_the_python_defaults() {
        let r = rec(json!({"furniture_id": "x1"}));
        assert_eq!(
            notification_text(Action::Created, &r),
            "🪑 Nuevo mueble creado: Sin nombre - Material desconocido (NonexNonecm)"
        );
        assert_eq!(notification_text(Action::Updated, &r), "🔄 Mueble actualizado: Sin nombre - NonexNonecm");
        assert_eq!(notification_text(Action::Deleted, &r), "🗑️ Mueble eliminado: Sin nombre");
    }

    #[test]
    fn present_values_print_as_python_str() {
        let r = rec(json!({"nombre": null, "material": null, "altura": true, "ancho": 75.0}));
        assert_eq!(notification_text(Action::Created, &r), "🪑 Nuevo mueble creado: None - None (75.0xTruecm)");
    }

    #[test]
    fn actions_round_trip_their_wire_names() {
        for a in Action::ALL {
            assert_eq!(Action::from_action(a.as_str()), Some(a));
            assert_eq!(Action::from_producer_type(a.producer_type()), Some(a));
        }
        assert_eq!(Action::from_action("furniture_created"), None);
        assert_eq!(Action::from_producer_type("created"), None);
    }
}
