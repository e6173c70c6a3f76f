//! The publisher's close against a broker that never answers it.

use std::time::{Duration, Instant};

use furniture_notify::{Notifier, CLOSE_QUIET};
use furniture_protocol::{Action, Furniture, ProducerMessage};

/// A broker that takes the connection and then neither reads nor writes: `close` gives up after
/// `CLOSE_QUIET` without a frame, not at `CLOSE_LIMIT`, and not at once.
#[tokio::test]
async fn close_gives_up_on_a_silent_broker_after_its_quiet_bound() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(ws);
    });
    let mut publisher = Notifier::new(url).connect().await.unwrap();
    let change = ProducerMessage { action: Action::Created, furniture: Furniture::new("1", "Mesa", "", 75, 120, "roble", "ana") };
    publisher.send(&change).await.unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), publisher.close()).await.expect("close returns long before CLOSE_LIMIT");
    let took = started.elapsed();
    assert!(took >= CLOSE_QUIET, "it waited for an answer ({took:?})");
    server.abort();
}
