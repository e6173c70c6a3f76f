//! The broker on port 0, driven by the real notifier and plain WebSocket viewers.

use std::time::Duration;

use furniture_notify::{Action, Notifier, ProducerMessage};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio::net::TcpStream;
use tokio_tungstenite::connect_async;

mod common;
use common::*;

/// The welcome carries the exact count of open connections, including the new one, as clients
/// come and go.
#[tokio::test]
async fn welcome_counts_open_connections() {
    let broker = Broker::start(|_| {}).await;
    let (a, w1) = broker.viewer().await;
    assert_eq!(w1["type"], "connection");
    assert_eq!(w1["message"], "Conectado al servidor de notificaciones de muebles");
    assert_eq!(w1["client_count"], 1);
    assert!(furniture_protocol::Timestamp::parse(w1["timestamp"].as_str().unwrap()).is_some());
    let (_b, w2) = broker.viewer().await;
    assert_eq!(w2["client_count"], 2);
    // The id of the seq numbering: the same for every client of this broker, new for another.
    assert_eq!(w1["stream"].as_str().map(str::len), Some(16));
    assert_eq!(w1["stream"], w2["stream"]);
    let other = Broker::start(|_| {}).await;
    assert_ne!(other.viewer().await.1["stream"], w1["stream"]);
    drop(a);
    // The broker notices the dropped socket; poll until the count reflects it.
    let mut count = 0;
    for _ in 0..50 {
        let (_c, w) = broker.viewer().await;
        count = w["client_count"].as_u64().unwrap();
        if count == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count, 2, "a, which left, is no longer counted");
}

/// Every connection, the producer's own included, gets each notification once, in order, with
/// `seq` increasing by one, the record unchanged and the Python broker's exact message text.
#[tokio::test]
async fn every_connection_gets_every_notification_in_order() {
    let broker = Broker::start(|_| {}).await;
    let mut viewers = Vec::new();
    for _ in 0..3 {
        viewers.push(broker.viewer().await.0);
    }
    let mut producer = broker.notifier().connect().await.unwrap();
    let mut sender_view = broker.viewer().await.0;
    let changes = [
        (Action::Created, mesa("a", "Mesa de Roble")),
        (Action::Updated, mesa("a", "Mesa de Roble XL")),
        (Action::Deleted, mesa("a", "Mesa de Roble XL")),
    ];
    for (action, furniture) in &changes {
        producer.send(&ProducerMessage { action: *action, furniture: furniture.clone() }).await.unwrap();
    }
    // One-shot sends, as the Python producer does, from a different connection each time.
    broker.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa("b", "Silla") }).await.unwrap();
    viewers.push(sender_view);
    for ws in &mut viewers {
        let mut seqs = Vec::new();
        for (i, (action, furniture)) in changes.iter().enumerate() {
            let n = next_json(ws).await;
            assert_eq!(n["type"], "furniture_notification");
            assert_eq!(n["action"], action.as_str());
            assert_eq!(n["furniture"], Value::Object(furniture.0.clone()));
            let want = ["🪑 Nuevo mueble creado: Mesa de Roble - roble (120x75cm)", "🔄 Mueble actualizado: Mesa de Roble XL - 120x75cm", "🗑️ Mueble eliminado: Mesa de Roble XL"][i];
            assert_eq!(n["message"], want);
            seqs.push(n["seq"].as_u64().unwrap());
        }
        assert_eq!(next_json(ws).await["furniture"]["furniture_id"], "b");
        assert_eq!(seqs, vec![seqs[0], seqs[0] + 1, seqs[0] + 2]);
    }
    sender_view = viewers.pop().unwrap();
    drop(sender_view);
    producer.close().await;
}

/// `{"type": "ping"}` gets a pong with a timestamp, to the sender only.
#[tokio::test]
async fn ping_gets_pong() {
    let broker = Broker::start(|_| {}).await;
    let (mut a, _) = broker.viewer().await;
    let (mut b, _) = broker.viewer().await;
    a.send(Message::text(r#"{"type": "ping"}"#)).await.unwrap();
    let pong = next_json(&mut a).await;
    assert_eq!(pong["type"], "pong");
    assert!(furniture_protocol::Timestamp::parse(pong["timestamp"].as_str().unwrap()).is_some());
    assert_eq!(pong.as_object().unwrap().len(), 2, "exactly the Python broker's pong: {pong}");
    // b got nothing: the next thing it sees is a notification sent after the ping.
    broker.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa("p", "x") }).await.unwrap();
    assert_eq!(next_json(&mut b).await["type"], "furniture_notification");
}

