//! What a `sync` reply costs the broker for catalogs of 1,000, 10,000 and 100,000 items: encoding
//! the catalog in parts (done once per `seq`, outside the hub's lock, and shared by the replies
//! at that `seq`), against copying its entries (what is done under the lock). Each figure is the
//! mean of 5 runs. `cargo run --release -p furniture-broker --example sync_cost`
use furniture_protocol::{Action, Catalog, Furniture, Notification, SyncCatalog, SYNC_PART_BYTES};

fn main() {
    for n in [1_000usize, 10_000, 100_000] {
        let mut catalog = Catalog::with_max_items(n);
        for i in 0..n {
            let f = Furniture::new(&format!("{i:024x}"), &format!("Mesa {i}"), "Mesa de roble macizo con acabado natural", 75, 120, "roble", "ana");
            catalog.apply(&Notification { action: Action::Created, furniture: f, message: "x".into(), timestamp: None, seq: Some(i as u64 + 1) });
        }
        let runs = 5;
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..runs {
            let encoded = SyncCatalog::encode(catalog.iter().map(|(_, e)| e), SYNC_PART_BYTES);
            bytes = encoded.parts.iter().map(String::len).sum::<usize>() + encoded.rest.len();
        }
        let encode = started.elapsed() / runs;
        let started = std::time::Instant::now();
        for _ in 0..runs {
            let entries: Vec<_> = catalog.iter().map(|(_, e)| e.clone()).collect();
            std::hint::black_box(entries);
        }
        let copy = started.elapsed() / runs;
        println!("{n:>7} items, {bytes:>10} bytes: encoding {encode:>10.2?}, copying the entries {copy:>9.2?}");
    }
}
