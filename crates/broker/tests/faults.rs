//! The broker behind a misbehaving network (`furniture-faultproxy`): peers that vanish, links
//! that slice frames anywhere, delay or throttle them, and connections reset mid-stream. In every
//! case the broker stays up, drops what it must with its documented close codes, and the peers on
//! a good network get every notification in order.

use std::time::Duration;

use furniture_faultproxy::{Fault, FaultProxy};
use furniture_notify::{Action, ProducerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::*;

fn created(i: usize) -> ProducerMessage {
    ProducerMessage { action: Action::Created, furniture: mesa(&format!("f{i}"), &format!("Mesa {i}")) }
}

/// Reads `count` notifications and checks they are `first..first+count` in `seq` order with the
/// ids `created` gave them.
async fn expect_notifications(ws: &mut Ws, first: u64, count: usize) {
    let mut seen = 0;
    while seen < count {
        let frame = next_json(ws).await;
        if frame["type"] != "furniture_notification" {
            continue;
        }
        assert_eq!(frame["seq"], first + seen as u64, "in order, none missing: {frame}");
        assert_eq!(frame["furniture"]["furniture_id"], format!("f{}", first as usize + seen));
        seen += 1;
    }
}

/// A live viewer in its own task: reads `count` notifications from `first` (checked as
/// [`expect_notifications`] does), then keeps reading, and so answering the broker's protocol
/// pings, until `stop` is sent. Its result says whether the connection was still open then.
fn live_viewer(
    mut ws: Ws,
    first: u64,
    count: usize,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<bool>) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        expect_notifications(&mut ws, first, count).await;
        loop {
            tokio::select! {
                _ = &mut stopped => return true,
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => return false,
                },
            }
        }
    });
    (stop, task)
}

/// A viewer that vanishes without FIN or RST (its bytes swallowed both ways, nothing closed) is
/// dropped by the protocol ping deadline, ping interval + timeout, while a viewer on a good
/// network keeps receiving everything.
#[tokio::test]
async fn a_vanished_viewer_is_dropped_by_the_ping_deadline_and_others_carry_on() {
    let broker = Broker::start(|c| {
        c.ping_interval_secs = 1;
        c.ping_timeout_secs = 1;
    })
    .await;
    let proxy = FaultProxy::start(broker.addr).await.unwrap();
    let (mut vanishing, _) = connect_async(format!("ws://{}", proxy.addr)).await.unwrap();
    next_json(&mut vanishing).await; // welcome
    let (good, _) = broker.viewer().await;
    wait_metric(broker.addr, "furniture_broker_connections", 2.0, WAIT).await;

    proxy.set(Fault::Blackhole);
    let (stop, good) = live_viewer(good, 1, 20);
    let producer = broker.notifier();
    for i in 1..=20 {
        producer.send(&created(i)).await.unwrap();
    }
    // Interval 1 s + timeout 1 s; the bound allows for a slow machine, not for never.
    let took = wait_metric(broker.addr, "furniture_broker_connections", 1.0, Duration::from_secs(10)).await;
    eprintln!("vanished viewer dropped after {took:?}");
    stop.send(()).unwrap();
    assert!(good.await.unwrap(), "the good viewer got all 20 and stayed connected");
    assert_eq!(metric(broker.addr, "furniture_broker_closes_total{code=\"1011\"}").await, 1.0);
    assert_eq!(proxy.open(), 1, "the black hole itself never closed");
}

/// A broker with pings every second (1 s to answer) and 25 MiB of catalog, and a viewer that has
/// asked for all of it at once (before the first ping) and reads nothing more.
async fn stalled_mid_write() -> (Broker, Ws) {
    let broker = Broker::start(|c| {
        c.ping_interval_secs = 1;
        c.ping_timeout_secs = 1;
    })
    .await;
    let producer = broker.notifier();
    let body = "z".repeat(64 * 1024);
    for i in 0..400 {
        producer.send(&ProducerMessage { action: Action::Created, furniture: mesa(&format!("big{i}"), &body) }).await.unwrap();
    }
    let (mut stalled, _) = connect_async(broker.url()).await.unwrap();
    assert_eq!(next_json(&mut stalled).await["type"], "connection");
    let sync = furniture_protocol::SyncRequest { since: None, batch: true, parts: true }.encode();
    stalled.send(Message::text(sync)).await.unwrap();
    (broker, stalled)
}