/// A client that uses the extensions (it has sent a `sync`) gets the number of clients connected
/// now in every pong, producers left out, so that a screen open for weeks keeps its count of
/// screens true.
#[tokio::test]
async fn pongs_to_extension_users_carry_the_client_count_now() {
    let broker = Broker::start(|_| {}).await;
    let (mut dashboard, _) = broker.viewer().await;
    dashboard.send(Message::text(r#"{"type": "sync"}"#)).await.unwrap();
    assert_eq!(next_json(&mut dashboard).await["type"], "sync");
    assert_eq!(count_now(&mut dashboard).await, 1);
    let (other, _) = broker.viewer().await;
    let (mut third, _) = broker.viewer().await;
    assert_eq!(count_now(&mut dashboard).await, 3);
    // A producer connected for many changes is not a screen, once it has sent one.
    let mut producer = broker.notifier().connect().await.unwrap();
    producer.send(&ProducerMessage { action: Action::Created, furniture: mesa("p", "x") }).await.unwrap();
    for viewer in [&mut dashboard, &mut third] {
        assert_eq!(next_json(viewer).await["type"], "furniture_notification");
    }
    assert_eq!(count_now(&mut dashboard).await, 3);
    drop(other);
    let deadline = tokio::time::Instant::now() + WAIT;
    while count_now(&mut dashboard).await != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the count never went back to 2");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The producer gone, the screens are still two (it leaves the producers' count too).
    let _ = producer.close().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count_now(&mut dashboard).await, 2);
    // A client that never asked for the extensions keeps the Python broker's pong.
    third.send(Message::text(r#"{"type": "ping"}"#)).await.unwrap();
    assert_eq!(next_json(&mut third).await.get("client_count"), None);
}

/// Pings and returns the client count of the pong.
async fn count_now(ws: &mut Ws) -> u64 {
    ws.send(Message::text(r#"{"type": "ping"}"#)).await.unwrap();
    let pong = next_json(ws).await;
    assert_eq!(pong["type"], "pong");
    pong["client_count"].as_u64().expect("a count in the pong")
}

/// Garbage, unknown types and non-object records are ignored, nothing is broadcast, and the
/// connection stays open.
#[tokio::test]
async fn garbage_is_ignored_and_the_connection_kept() {
    let broker = Broker::start(|_| {}).await;
    let (mut viewer, _) = broker.viewer().await;
    let (mut sender, _) = broker.viewer().await;
    for junk in [
        "not json at all",
        r#"{"type": "something_else", "furniture": {"nombre": "nope"}}"#,
        r#"{"type": "furniture_updated", "furniture": null}"#,
        r#"{"type": "furniture_deleted", "furniture": "texto"}"#,
        "[1, 2, 3]",
        r#"{"type": "furniture_created", "furniture": {"altura": NaN}}"#,
        "",
    ] {
        sender.send(Message::text(junk)).await.unwrap();
    }
    sender.send(Message::text(r#"{"type": "ping"}"#)).await.unwrap();
    assert_eq!(next_json(&mut sender).await["type"], "pong", "nothing broadcast before the pong");
    broker.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa("g", "ok") }).await.unwrap();
    let n = next_json(&mut viewer).await;
    assert_eq!((n["furniture"]["furniture_id"].clone(), n["seq"].clone()), (json!("g"), json!(1)));
}

/// A frame above the 1 MiB limit closes that connection with 1009; others carry on.
#[tokio::test]
async fn oversized_frames_close_with_1009() {
    let broker = Broker::start(|_| {}).await;
    let (mut big, _) = broker.viewer().await;
    let (mut other, _) = broker.viewer().await;
    let huge = format!(r#"{{"type":"furniture_created","furniture":{{"nombre":"{}"}}}}"#, "x".repeat(1 << 20));
    let _ = big.send(Message::text(huge)).await;
    assert_eq!(close_code(&mut big).await, Some(CloseCode::Size));
    // Exactly at the limit is still accepted.
    let (mut edge, _) = broker.viewer().await;
    let prefix = r#"{"type":"furniture_created","furniture":{"furniture_id":"e","nombre":""#;
    let suffix = r#""}}"#;
    let fill = (1 << 20) - prefix.len() - suffix.len();
    edge.send(Message::text(format!("{prefix}{}{suffix}", "y".repeat(fill)))).await.unwrap();
    let n = next_json(&mut other).await;
    assert_eq!(n["furniture"]["furniture_id"], "e");
}

/// A frame header that announces an enormous length (2^62 bytes; no body follows) is refused from
/// the header alone with 1009: nothing of that size is allocated (an attempt would abort the
/// process), and the broker goes on serving.
#[tokio::test]
async fn a_frame_announcing_an_enormous_length_closes_with_1009_from_its_header() {
    use tokio::io::AsyncWriteExt;
    let broker = Broker::start(|_| {}).await;
    let (mut liar, _) = broker.viewer().await;
    // FIN + text; masked, 64-bit length; the length; the mask key.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    match liar.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.write_all(&header).await.unwrap(),
        _ => unreachable!("plain TCP"),
    }
    assert_eq!(close_code(&mut liar).await, Some(CloseCode::Size));
    let (mut other, _) = broker.viewer().await;
    broker.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa("after", "Mesa") }).await.unwrap();
    assert_eq!(next_json(&mut other).await["furniture"]["furniture_id"], "after");
}

/// A text frame that is not UTF-8 closes that connection with 1007; the broker goes on serving.
#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    use tokio::io::AsyncWriteExt;
    let broker = Broker::start(|_| {}).await;
    let (mut bad, _) = broker.viewer().await;
    let (payload, mask) = ([b'{', 0xff, 0xfe, b'}'], [9u8, 8, 7, 6]);
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    match bad.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.write_all(&frame).await.unwrap(),
        _ => unreachable!("plain TCP"),
    }
    assert_eq!(close_code(&mut bad).await, Some(CloseCode::Invalid));
    let (mut other, _) = broker.viewer().await;
    broker.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa("fine", "Mesa") }).await.unwrap();
    assert_eq!(next_json(&mut other).await["furniture"]["furniture_id"], "fine");
}

