//! The broker's handling of client frames: any bytes, split at 0xFF into frames, handled in turn
//! as a publisher's connection does, with a viewer attached. Never a panic, and every frame the
//! viewer is sent is JSON (what a browser's JSON.parse takes) with a string `type`.
#![no_main]

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use furniture_broker::admission::Publishing;
use furniture_broker::hub::Hub;
use furniture_broker::metrics::Metrics;
use furniture_broker::{connection, Config};
use libfuzzer_sys::fuzz_target;

/// Runs a future of the in-memory hub, which is ready at its first poll (nothing waits on I/O).
fn ready<T>(f: impl Future<Output = T>) -> T {
    match std::pin::pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the in-memory hub waited"),
    }
}

fn hub() -> &'static Arc<Hub> {
    static HUB: OnceLock<Arc<Hub>> = OnceLock::new();
    HUB.get_or_init(|| {
        let config = Config::on("127.0.0.1:0".parse().unwrap());
        ready(Hub::open(&config, Arc::new(Metrics::default()))).expect("an in-memory hub")
    })
}

fuzz_target!(|data: &[u8]| {
    let hub = hub();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut viewer = hub.register(&shutdown);
    let publisher = hub.register(&shutdown);
    for frame in data.split(|&b| b == 0xff) {
        let Ok(text) = std::str::from_utf8(frame) else { continue };
        ready(connection::handle_text(text, publisher.id, Publishing::Allowed, hub));
        while let Ok(sent) = viewer.frames.try_recv() {
            let value: serde_json::Value = serde_json::from_str(&sent).expect("the broker sends JSON");
            assert!(value["type"].is_string(), "a frame without a type: {sent}");
        }
    }
    hub.unregister(viewer.id);
    hub.unregister(publisher.id);
});
