//! Demo traffic: a plausible, varied stream of catalog changes (real furniture, materials and
//! sizes, in Spanish like the catalog's data), so a new screen comes alive.

use furniture_protocol::{Action, Furniture, ProducerMessage};

/// A kind of furniture with plausible sizes in cm.
struct Kind {
    nombre: &'static str,
    /// The name's gender, which its finish agrees with.
    feminine: bool,
    altura: (i64, i64),
    ancho: (i64, i64),
    descripcion: &'static str,
}

const KINDS: &[Kind] = &[
    Kind { nombre: "Mesa de comedor", feminine: true, altura: (74, 78), ancho: (140, 220), descripcion: "Mesa extensible para seis comensales" },
    Kind { nombre: "Silla Windsor", feminine: true, altura: (85, 100), ancho: (42, 50), descripcion: "Silla de respaldo de varillas torneadas" },
    Kind { nombre: "Estantería modular", feminine: true, altura: (180, 220), ancho: (80, 160), descripcion: "Cinco baldas regulables" },
    Kind { nombre: "Armario ropero", feminine: false, altura: (200, 240), ancho: (100, 200), descripcion: "Dos puertas batientes y barra para colgar" },
    Kind { nombre: "Sofá de tres plazas", feminine: false, altura: (80, 95), ancho: (190, 230), descripcion: "Tapizado en lino con cojines desenfundables" },
    Kind { nombre: "Cómoda", feminine: true, altura: (80, 100), ancho: (90, 130), descripcion: "Cuatro cajones con guías de cierre suave" },
    Kind { nombre: "Mesita de noche", feminine: true, altura: (50, 65), ancho: (40, 55), descripcion: "Un cajón y hueco abierto" },
    Kind { nombre: "Escritorio", feminine: false, altura: (73, 76), ancho: (100, 160), descripcion: "Pasacables y cajonera lateral" },
    Kind { nombre: "Banco de jardín", feminine: false, altura: (80, 90), ancho: (120, 180), descripcion: "Tratado para exterior" },
    Kind { nombre: "Aparador", feminine: false, altura: (75, 90), ancho: (150, 200), descripcion: "Tres puertas y dos cajones" },
    Kind { nombre: "Librería", feminine: true, altura: (190, 210), ancho: (60, 120), descripcion: "Trasera calada y zócalo alto" },
    Kind { nombre: "Cabecero", feminine: false, altura: (100, 130), ancho: (140, 180), descripcion: "Para cama de matrimonio" },
    Kind { nombre: "Taburete alto", feminine: false, altura: (65, 80), ancho: (35, 45), descripcion: "Reposapiés metálico" },
    Kind { nombre: "Butaca orejera", feminine: true, altura: (100, 115), ancho: (75, 90), descripcion: "Respaldo alto y brazos acolchados" },
    Kind { nombre: "Vitrina", feminine: true, altura: (170, 200), ancho: (80, 110), descripcion: "Puertas de cristal templado y luz interior" },
    Kind { nombre: "Zapatero", feminine: false, altura: (90, 120), ancho: (60, 90), descripcion: "Tres compartimentos abatibles" },
    Kind { nombre: "Mesa de centro", feminine: true, altura: (40, 48), ancho: (90, 130), descripcion: "Tapa elevable con almacenaje" },
    Kind { nombre: "Consola de entrada", feminine: true, altura: (78, 85), ancho: (90, 120), descripcion: "Estrecha, para recibidor" },
    Kind { nombre: "Cama nido", feminine: true, altura: (60, 80), ancho: (95, 100), descripcion: "Segunda cama extraíble" },
    Kind { nombre: "Perchero de pie", feminine: false, altura: (170, 185), ancho: (40, 50), descripcion: "Ocho colgadores y paragüero" },
];

const MATERIALS: &[&str] = &[
    "roble", "pino", "haya", "nogal", "cerezo", "castaño", "fresno", "teca", "bambú", "ratán",
    "mimbre", "acero", "hierro forjado", "aluminio", "vidrio", "mármol", "DM lacado",
];