/// Bytes that are not HTTP at all, sent to the broker's port, get the connection closed (with an
/// HTTP error at most), and the broker goes on serving.
#[tokio::test]
async fn garbage_bytes_on_the_port_are_shut_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let broker = Broker::start(|_| {}).await;
    for garbage in [&b"\x00\xff\xfe garbage \x16\x03\x01\r\n\r\n"[..], &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03][..], &[0u8; 4096][..]] {
        let mut tcp = tokio::net::TcpStream::connect(broker.addr).await.unwrap();
        let _ = tcp.write_all(garbage).await;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the connection was closed");
        let text = String::from_utf8_lossy(&answer);
        assert!(answer.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
    }
    let (mut viewer, _) = broker.viewer().await;
    broker.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa("still", "Mesa") }).await.unwrap();
    assert_eq!(next_json(&mut viewer).await["furniture"]["furniture_id"], "still");
}

/// After closing a connection for a bad frame, the broker keeps the socket for its close linger
/// (so the peer reads the close before the unread rest of its frame resets the connection), then
/// drops it: at the bound, not sooner and not never.
#[tokio::test]
async fn a_closed_connection_is_held_for_the_close_linger_then_dropped() {
    use furniture_broker::connection::CLOSE_LINGER;
    let broker = Broker::start(|_| {}).await;
    let (mut big, _) = broker.viewer().await;
    // Before the send: the broker's linger starts when it closes, sooner than the close is read.
    let closed = std::time::Instant::now();
    let _ = big.send(Message::text("x".repeat((1 << 20) + 1))).await;
    assert_eq!(close_code(&mut big).await, Some(CloseCode::Size));
    let end = tokio::time::timeout(CLOSE_LINGER + WAIT, async { while let Some(Ok(_)) = big.next().await {} }).await;
    let held = closed.elapsed();
    assert!(end.is_ok(), "the socket was never dropped");
    assert!(held >= CLOSE_LINGER - Duration::from_millis(300), "dropped after {held:?}, before the linger");
}

/// Shutting down closes every client with 1001 and `run` returns.
#[tokio::test]
async fn shutdown_closes_every_client_with_1001() {
    let broker = Broker::start(|_| {}).await;
    let (mut a, _) = broker.viewer().await;
    let (mut b, _) = broker.viewer().await;
    broker.shutdown.cancel();
    assert_eq!(close_code(&mut a).await, Some(CloseCode::Away));
    assert_eq!(close_code(&mut b).await, Some(CloseCode::Away));
    tokio::time::timeout(WAIT, broker.task).await.expect("run returns").unwrap().unwrap();
}

/// A client that never answers protocol pings is closed with 1011 after interval + timeout.
#[tokio::test]
async fn silent_peers_are_dropped_by_the_ping_deadline() {
    let broker = Broker::start(|c| {
        c.ping_interval_secs = 1;
        c.ping_timeout_secs = 1;
    })
    .await;
    let (mut ws, _) = broker.viewer().await;
    // Not reading means tungstenite never answers the ping.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Error));
}

