//! Who may connect and who may publish, each cap at its bound, and what the operator sees.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use furniture_notify::{Action, Notifier, NotifyError, ProducerMessage};
use futures_util::SinkExt;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{client_async, connect_async};

mod common;
use common::*;

fn created(id: &str) -> ProducerMessage {
    ProducerMessage { action: Action::Created, furniture: mesa(id, id) }
}

/// The HTTP status of a refused upgrade.
fn refused_status(result: Result<impl Sized, WsError>) -> u16 {
    match result {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(other) => panic!("refused without an HTTP status: {other}"),
        Ok(_) => panic!("accepted"),
    }
}

/// The next notification's furniture id (skipping pongs and the like).
async fn next_notification_id(ws: &mut Ws) -> String {
    loop {
        let v = next_json(ws).await;
        if v["type"] == "furniture_notification" {
            return v["furniture"]["furniture_id"].as_str().unwrap().to_owned();
        }
    }
}

/// With a token set: the right one publishes (query or Bearer header), a missing one makes a
/// read-only viewer whose publish is refused with an error frame and reaches nobody, a wrong one
/// is refused at the door with 401.
#[tokio::test]
async fn only_the_publish_token_publishes() {
    let broker = Broker::start(|c| c.publish_token = Some("pa ss/wörd".parse().unwrap())).await;
    let (mut viewer, _) = broker.viewer().await;
    let with_token = Notifier::new(format!("{}/?token=pa%20ss%2Fw%C3%B6rd", broker.url()));
    with_token.send(&created("ok-1")).await.unwrap();
    assert_eq!(next_notification_id(&mut viewer).await, "ok-1");

    // Missing: the notifier reports the refusal, and nothing was broadcast.
    match broker.notifier().send(&created("no-token")).await {
        Err(NotifyError::Refused { reason, .. }) => assert!(reason.contains("token"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Wrong: 401 before any WebSocket, which the notifier reports as a refusal, with its reason.
    let wrong = connect_async(format!("{}/?token=guess", broker.url())).await;
    assert_eq!(refused_status(wrong), 401);
    match Notifier::new(format!("{}/?token=guess", broker.url())).send(&created("wrong")).await {
        Err(NotifyError::Refused { reason, .. }) => assert!(reason.contains("401") && reason.contains("wrong publish token"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // The header works too.
    let mut req = broker.url().into_client_request().unwrap();
    req.headers_mut().insert("authorization", "Bearer pa ss/wörd".parse().unwrap());
    let (mut bearer, _) = connect_async(req).await.unwrap();
    next_json(&mut bearer).await;
    bearer.send(Message::text(created("ok-2").encode())).await.unwrap();

    // The viewer saw exactly the two allowed changes, numbered without a hole.
    let n = next_json(&mut viewer).await;
    assert_eq!((n["furniture"]["furniture_id"].clone(), n["seq"].clone()), (json!("ok-2"), json!(2)));

    // A viewer that tries to publish gets the error frame, to itself only.
    viewer.send(Message::text(created("from-viewer").encode())).await.unwrap();
    viewer.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    let error = next_json(&mut viewer).await;
    assert_eq!((error["type"].clone(), error["reason"].clone()), (json!("error"), json!("token_required")));
    assert_eq!(next_json(&mut viewer).await["type"], "pong");
    with_token.send(&created("ok-3")).await.unwrap();
    assert_eq!(next_notification_id(&mut bearer).await, "ok-2", "the bearer connection's own echo");
    assert_eq!(next_notification_id(&mut bearer).await, "ok-3", "nothing refused in between");

    assert_eq!(metric(broker.addr, "furniture_broker_publishes_refused_total{reason=\"token_required\"}").await, 2.0);
    assert_eq!(metric(broker.addr, "furniture_broker_connections_refused_total{reason=\"bad_token\"}").await, 2.0);
}

/// An `Origin` allow-list refuses other browser origins with 403 and lets the listed ones, the
/// page's own origin, and non-browser clients (no `Origin`) in. A page whose own origin is a
/// name that was pointed at the broker's address (DNS rebinding: the browser sends that name as
/// `Host`) is not the broker's own page.
#[tokio::test]
async fn origins_off_the_allow_list_are_refused() {
    let broker = Broker::start(|c| c.allowed_origins = vec!["https://wall.example".into()]).await;
    let with_origin = |origin: &str| {
        let mut req = broker.url().into_client_request().unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        req
    };
    assert_eq!(refused_status(connect_async(with_origin("https://evil.example")).await), 403);
    assert!(connect_async(with_origin("https://wall.example")).await.is_ok());
    assert!(connect_async(with_origin(&format!("http://{}", broker.addr))).await.is_ok(), "same origin");
    assert!(connect_async(broker.url()).await.is_ok(), "no Origin header");
    let port = broker.addr.port();
    let mut rebound = with_origin(&format!("http://rebind.example:{port}"));
    rebound.headers_mut().insert("host", format!("rebind.example:{port}").parse().unwrap());
    assert_eq!(refused_status(connect_async(rebound).await), 403, "a rebound name");
    assert_eq!(metric(broker.addr, "furniture_broker_connections_refused_total{reason=\"origin\"}").await, 2.0);
}

/// A WebSocket client whose connection comes from `source` (any 127.0.0.0/8 address).
async fn connect_from(source: &str, broker: SocketAddr) -> Result<Ws, WsError> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(broker).await.unwrap();
    let (ws, _) = client_async(format!("ws://{broker}/"), tokio_tungstenite::MaybeTlsStream::Plain(stream)).await?;
    Ok(ws)
}

/// Per-IP cap: the connection above it is refused with 429 while another address still gets
/// in, and a closed connection gives its place back.
#[tokio::test]
async fn connections_per_address_are_capped() {
    let broker = Broker::start(|c| c.max_connections_per_ip = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(connect_from("127.0.0.1", broker.addr).await.unwrap());
    }
    assert_eq!(refused_status(connect_from("127.0.0.1", broker.addr).await), 429);
    let mut other = connect_from("127.0.0.2", broker.addr).await.expect("another address is not affected");
    assert_eq!(next_json(&mut other).await["client_count"], 4);
    drop(open.pop());
    // The place comes back once the broker has seen the close.
    let started = Instant::now();
    loop {
        match connect_from("127.0.0.1", broker.addr).await {
            Ok(_) => {
                drop(open);
                break;
            }
            Err(_) => assert!(started.elapsed() < WAIT, "the freed place never came back"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(metric(broker.addr, "furniture_broker_connections_refused_total{reason=\"max_connections_per_ip\"}").await >= 1.0);
}

/// A broker that reads each connection at most `rate` frames a second, `burst` at once.
async fn paced_broker(rate: f64, burst: u32) -> Broker {
    Broker::start(|c| {
        c.max_messages_per_sec = rate as u32;
        c.message_burst = burst;
    })
    .await
}

/// Above its message rate a connection is read more slowly, never faster than rate × time plus
/// its burst, and nothing it sent is dropped.
#[tokio::test]
async fn a_fast_sender_is_paced_to_its_rate_and_nothing_is_lost() {
    let (rate, burst, sent) = (50.0, 10, 40);
    let broker = paced_broker(rate, burst).await;
    let (mut ws, _) = broker.viewer().await;
    let started = Instant::now();
    for _ in 0..sent {
        ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    }
    let mut pongs = 0;
    while pongs < sent {
        assert_eq!(next_json(&mut ws).await["type"], "pong");
        pongs += 1;
        // An upper bound only, so a slow machine cannot fail it.
        let allowed = burst as f64 + rate * started.elapsed().as_secs_f64() + 1.0;
        assert!(pongs as f64 <= allowed, "{pongs} answered after {:?}: faster than the rate", started.elapsed());
    }
    assert!(metric(broker.addr, "furniture_broker_throttled_total").await >= 1.0);
}

/// Sends `sent` frames made by `frame` then a ping to a broker paced at 50 frames a second (10
/// at once), and checks that its pong came no sooner than the rate allows; gives the broker back.
async fn flood_is_paced(sent: u32, frame: impl Fn(u32) -> Message) -> Broker {
    let (rate, burst) = (50.0, 10);
    let broker = paced_broker(rate, burst).await;
    let (mut ws, _) = broker.viewer().await;
    let started = Instant::now();
    for i in 0..sent {
        ws.send(frame(i)).await.unwrap();
    }
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    while next_json(&mut ws).await["type"] != "pong" {}
    // A lower bound only: a slow machine makes it longer, never shorter.
    let least = f64::from(sent + 1 - burst) / rate;
    assert!(started.elapsed().as_secs_f64() >= least * 0.9, "{sent} frames and a ping answered after {:?}", started.elapsed());
    assert!(metric(broker.addr, "furniture_broker_throttled_total").await >= 1.0);
    broker
}

/// Binary frames that are not UTF-8 (ignored) count against the message rate like any other
/// frame: a flood of them is read no faster than the rate allows.
#[tokio::test]
async fn ignored_binary_frames_are_paced_to_the_rate_too() {
    let broker = flood_is_paced(40, |_| Message::binary(&b"\xff\xfe not utf-8"[..])).await;
    assert_eq!(metric(broker.addr, "furniture_broker_messages_in_total{kind=\"ignored\"}").await, 40.0);
}

/// WebSocket control frames (pings, which the broker answers, and unasked-for pongs) count
/// against the message rate too: a flood of them is read no faster than the rate allows.
#[tokio::test]
async fn control_frames_are_paced_to_the_rate_too() {
    flood_is_paced(40, |i| if i % 2 == 0 { Message::Ping(b"p".to_vec().into()) } else { Message::Pong(b"p".to_vec().into()) }).await;
}

/// A connection that never completes its request is dropped after the handshake timeout and
/// counted; a normal client is unaffected.
#[tokio::test]
async fn a_silent_connection_is_dropped_at_the_handshake_timeout() {
    let broker = Broker::start(|c| c.handshake_timeout_secs = 1).await;
    let mut silent = TcpStream::connect(broker.addr).await.unwrap();
    let mut partial = TcpStream::connect(broker.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut partial, b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (mut ok, _) = broker.viewer().await;
    for stream in [&mut silent, &mut partial] {
        let mut buf = Vec::new();
        let ended = tokio::time::timeout(WAIT, stream.read_to_end(&mut buf)).await;
        assert!(ended.is_ok(), "still open after {WAIT:?}");
    }
    ok.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert_eq!(next_json(&mut ok).await["type"], "pong");
    assert_eq!(metric(broker.addr, "furniture_broker_connections_refused_total{reason=\"handshake_timeout\"}").await, 2.0);
}

/// An HTTP connection kept alive after its answer (a scraper of /metrics, a browser that loaded
/// the page) is closed when idle for the handshake timeout, and is not counted as refused.
#[tokio::test]
async fn a_kept_alive_connection_closed_when_idle_is_not_counted_as_refused() {
    let broker = Broker::start(|c| c.handshake_timeout_secs = 1).await;
    let mut kept = TcpStream::connect(broker.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut kept, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let ended = tokio::time::timeout(WAIT, kept.read_to_end(&mut answer)).await;
    assert!(ended.is_ok(), "still open after {WAIT:?}");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    // A silent connection, dropped after the kept-alive one, is counted: one in all.
    let series = "furniture_broker_connections_refused_total{reason=\"handshake_timeout\"}";
    let mut silent = TcpStream::connect(broker.addr).await.unwrap();
    let ended = tokio::time::timeout(WAIT, silent.read_to_end(&mut Vec::new())).await;
    assert!(ended.is_ok(), "still open after {WAIT:?}");
    wait_metric(broker.addr, series, 1.0, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(metric(broker.addr, series).await, 1.0, "the kept-alive connection counted as refused");
}

/// A client that asks for a file and reads none of it (a zero TCP window never times out by
/// itself) loses its connection once the answer has made no progress for the handshake timeout,
/// and with it the slot of its address it held; the address's WebSocket viewers are served on.
#[tokio::test]
async fn an_answer_the_client_stops_reading_ends_its_connection() {
    let dir = std::env::temp_dir().join(format!("furniture-stall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let size = 32 << 20;
    std::fs::write(dir.join("big.bin"), vec![b'x'; size]).unwrap();
    let served = dir.clone();
    let broker = Broker::start(move |c| {
        c.handshake_timeout_secs = 1;
        c.max_connections_per_ip = 2;
        c.dashboard_dir = served;
    })
    .await;
    let (mut viewer, _) = broker.viewer().await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(broker.addr).await.unwrap();
    // After a WebSocket request refused (400: no `Connection: upgrade`), on the same connection:
    // the refusal does not take the guard off.
    let requests = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    tokio::io::AsyncWriteExt::write_all(&mut stalled, requests).await.unwrap();
    // The address's second slot is free again once the stalled answer is given up.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (mut third, _) = broker.viewer().await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(WAIT, stalled.read_to_end(&mut got)).await.expect("closed");
    assert!(got.len() < size, "the whole file came: the answer was not given up");
    for ws in [&mut viewer, &mut third] {
        ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
        assert_eq!(next_json(ws).await["type"], "pong");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a browser's `JSON.parse` would read differently or not at all, and changes nested too deep
/// for a sync reply to carry, are refused at the door:
/// nothing of it is broadcast, the sender stays connected, and the next good change is seq 1.
#[tokio::test]
async fn non_rfc_json_never_reaches_a_viewer() {
    let broker = Broker::start(|_| {}).await;
    let (mut viewer, _) = broker.viewer().await;
    let (mut sender, _) = broker.viewer().await;
    let deep = format!(r#"{{"type":"furniture_created","furniture":{{"furniture_id":"d","x":{}1{}}}}}"#, "[".repeat(200), "]".repeat(200));
    // Within serde_json's 128 levels, but its sync reply would not be.
    let too_deep = format!(r#"{{"type":"furniture_created","furniture":{{"furniture_id":"d","x":{}1{}}}}}"#, "[".repeat(100), "]".repeat(100));
    for bad in [
        r#"{"type":"furniture_created","furniture":{"furniture_id":"n","altura":NaN}}"#,
        r#"{"type":"furniture_created","furniture":{"furniture_id":"i","altura":Infinity}}"#,
        r#"{"type":"furniture_created","furniture":{"furniture_id":"e","altura":1e400}}"#,
        r#"{"type":"furniture_created","furniture":{"furniture_id":"s","nombre":"\ud800"}}"#,
        r#"{"type":"furniture_created","furniture":{"furniture_id":"k","nombre":"a","nombre":"b"}}"#,
        deep.as_str(),
        too_deep.as_str(),
    ] {
        sender.send(Message::text(bad)).await.unwrap();
    }
    sender.send(Message::binary(&b"\xff\xfe not utf-8"[..])).await.unwrap();
    broker.notifier().send(&created("good")).await.unwrap();
    let n = next_json(&mut viewer).await;
    assert_eq!((n["furniture"]["furniture_id"].clone(), n["seq"].clone()), (json!("good"), json!(1)));
    sender.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    loop {
        if next_json(&mut sender).await["type"] == "pong" {
            break;
        }
    }
    assert_eq!(metric(broker.addr, "furniture_broker_messages_in_total{kind=\"ignored\"}").await, 8.0, "the seven and the binary frame");
}

/// A method other than GET and HEAD is answered 405 with the methods that are allowed (RFC 9110
/// asks for the `Allow` header).
#[tokio::test]
async fn other_methods_are_told_which_are_allowed() {
    let broker = Broker::start(|_| {}).await;
    let mut s = TcpStream::connect(broker.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut s, b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut answer)).await.expect("an answer in time").unwrap();
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 405") && answer.contains("\r\nallow: get, head\r\n"), "{answer}");
}

/// `/healthz` answers ready and `/metrics` counts what happened, in Prometheus text format.
#[tokio::test]
async fn health_and_metrics_describe_the_broker() {
    let broker = Broker::start(|_| {}).await;
    assert_eq!(http_get(broker.addr, "/healthz").await, (200, "ok\n".to_owned()));
    let (mut viewer, _) = broker.viewer().await;
    broker.notifier().send(&created("m-1")).await.unwrap();
    next_json(&mut viewer).await;
    let (status, page) = http_get(broker.addr, "/metrics").await;
    assert_eq!(status, 200);
    for family in [
        "furniture_broker_connections 1",
        "furniture_broker_seq 1",
        "furniture_broker_catalog_items 1",
        "furniture_broker_storage_up 1",
        "furniture_broker_messages_in_total{kind=\"publish\"} 1",
        "furniture_broker_broadcast_seconds_count 1",
        "furniture_broker_slow_consumer_disconnects_total 0",
        "furniture_broker_storage_errors_total 0",
        "furniture_broker_max_queue_depth ",
    ] {
        assert!(page.contains(family), "{family} missing:\n{page}");
    }
    assert!(metric(broker.addr, "furniture_broker_messages_out_total").await >= 3.0, "two welcomes and a notification");
}