const AUTHORS: &[&str] = &["juan", "maria.garcia", "lucia_m", "carlos.ruiz", "ana.torres", "pablo", "elena.s", "javier_ortega"];

/// Finishes, as (masculine, feminine).
const FINISHES: &[(&str, &str)] = &[
    ("natural", "natural"),
    ("envejecido", "envejecida"),
    ("en blanco roto", "en blanco roto"),
    ("nórdico", "nórdica"),
    ("industrial", "industrial"),
    ("rústico", "rústica"),
    ("mate", "mate"),
];

/// Generates changes to a small, living catalog: mostly creates while it is small, then a mix of
/// updates (one or two fields at a time), creates and deletes of items it created itself.
pub struct DemoGenerator {
    rng: fastrand::Rng,
    items: Vec<Furniture>,
    max_items: usize,
    next_serial: u64,
}

impl DemoGenerator {
    /// A generator with a fixed seed (the same seed gives the same stream) that keeps at most
    /// `max_items` items alive.
    pub fn new(seed: u64, max_items: usize) -> DemoGenerator {
        DemoGenerator { rng: fastrand::Rng::with_seed(seed), items: Vec::new(), max_items: max_items.max(1), next_serial: 0 }
    }

    /// Number of items the generator currently believes exist.
    pub fn live_items(&self) -> usize {
        self.items.len()
    }

    /// The next change.
    pub fn next_message(&mut self) -> ProducerMessage {
        let n = self.items.len();
        let roll = self.rng.u32(0..100);
        // Creates until a few items exist, then a mix; deletes once there are a few more (fewer
        // when the bound is smaller: it holds whatever it is).
        let m = self.max_items;
        let action = if n == 0 || (n < m && (n < m.min(4) || roll < 40)) {
            Action::Created
        } else if roll < 80 || n < m.min(6) {
            Action::Updated
        } else {
            Action::Deleted
        };
        match action {
            Action::Created => {
                let item = self.new_item();
                self.items.push(item.clone());
                ProducerMessage { action, furniture: item }
            }
            Action::Updated => {
                let i = self.rng.usize(0..n);
                self.mutate(i);
                ProducerMessage { action, furniture: self.items[i].clone() }
            }
            Action::Deleted => {
                let i = self.rng.usize(0..n);
                ProducerMessage { action, furniture: self.items.swap_remove(i) }
            }
        }
    }

    fn new_item(&mut self) -> Furniture {
        self.next_serial += 1;
        let kind = &KINDS[self.rng.usize(0..KINDS.len())];
        let material = MATERIALS[self.rng.usize(0..MATERIALS.len())];
        let (masculine, feminine) = FINISHES[self.rng.usize(0..FINISHES.len())];
        let finish = if kind.feminine { feminine } else { masculine };
        // A 24-hex-digit id shaped like the catalog's MongoDB ObjectIds.
        let id = format!("{:08x}{:016x}", 0x6740_0000u32 + self.next_serial as u32, self.rng.u64(..));
        Furniture::new(
            &id,
            &format!("{} {}", kind.nombre, finish),
            kind.descripcion,
            self.rng.i64(kind.altura.0..=kind.altura.1),
            self.rng.i64(kind.ancho.0..=kind.ancho.1),
            material,
            AUTHORS[self.rng.usize(0..AUTHORS.len())],
        )
    }