/// A viewer that stops reading in the middle of a write (a reply far bigger than the socket
/// buffers, and nothing after it) is dropped by the same deadline: the ping that falls due while
/// the write is stuck is owed, and the deadline for its pong runs from then. (Before, a write
/// stuck with no ping outstanding held the connection for as long as TCP kept it open.)
#[tokio::test]
async fn a_viewer_that_stops_reading_mid_write_is_dropped_by_the_ping_deadline() {
    let (broker, _stalled) = stalled_mid_write().await;
    // Interval 1 s + timeout 1 s; the bound allows for a slow machine, not for never.
    let took = wait_metric(broker.addr, "furniture_broker_closes_total{code=\"1011\"}", 1.0, Duration::from_secs(10)).await;
    eprintln!("stalled viewer dropped after {took:?}");
    wait_metric(broker.addr, "furniture_broker_connections", 0.0, WAIT).await;
}

/// The same viewer cannot hold the stuck write open by talking: pongs nobody asked for and
/// text frames, sent while it reads nothing, do not answer the ping it was never sent.
#[tokio::test]
async fn a_viewer_stuck_mid_write_is_dropped_even_while_it_sends_pongs() {
    let (broker, mut stalled) = stalled_mid_write().await;
    let chatter = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let pong = stalled.send(Message::Pong(Default::default())).await;
            let ping = stalled.send(Message::text(r#"{"type":"ping"}"#)).await;
            eprintln!("chatter {:?} {:?}", pong.is_ok(), ping.is_ok());
            if pong.is_err() || ping.is_err() {
                return;
            }
        }
    });
    let took = wait_metric(broker.addr, "furniture_broker_closes_total{code=\"1011\"}", 1.0, Duration::from_secs(10)).await;
    eprintln!("chattering stalled viewer dropped after {took:?}");
    wait_metric(broker.addr, "furniture_broker_connections", 0.0, WAIT).await;
    chatter.abort();
}

/// Frames cut into 1- and 3-byte pieces with pauses, at any boundary, are reassembled: the
/// producer's publishes all go out, the viewer behind the slicing link gets all of them whole.
#[tokio::test]
async fn frames_sliced_anywhere_arrive_whole() {
    let broker = Broker::start(|_| {}).await;
    let viewer_link = FaultProxy::start(broker.addr).await.unwrap();
    viewer_link.set(Fault::Slice { bytes: 3, pause: Duration::ZERO });
    let (mut viewer, _) = connect_async(format!("ws://{}", viewer_link.addr)).await.unwrap();
    assert_eq!(next_json(&mut viewer).await["type"], "connection");

    let producer_link = FaultProxy::start(broker.addr).await.unwrap();
    producer_link.set_to_server(Fault::Slice { bytes: 1, pause: Duration::from_micros(100) });
    let mut producer = furniture_notify::Notifier::new(format!("ws://{}", producer_link.addr)).connect().await.unwrap();
    for i in 1..=10 {
        producer.send(&created(i)).await.unwrap();
    }
    expect_notifications(&mut viewer, 1, 10).await;
}

/// A viewer on a delayed link still answers the protocol pings in time, stays connected and
/// gets everything in order.
#[tokio::test]
async fn a_delayed_link_keeps_order_and_the_connection() {
    let broker = Broker::start(|c| {
        c.ping_interval_secs = 1;
        c.ping_timeout_secs = 1;
    })
    .await;
    let proxy = FaultProxy::start(broker.addr).await.unwrap();
    proxy.set(Fault::Delay(Duration::from_millis(150)));
    let (mut viewer, _) = connect_async(format!("ws://{}", proxy.addr)).await.unwrap();
    assert_eq!(next_json(&mut viewer).await["type"], "connection");
    let (stop, viewer) = live_viewer(viewer, 1, 30);
    let producer = broker.notifier();
    for i in 1..=30 {
        producer.send(&created(i)).await.unwrap();
    }
    // Across a few ping rounds.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    stop.send(()).unwrap();
    assert!(viewer.await.unwrap(), "the delayed viewer got all 30 and stayed connected");
    assert_eq!(metric(broker.addr, "furniture_broker_closes_total{code=\"1011\"}").await, 0.0);
}

