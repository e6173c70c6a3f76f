//! The catalog reducer: any sequence of created/updated/deleted events over a few ids, without
//! `seq` (taken in the order they come), matches a plain model (created upserts, updated upserts
//! unless its item was deleted, a late update; deleted removes).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use furniture_protocol::{Action, Catalog, Furniture, Notification};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut catalog = Catalog::default();
    let mut model: BTreeMap<String, i64> = BTreeMap::new();
    let mut deleted = BTreeSet::new();
    for event in data.chunks_exact(3) {
        let action = Action::ALL[event[0] as usize % 3];
        let id = format!("id{}", event[1] % 8);
        let altura = event[2] as i64;
        let furniture = Furniture::new(&id, "x", "", altura, 1, "m", "u");
        catalog.apply(&Notification { action, furniture, message: String::new(), timestamp: None, seq: None });
        match action {
            Action::Deleted => {
                model.remove(&id);
                deleted.insert(id);
            }
            Action::Updated if deleted.contains(&id) => {}
            _ => {
                deleted.remove(&id);
                model.insert(id, altura);
            }
        }
    }
    let got: BTreeMap<String, i64> = catalog.iter().map(|(k, e)| (k.clone(), e.furniture.altura().unwrap())).collect();
    assert_eq!(got, model);
});