    fn mutate(&mut self, i: usize) {
        let changes = self.rng.usize(1..=2);
        for _ in 0..changes {
            let item = &mut self.items[i].0;
            match self.rng.u32(0..4) {
                0 => {
                    let m = MATERIALS[self.rng.usize(0..MATERIALS.len())];
                    item.insert("material".into(), m.into());
                }
                1 => {
                    let a = item.get("altura").and_then(|v| v.as_i64()).unwrap_or(80);
                    item.insert("altura".into(), (a + self.rng.i64(-10..=10)).max(20).into());
                }
                2 => {
                    let w = item.get("ancho").and_then(|v| v.as_i64()).unwrap_or(80);
                    item.insert("ancho".into(), (w + self.rng.i64(-20..=20)).max(20).into());
                }
                _ => {
                    let base = item.get("nombre").and_then(|v| v.as_str()).unwrap_or("Mueble");
                    let base = base.split(" (").next().unwrap_or(base).to_owned();
                    let tag = ["edición limitada", "rebajado", "nuevo acabado", "reforzado"][self.rng.usize(0..4)];
                    item.insert("nombre".into(), format!("{base} ({tag})").into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The stream only updates and deletes items it created and that still exist, keeps at most
    /// `max_items` alive, and uses every action.
    #[test]
    fn stream_is_consistent_and_bounded() {
        let mut g = DemoGenerator::new(7, 12);
        let mut alive = HashSet::new();
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let m = g.next_message();
            let id = m.furniture.id().expect("every demo record has an id");
            seen.insert(m.action);
            match m.action {
                Action::Created => assert!(alive.insert(id), "created twice"),
                Action::Updated => assert!(alive.contains(&id), "update of an unknown item"),
                Action::Deleted => assert!(alive.remove(&id), "delete of an unknown item"),
            }
            assert!(alive.len() <= 12);
            assert_eq!(alive.len(), g.live_items());
        }
        assert_eq!(seen.len(), 3);
    }

    /// A small bound holds too, and the stream still creates, updates and deletes.
    #[test]
    fn small_bounds_hold_and_use_every_action() {
        for max in 1..=6 {
            let mut g = DemoGenerator::new(max as u64, max);
            let mut seen = HashSet::new();
            for _ in 0..500 {
                seen.insert(g.next_message().action);
                assert!(g.live_items() <= max, "{} alive of at most {max}", g.live_items());
            }
            assert_eq!(seen.len(), 3, "bound {max}: {seen:?}");
        }
    }

    /// Records are complete and plausible: every field present, sizes in centimetres.
    #[test]
    fn records_are_complete() {
        let mut g = DemoGenerator::new(1, 20);
        for _ in 0..200 {
            let f = g.next_message().furniture;
            for key in ["nombre", "descripcion", "material", "autor_username"] {
                assert!(f.text(key).is_some_and(|s| !s.is_empty()), "{key}");
            }
            assert!(f.altura().is_some_and(|a| (20..=260).contains(&a)));
            assert!(f.ancho().is_some_and(|a| (20..=260).contains(&a)));
            assert_eq!(f.id().unwrap().len(), 24);
        }
    }

    /// A name's finish agrees with it in gender ("Vitrina nórdica", "Aparador nórdico").
    #[test]
    fn finishes_agree_with_the_name() {
        let mut g = DemoGenerator::new(9, 20);
        let mut names = HashSet::new();
        for _ in 0..3000 {
            let f = g.next_message().furniture;
            names.insert(f.nombre().unwrap());
        }
        assert!(names.iter().any(|n| n.starts_with("Vitrina nórdica")) && names.iter().any(|n| n.starts_with("Aparador nórdico")), "{names:?}");
        for name in &names {
            let kind = KINDS.iter().find(|k| name.starts_with(k.nombre)).unwrap();
            // The other gender's forms, where the two differ.
            let wrong = FINISHES.iter().filter(|(m, f)| m != f).map(|&(m, f)| if kind.feminine { m } else { f });
            for w in wrong {
                assert!(!name.contains(&format!(" {w}")), "{name}");
            }
        }
    }

    /// The same seed gives the same stream.
    #[test]
    fn seeded_streams_repeat() {
        let (mut a, mut b) = (DemoGenerator::new(3, 10), DemoGenerator::new(3, 10));
        for _ in 0..50 {
            assert_eq!(a.next_message(), b.next_message());
        }
    }
}
