//! Property tests: decoding never panics, accepted input re-encodes faithfully, and the catalog
//! reducer matches a simple model.

use std::collections::BTreeMap;

use furniture_protocol::{
    decode_client, decode_server, encode_batch, notification_text, split_batch, Action, Catalog,
    ClientFrame, Furniture, Notification, ProducerMessage,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn record() -> impl Strategy<Value = Map<String, Value>> {
    let keys = prop_oneof![
        Just("furniture_id".to_owned()),
        Just("nombre".to_owned()),
        Just("material".to_owned()),
        Just("altura".to_owned()),
        Just("ancho".to_owned()),
        "[a-z]{1,6}",
    ];
    prop::collection::btree_map(keys, json_value(), 0..7).prop_map(|m| m.into_iter().collect())
}

proptest! {
    /// No text, however broken, makes either decoder panic.
    #[test]
    fn decoders_never_panic(text in ".{0,200}") {
        let _ = decode_client(&text);
        let _ = decode_server(&text);
        let _ = split_batch(&text);
        let _ = split_batch(&format!(r#"{{"type":"batch","frames":[{text}]}}"#));
    }

    /// Any JSON objects put in a batch come out of it as they went in.
    #[test]
    fn batches_give_back_their_frames(recs in prop::collection::vec(record(), 0..6)) {
        let frames: Vec<String> = recs.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
        let batch = encode_batch(frames.iter().map(String::as_str));
        prop_assert_eq!(split_batch(&batch), Some(frames.iter().map(String::as_str).collect::<Vec<_>>()));
    }

    /// Any accepted producer message re-encodes to JSON that decodes to the same record, and the
    /// broker's notification built from it decodes back to the same record and text. (With the
    /// `exact` feature, as the broker builds; without it a number of 16 or more digits may come
    /// back one unit off in its last place.)
    #[cfg(feature = "exact")]
    #[test]
    fn accepted_input_reencodes_to_the_same_record(action in prop::sample::select(Action::ALL.to_vec()), rec in record()) {
        let msg = ProducerMessage { action, furniture: Furniture(rec) };
        let ClientFrame::Publish(again) = decode_client(&msg.encode()) else { panic!("rejected") };
        prop_assert_eq!(&again, &msg);
        let n = Notification {
            action,
            message: notification_text(action, &msg.furniture),
            furniture: msg.furniture.clone(),
            timestamp: None,
            seq: Some(1),
        };
        let decoded = decode_server(&n.encode());
        prop_assert_eq!(decoded, furniture_protocol::ServerFrame::Notification(n));
    }

    /// Applying any sequence of events without `seq` or timestamps (a broker that numbers
    /// nothing: they are taken in the order they come) gives the same items as a plain model:
    /// created upserts, updated upserts unless its item was deleted (a late update: only a
    /// create brings it back), deleted removes.
    #[test]
    fn catalog_matches_a_map_model(events in prop::collection::vec((0..3usize, 0..6u8, 0..1000i64), 0..60)) {
        let mut catalog = Catalog::default();
        let mut model: BTreeMap<String, i64> = BTreeMap::new();
        let mut deleted = std::collections::BTreeSet::new();
        for (a, id, altura) in events {
            let action = Action::ALL[a];
            let id = format!("id{id}");
            let furniture = Furniture::new(&id, "x", "", altura, 1, "m", "u");
            catalog.apply(&Notification { action, furniture, message: String::new(), timestamp: None, seq: None });
            match action {
                Action::Deleted => { model.remove(&id); deleted.insert(id); }
                Action::Updated if deleted.contains(&id) => {}
                _ => { deleted.remove(&id); model.insert(id, altura); }
            }
        }
        let got: BTreeMap<String, i64> = catalog.iter().map(|(k, e)| (k.clone(), e.furniture.altura().unwrap())).collect();
        prop_assert_eq!(got, model);
    }

    /// Numbered events delivered in any order (some late, as replays and reconnects can make
    /// them) leave each item as its highest `seq` says: the last change wins, a deletion
    /// included, so that a late update never brings a deleted item back nor a late create an
    /// older record.
    #[test]
    fn numbered_events_in_any_order_leave_what_the_last_one_says(
        events in prop::collection::vec((0..3usize, 0..6u8, 0..1000i64, 0..8usize), 0..60),
    ) {
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| i + events[i].3);
        let mut catalog = Catalog::default();
        for &i in &order {
            let (a, id, altura, _) = events[i];
            let furniture = Furniture::new(&format!("id{id}"), "x", "", altura, 1, "m", "u");
            catalog.apply(&Notification { action: Action::ALL[a], furniture, message: String::new(), timestamp: None, seq: Some(i as u64 + 1) });
        }
        let mut model: BTreeMap<String, i64> = BTreeMap::new();
        for &(a, id, altura, _) in &events {
            match Action::ALL[a] {
                Action::Deleted => { model.remove(&format!("id{id}")); }
                _ => { model.insert(format!("id{id}"), altura); }
            }
        }
        let got: BTreeMap<String, i64> = catalog.iter().map(|(k, e)| (k.clone(), e.furniture.altura().unwrap())).collect();
        prop_assert_eq!(got, model);
    }
}