/// A viewer on a slow link (2 KB/s) falls behind a fast producer: it is cut off with 1008 when
/// its queue is full, while the viewer on a good network gets every notification in order.
#[tokio::test]
async fn a_slow_link_is_cut_off_at_its_queue_bound_and_others_get_everything() {
    let broker = Broker::start(|c| {
        c.client_queue = 64;
        c.max_messages_per_sec = 0;
    })
    .await;
    let proxy = FaultProxy::start(broker.addr).await.unwrap();
    let (mut slow, _) = connect_async(format!("ws://{}", proxy.addr)).await.unwrap();
    next_json(&mut slow).await;
    proxy.set_to_client(Fault::Throttle { bytes_per_sec: 2_000 });
    let (mut good, _) = broker.viewer().await;
    // The good viewer reports how far it has read, and the producer stays at most 32 ahead of
    // it: a busy test machine then cannot make the good viewer look slow too.
    let (seen_tx, mut seen) = tokio::sync::watch::channel(0usize);
    let reader = tokio::spawn(async move {
        for n in 1.. {
            expect_notifications(&mut good, n as u64, 1).await;
            seen_tx.send_replace(n);
        }
    });
    // A raw producer that also reads (and drops) its own broadcasts, as a real client would.
    let (producer, _) = connect_async(broker.url()).await.unwrap();
    let (mut publish, mut echoes) = producer.split();
    tokio::spawn(async move { while let Some(Ok(_)) = echoes.next().await {} });
    // Kernel buffers along the way absorb several MB before the slow viewer's queue fills, how
    // many depends on the machine's TCP settings (one with `tcp_rmem` up to 32 MB took 95,000
    // notifications); send rounds until the broker cuts it off (bounded: 200,000, about 60 MB).
    let mut sent = 0;
    let mut cut_off = false;
    while !cut_off && sent < 200_000 {
        for _ in 0..1_000 {
            sent += 1;
            publish.send(Message::text(created(sent).encode())).await.unwrap();
            let behind = sent.saturating_sub(32);
            tokio::time::timeout(WAIT, seen.wait_for(|&n| n >= behind))
                .await
                .expect("the good viewer keeps up")
                .unwrap();
        }
        cut_off = metric(broker.addr, "furniture_broker_slow_consumer_disconnects_total").await == 1.0;
    }
    assert!(cut_off, "the slow viewer was not cut off after {sent} notifications");
    tokio::time::timeout(WAIT, seen.wait_for(|&n| n == sent)).await.expect("the good viewer got everything").unwrap();
    assert!(!reader.is_finished(), "the good viewer is still connected");
    assert_eq!(metric(broker.addr, "furniture_broker_connections").await, 2.0, "the good viewer and the producer");
    // The slow viewer was cut off while it still had megabytes to read: the broker did not
    // wait for it. Once the link heals it reads a gapless prefix, then the end: the 1008 close
    // when it got out in time behind the backlog, else the bare end of the connection.
    proxy.set_to_client(Fault::Pass);
    let mut next = 1;
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(30), slow.next()).await.expect("the end arrives") {
            Some(Ok(Message::Text(t))) => {
                let frame: serde_json::Value = serde_json::from_str(&t).unwrap();
                assert_eq!(frame["seq"], next, "a gapless prefix");
                next += 1;
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| f.code),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break None,
        }
    };
    assert!(matches!(end, Some(CloseCode::Policy) | None), "closed with 1008 or cut: {end:?}");
    assert!(next - 1 < sent as u64, "the slow viewer did not get everything: {} of {sent}", next - 1);
}

/// Connections reset mid-stream (RST) leave the broker serving: it forgets them, the viewer on a
/// good network keeps receiving, and new connections through the same path work once it heals.
#[tokio::test]
async fn reset_connections_leave_the_broker_serving() {
    let broker = Broker::start(|_| {}).await;
    let proxy = FaultProxy::start(broker.addr).await.unwrap();
    let mut doomed = Vec::new();
    for _ in 0..5 {
        let (mut ws, _) = connect_async(format!("ws://{}", proxy.addr)).await.unwrap();
        next_json(&mut ws).await;
        doomed.push(ws);
    }
    let (mut good, _) = broker.viewer().await;
    wait_metric(broker.addr, "furniture_broker_connections", 6.0, WAIT).await;
    let producer = broker.notifier();
    producer.send(&created(1)).await.unwrap();
    proxy.set(Fault::Reset);
    producer.send(&created(2)).await.unwrap();
    wait_metric(broker.addr, "furniture_broker_connections", 1.0, WAIT).await;
    for ws in &mut doomed {
        let end = tokio::time::timeout(WAIT, async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(_) | Message::Ping(_))) => continue,
                    other => return other,
                }
            }
        })
        .await
        .expect("the reset is seen");
        assert!(matches!(end, Some(Err(_)) | None), "a reset, not a close frame: {end:?}");
    }
    expect_notifications(&mut good, 1, 2).await;
    proxy.set(Fault::Pass);
    let (mut again, _) = connect_async(format!("ws://{}", proxy.addr)).await.unwrap();
    assert_eq!(next_json(&mut again).await["client_count"], 2);
}