/// A client that reads (and so answers pings) stays connected past several ping rounds.
#[tokio::test]
async fn live_peers_survive_ping_rounds() {
    let broker = Broker::start(|c| {
        c.ping_interval_secs = 1;
        c.ping_timeout_secs = 1;
    })
    .await;
    let (mut ws, _) = broker.viewer().await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(3500);
    let mut pings = 0;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        match msg {
            Message::Ping(_) => pings += 1,
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
    assert!(pings >= 2, "saw {pings} pings");
}

/// A viewer that stops reading is cut off once its queue is full, without waiting for it to
/// read; the others get everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_cut_off_at_its_queue_bound() {
    let broker = Broker::start(|c| c.client_queue = 32).await;
    let (mut stalled, _) = broker.viewer().await;
    let (mut healthy, _) = broker.viewer().await;
    let producer = broker.notifier();
    let body = "z".repeat(64 * 1024);
    let total = 400; // 25 MiB: far beyond what socket buffers absorb.
    // The producer stays at most 8 frames ahead of the healthy reader, which therefore never
    // fills its 32-frame queue, while the stalled one falls behind without bound.
    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel(0usize);
    let reader = tokio::spawn(async move {
        let mut seen = 0;
        while seen < total {
            match tokio::time::timeout(WAIT, healthy.next()).await.expect("in time").expect("open").expect("ok") {
                Message::Text(t) => {
                    seen += 1;
                    assert!(t.ends_with(&format!(r#""seq":{seen}}}"#)), "in order");
                    let _ = seen_tx.send(seen);
                }
                Message::Close(f) => panic!("healthy reader closed: {f:?}"),
                _ => {}
            }
        }
    });
    for i in 0..total {
        seen_rx.wait_for(|seen| i < seen + 8).await.unwrap();
        producer.send(&ProducerMessage { action: Action::Created, furniture: mesa(&format!("s{i}"), &body) }).await.unwrap();
    }
    reader.await.unwrap();
    // Cut off, and gone from the gauge (the healthy viewer, done, is gone too), while the stalled
    // viewer has still not read a byte. Its close frame sits behind megabytes it never read, so
    // when it finally reads it sees the backlog and then the 1008 or the end of the connection.
    wait_metric(broker.addr, "furniture_broker_slow_consumer_disconnects_total", 1.0, WAIT).await;
    wait_metric(broker.addr, "furniture_broker_connections", 0.0, WAIT).await;
    assert!(matches!(close_code(&mut stalled).await, Some(CloseCode::Policy) | None));
}

/// The `sync` extension answers with the catalog as it stands and the missed notifications, and
/// says when history no longer reaches back.
#[tokio::test]
async fn sync_returns_catalog_and_missed_notifications() {
    let broker = Broker::start(|c| c.history = 3).await;
    let n = broker.notifier();
    for (action, id) in [(Action::Created, "a"), (Action::Created, "b"), (Action::Created, "c"), (Action::Deleted, "b"), (Action::Updated, "a")] {
        n.send(&ProducerMessage { action, furniture: mesa(id, id) }).await.unwrap();
    }
    let (mut ws, _) = broker.viewer().await;
    ws.send(Message::text(r#"{"type":"sync","since":3}"#)).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["type"], "sync");
    assert_eq!(reply["seq"], 5);
    assert_eq!(reply["complete"], true);
    let ids: Vec<_> = reply["catalog"].as_array().unwrap().iter().map(|e| e["furniture"]["furniture_id"].clone()).collect();
    assert_eq!(ids, vec![json!("a"), json!("c")]);
    let missed: Vec<_> = reply["missed"].as_array().unwrap().iter().map(|m| m["seq"].clone()).collect();
    assert_eq!(missed, vec![json!(4), json!(5)]);
    // Seq 1 is gone from a 3-long history: the reply says so and still carries the catalog.
    ws.send(Message::text(r#"{"type":"sync","since":1}"#)).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["complete"], false);
    assert_eq!(reply["missed"].as_array().unwrap().len(), 3);
    assert_eq!(reply["catalog"].as_array().unwrap().len(), 2);
}

/// `--max-syncs-per-minute` paces a connection that asks for the catalog again and again: its
/// first four are answered at once, the ones after in their turn (here one a second), each
/// answered all the same, and counted.
#[tokio::test]
async fn a_connection_asking_for_the_catalog_again_and_again_is_answered_in_its_turn() {
    let broker = Broker::start(|c| c.max_syncs_per_minute = 60).await;
    broker.notifier().send(&ProducerMessage { action: Action::Created, furniture: mesa("s", "Mesa") }).await.unwrap();
    let opened = std::time::Instant::now();
    let (mut ws, _) = broker.viewer().await;
    let mut answered = Vec::new();
    for _ in 0..6 {
        // Each asked once the last reply is in (asked before, it would be ignored).
        ws.send(Message::text(r#"{"type":"sync"}"#)).await.unwrap();
        let reply = next_json(&mut ws).await;
        assert_eq!((reply["type"].as_str(), reply["catalog"].as_array().map(Vec::len)), (Some("sync"), Some(1)));
        answered.push(opened.elapsed());
    }
    // The bucket holds four when the connection opens and gains one a second: the sixth is
    // answered two seconds after the opening at the earliest, however fast the machine.
    assert!(answered[5] >= Duration::from_secs(2), "{answered:?}");
    assert!(answered[4] >= Duration::from_secs(1), "{answered:?}");
    assert_eq!(metric(broker.addr, "furniture_broker_syncs_paced_total").await, 2.0);
    assert_eq!(metric(broker.addr, r#"furniture_broker_messages_in_total{kind="sync"}"#).await, 6.0);
}

/// `--max-history-bytes` bounds the history by its frames' bytes beside `--history`'s count: the
/// oldest go first, a sync from before them says it is not complete, and a frame larger than the
/// whole bound leaves the history empty rather than with a gap.
#[tokio::test]
async fn history_is_bounded_by_bytes_the_oldest_going_first() {
    const MAX: usize = 2_500;
    let broker = Broker::start(|c| c.max_history_bytes = MAX).await;
    let (mut viewer, _) = broker.viewer().await;
    let n = broker.notifier();
    // Publishes one change and gives its frame as the viewer receives it: the bytes kept.
    let mut publish = async |i: usize, size: usize| -> String {
        n.send(&ProducerMessage { action: Action::Created, furniture: mesa(&format!("h{i}"), &"x".repeat(size)) }).await.unwrap();
        loop {
            match tokio::time::timeout(WAIT, viewer.next()).await.unwrap().unwrap().unwrap() {
                Message::Text(t) => return t.to_string(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected frame {other:?}"),
            }
        }
    };
    let mut frames = Vec::new();
    for i in 1..=4 {
        frames.push(publish(i, 400).await);
    }
    assert!(frames.iter().all(|f| f.len() > MAX / 3 && f.len() < MAX / 2), "two of the four fit, not three: {}", frames[0].len());
    let (mut asker, _) = broker.viewer().await;
    let mut ask = async |since: u64| -> (bool, Vec<u64>) {
        asker.send(Message::text(format!(r#"{{"type":"sync","since":{since}}}"#))).await.unwrap();
        // Past the notifications it receives as a viewer.
        let reply = loop {
            let v = next_json(&mut asker).await;
            if v["type"] == "sync" {
                break v;
            }
        };
        let missed = reply["missed"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
        (reply["complete"].as_bool().unwrap(), missed)
    };
    assert_eq!(ask(2).await, (true, vec![3, 4]));
    assert_eq!(ask(1).await, (false, vec![3, 4]), "seq 2 went for the bytes (1000 allowed by count)");
    assert_eq!(metric(broker.addr, "furniture_broker_history_bytes").await, (frames[2].len() + frames[3].len()) as f64);
    assert_eq!(metric(broker.addr, "furniture_broker_history_notifications").await, 2.0);

    // A frame over the whole bound leaves nothing; the one after it starts the history again.
    let big = publish(5, 3_000).await;
    assert!(big.len() > MAX);
    assert_eq!(ask(4).await, (false, vec![]), "not seq 4 without 5");
    let small = publish(6, 10).await;
    assert_eq!(ask(4).await, (false, vec![6]));
    assert_eq!(ask(5).await, (true, vec![6]));
    assert_eq!(metric(broker.addr, "furniture_broker_history_bytes").await, small.len() as f64);
}

/// A publisher that closes right after its last send loses nothing, even when the broker reads
/// it more slowly than it sent (its message rate): `close` waits for the broker's answer, which
/// comes once every change sent before it was read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_closed_at_once_loses_nothing_the_broker_had_not_read_yet() {
    let broker = Broker::start(|c| {
        c.max_messages_per_sec = 500;
        c.message_burst = 50;
    })
    .await;
    let (mut viewer, _) = broker.viewer().await;
    let mut producer = broker.notifier().connect().await.unwrap();
    let count = 1_500;
    for i in 0..count {
        producer.send(&ProducerMessage { action: Action::Created, furniture: mesa(&format!("p{i}"), "Mesa") }).await.unwrap();
    }
    producer.close().await;
    let mut last = 0;
    while last < count {
        last = next_json(&mut viewer).await["seq"].as_u64().unwrap();
    }
}

/// A client that asks for parts gets a large catalog as `sync_part` messages, each a message of
/// its own of at least `SYNC_PART_BYTES` (not inside a `batch`), then the `sync` reply; joined,
/// they are the catalog in order, and a notification sent once the reply has begun comes after
/// all of it. A client that does not ask gets one reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_catalog_goes_in_parts_to_clients_that_ask() {
    {
        let broker = Broker::start(|c| c.max_messages_per_sec = 0).await;
        let count = 1_500;
        let mut producer = broker.notifier().connect().await.unwrap();
        for i in 0..count {
            let furniture = mesa(&format!("m{i:04}"), &format!("Mesa {i} {}", "de roble ".repeat(40)));
            producer.send(&ProducerMessage { action: Action::Created, furniture }).await.unwrap();
        }
        let (mut ws, _) = broker.viewer().await;
        for parts in [true, false] {
            let seq = loop {
                ws.send(Message::text(r#"{"type":"sync"}"#)).await.unwrap();
                let reply = loop {
                    let v = next_json(&mut ws).await;
                    if v["type"] == "sync" {
                        break v;
                    }
                };
                if reply["seq"].as_u64().unwrap() >= count {
                    break reply["seq"].as_u64().unwrap();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let request = format!(r#"{{"type":"sync","since":{seq},"batch":true,"parts":{parts}}}"#);
            ws.send(Message::text(request)).await.unwrap();
            let mut ids = Vec::new();
            let mut part_count = 0;
            let reply = loop {
                let msg = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
                let Message::Text(text) = msg else { continue };
                let v: Value = serde_json::from_str(&text).unwrap();
                if part_count == 0 {
                    // Sent once the reply has begun (another connection's publish may otherwise
                    // be handled before the request): it must come after all of it.
                    producer.send(&ProducerMessage { action: Action::Created, furniture: mesa("after", "Silla") }).await.unwrap();
                }
                if v["type"] != "sync_part" {
                    break v;
                }
                part_count += 1;
                assert!(text.len() >= furniture_protocol::SYNC_PART_BYTES, "a part of {} bytes", text.len());
                ids.extend(v["catalog"].as_array().unwrap().iter().map(|e| e["furniture"]["furniture_id"].as_str().unwrap().to_owned()));
            };
            assert_eq!(reply["type"], "sync", "{reply}");
            ids.extend(reply["catalog"].as_array().unwrap().iter().map(|e| e["furniture"]["furniture_id"].as_str().unwrap().to_owned()));
            let want: Vec<String> = (0..count).map(|i| format!("m{i:04}")).collect();
            assert_eq!(ids, want);
            if parts {
                assert!(part_count >= 2, "{part_count} parts");
            } else {
                assert_eq!(part_count, 0);
            }
            // The notification sent after the request, after the reply (alone or in a batch).
            let next = next_json(&mut ws).await;
            let n = if next["type"] == "batch" { next["frames"][0].clone() } else { next };
            assert_eq!(n["furniture"]["furniture_id"], "after");
            producer.send(&ProducerMessage { action: Action::Deleted, furniture: mesa("after", "Silla") }).await.unwrap();
            assert_eq!(next_json(&mut ws).await["action"], "deleted");
        }
        producer.close().await;
    }
}

/// A client that asks for batches in `sync` gets every notification exactly once and in order,
/// some of them together in `batch` frames when they pile up (here: while it is not reading); a
/// client that did not ask never receives a `batch` frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_go_only_to_clients_that_ask_and_keep_everything_in_order() {
    let broker = Broker::start(|c| c.max_messages_per_sec = 0).await;
    // A small receive buffer, so that what the broker sends while this client is not reading
    // piles up in its queue rather than in the socket.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(broker.addr).await.unwrap();
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (mut batched, _) = tokio_tungstenite::client_async(broker.url(), stream).await.unwrap();
    assert_eq!(next_json(&mut batched).await["type"], "connection");
    batched.send(Message::text(r#"{"type":"sync","since":0,"batch":true}"#)).await.unwrap();
    assert_eq!(next_json(&mut batched).await["type"], "sync");
    let (mut plain, _) = broker.viewer().await;
    let (mut producer, _) = broker.viewer().await;
    let count = 2_000u64;
    for i in 0..count {
        let msg = ProducerMessage { action: Action::Created, furniture: mesa(&format!("b{i}"), &"Mesa ".repeat(40)) };
        producer.feed(Message::text(msg.encode())).await.unwrap();
    }
    producer.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seqs = Vec::new();
    let mut batches = 0;
    while seqs.len() < count as usize {
        let v = next_json(&mut batched).await;
        let frames = if v["type"] == "batch" {
            batches += 1;
            v["frames"].as_array().unwrap().clone()
        } else {
            vec![v]
        };
        seqs.extend(frames.iter().filter(|f| f["type"] == "furniture_notification").map(|f| f["seq"].as_u64().unwrap()));
    }
    assert_eq!(seqs, (1..=count).collect::<Vec<_>>());
    assert!(batches > 0, "frames that piled up came in batches");
    let mut plain_seqs = Vec::new();
    while plain_seqs.len() < count as usize {
        let v = next_json(&mut plain).await;
        assert_ne!(v["type"], "batch", "only to clients that ask");
        if v["type"] == "furniture_notification" {
            plain_seqs.push(v["seq"].as_u64().unwrap());
        }
    }
    assert_eq!(plain_seqs, seqs);
}

/// At `--max-catalog-items` the catalog takes no new item: a create beyond it is still broadcast,
/// and counted; updates of the items it holds still apply.
#[tokio::test]
async fn creates_beyond_the_catalog_cap_are_broadcast_and_counted_not_kept() {
    let broker = Broker::start(|c| c.max_catalog_items = 1).await;
    let (mut viewer, _) = broker.viewer().await;
    let notifier = broker.notifier();
    for (action, id, nombre) in [(Action::Created, "c-1", "Mesa"), (Action::Created, "c-2", "Silla"), (Action::Created, "c-3", "Banco"), (Action::Updated, "c-1", "Mesa alta")] {
        notifier.send(&ProducerMessage { action, furniture: mesa(id, nombre) }).await.unwrap();
        assert_eq!(next_json(&mut viewer).await["furniture"]["furniture_id"], id, "every change is broadcast");
    }
    assert_eq!(metric(broker.addr, "furniture_broker_catalog_full_creates_total").await, 2.0);
    assert_eq!(metric(broker.addr, "furniture_broker_catalog_items").await, 1.0);
    assert_eq!(synced_catalog(&mut viewer).await, [["c-1", "Mesa alta"]]);
}

/// The catalog as a client that syncs now gets it: each item's id and name, in order.
async fn synced_catalog(ws: &mut Ws) -> Vec<[String; 2]> {
    ws.send(Message::text(r#"{"type":"sync"}"#)).await.unwrap();
    let reply = next_json(ws).await;
    let field = |e: &Value, name: &str| e["furniture"][name].as_str().unwrap_or_default().to_owned();
    reply["catalog"].as_array().unwrap().iter().map(|e| [field(e, "furniture_id"), field(e, "nombre")]).collect()
}

/// At `--max-catalog-bytes` the catalog keeps no change that would take its records past the
/// bound: such a create or update is still broadcast, and counted; the item updated so keeps its
/// last record, and a client that syncs gets the catalog as kept.
#[tokio::test]
async fn changes_beyond_the_catalogs_bytes_are_broadcast_and_counted_not_kept() {
    use furniture_broker::backend::record_bytes;
    let size = |id: &str, nombre: &str| record_bytes(&mesa(id, nombre));
    let bound = size("c-1", "Mesa") + size("c-2", "Silla");
    let broker = Broker::start(|c| c.max_catalog_bytes = bound).await;
    let (mut viewer, _) = broker.viewer().await;
    let notifier = broker.notifier();
    for (action, id, nombre) in [(Action::Created, "c-1", "Mesa"), (Action::Created, "c-2", "Silla"), (Action::Created, "c-3", "Banco"), (Action::Updated, "c-1", "Mesa alta"), (Action::Updated, "c-2", "Sille")] {
        notifier.send(&ProducerMessage { action, furniture: mesa(id, nombre) }).await.unwrap();
        let v = next_json(&mut viewer).await;
        assert_eq!((v["furniture"]["furniture_id"].as_str(), v["furniture"]["nombre"].as_str()), (Some(id), Some(nombre)), "every change is broadcast");
    }
    assert_eq!(metric(broker.addr, "furniture_broker_catalog_full_creates_total").await, 1.0);
    assert_eq!(metric(broker.addr, "furniture_broker_catalog_full_updates_total").await, 1.0);
    assert_eq!(metric(broker.addr, "furniture_broker_catalog_bytes").await, bound as f64, "exactly at the bound");
    assert_eq!(synced_catalog(&mut viewer).await, [["c-1", "Mesa"], ["c-2", "Sille"]]);
}

/// `connections_total` counts the WebSocket connections made, not the requests refused.
#[tokio::test]
async fn connections_total_counts_the_connections_made() {
    let broker = Broker::start(|c| c.publish_token = Some("s".parse().unwrap())).await;
    let (_a, _) = broker.viewer().await;
    let (_b, _) = broker.viewer().await;
    assert!(connect_async(format!("{}/?token=guess", broker.url())).await.is_err(), "a wrong token is refused");
    assert_eq!(metric(broker.addr, "furniture_broker_connections_total").await, 2.0);
    assert_eq!(metric(broker.addr, r#"furniture_broker_connections_refused_total{reason="bad_token"}"#).await, 1.0);
}

/// Connections beyond the cap are refused with HTTP 503; the open ones are unaffected.
#[tokio::test]
async fn connections_beyond_the_cap_are_refused() {
    let broker = Broker::start(|c| c.max_connections = 2).await;
    let (_a, _) = broker.viewer().await;
    let (mut b, _) = broker.viewer().await;
    let err = connect_async(broker.url()).await.expect_err("third is refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 503),
        other => panic!("{other:?}"),
    }
    b.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert_eq!(next_json(&mut b).await["type"], "pong");
}

/// Refused connections are answered up to a bound at a time (each is held for its request); past
/// it, a flood of connections beyond the cap is closed at once without an answer, instead of
/// holding a task and a file descriptor each.
#[tokio::test]
async fn a_flood_past_the_cap_is_answered_only_up_to_its_bound() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let broker = Broker::start(|c| c.max_connections = 1).await;
    let (_a, _) = broker.viewer().await;
    // More than the bound, connected at once, their requests not yet sent: the first hold their
    // places for up to 500 ms waiting for them.
    let flood = furniture_broker::MAX_REFUSING + 40;
    let mut sockets = Vec::with_capacity(flood);
    for _ in 0..flood {
        sockets.push(tokio::net::TcpStream::connect(broker.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (mut answered, mut dropped) = (0, 0);
    for mut s in sockets {
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut head = [0u8; 12];
        match tokio::time::timeout(WAIT, s.read(&mut head)).await.expect("answered or closed in time") {
            Ok(n) if head[..n].starts_with(b"HTTP/1.1 503") => answered += 1,
            _ => dropped += 1,
        }
    }
    assert!(answered >= 1 && dropped >= 1, "{answered} answered with 503, {dropped} closed without an answer");
}

/// The notifier reports an unreachable broker as an error value within its timeout.
#[tokio::test]
async fn notifier_reports_unreachable_brokers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Notifier::new(format!("ws://{addr}"))
        .send(&ProducerMessage { action: Action::Created, furniture: mesa("x", "x") })
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with(&format!("cannot reach the broker at ws://{addr}")), "{err}");
    let err = Notifier::new("http://localhost:1").send(&ProducerMessage { action: Action::Created, furniture: mesa("x", "x") }).await.unwrap_err();
    assert!(err.to_string().contains("ws://"), "{err}");
    // A listener that never answers the handshake: bounded by the connect timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let started = std::time::Instant::now();
    let err = Notifier::new(format!("ws://{silent_addr}"))
        .with_connect_timeout(Duration::from_millis(300))
        .send(&ProducerMessage { action: Action::Created, furniture: mesa("x", "x") })
        .await
        .unwrap_err();
    assert!(matches!(err, furniture_notify::NotifyError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(silent);
}

/// A plain GET serves the built dashboard with the same-origin marker; other files as they are,
/// or, to a client that accepts gzip, as the build gzip'd them beside (`.gz`).
#[tokio::test]
async fn http_serves_the_dashboard_with_the_same_origin_marker() {
    let dir = std::env::temp_dir().join(format!("furniture-broker-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<html><head><title>t</title></head><body></body></html>").unwrap();
    std::fs::write(dir.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join("app.js.gz"), "the gzip'd glue").unwrap();
    std::fs::write(dir.join("main.css"), "body{}").unwrap();
    let d = dir.clone();
    let broker = Broker::start(move |c| c.dashboard_dir = d).await;
    let get_with = |path: &str, headers: &str| {
        let addr = broker.addr;
        let (path, headers) = (path.to_owned(), headers.to_owned());
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n").as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out.to_ascii_lowercase()
        }
    };
    let get = |path: &str| get_with(path, "");
    let page = get("/").await;
    assert!(page.starts_with("http/1.1 200"), "{page}");
    assert!(page.contains(r#"<meta name="furniture-broker" content="same-origin">"#));
    let plain = get("/app.js").await;
    assert!(plain.contains("console.log(1)") && !plain.contains("content-encoding"), "{plain}");
    let gzipped = get_with("/app.js", "Accept-Encoding: gzip, deflate, br\r\n").await;
    assert!(gzipped.contains("content-encoding: gzip") && gzipped.ends_with("the gzip'd glue"), "{gzipped}");
    assert!(gzipped.contains("content-type: text/javascript"), "the type of the file itself: {gzipped}");
    let css = get_with("/main.css", "Accept-Encoding: gzip\r\n").await;
    assert!(css.ends_with("body{}") && !css.contains("content-encoding"), "none beside it: as it is: {css}");
    assert!(get("/missing.js").await.starts_with("http/1.1 404"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A client that closes gets the broker's close frame back (a clean close, RFC 6455 §7.1.2),
/// not a dropped connection, and leaves the client count.
#[tokio::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    let broker = Broker::start(|_| {}).await;
    let (mut ws, _) = broker.viewer().await;
    let bye = tokio_tungstenite::tungstenite::protocol::CloseFrame { code: CloseCode::Normal, reason: "bye".into() };
    ws.send(Message::Close(Some(bye))).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Normal), "the close is echoed");
    let (_other, welcome) = broker.viewer().await;
    assert_eq!(welcome["client_count"], 1);
}
