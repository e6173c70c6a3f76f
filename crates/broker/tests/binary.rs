//! The `furniture-broker` binary as an operator runs it: real signals, a real state file, its
//! log lines on standard error.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use furniture_protocol::{decode_server, Action, Furniture, ProducerMessage, ServerFrame, SyncRequest};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const BIN: &str = env!("CARGO_BIN_EXE_furniture-broker");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("furniture-broker-bin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts the binary on `port` with its state in `data` and its log in `log`.
fn start(port: u16, data: &Path, log: &Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .args(extra)
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Kills the broker, waits for it, and gives back what it logged.
fn killed_log(broker: &mut Child, log: &Path) -> String {
    broker.kill().unwrap();
    broker.wait().unwrap();
    std::fs::read_to_string(log).unwrap()
}

async fn connect(port: u16) -> Ws {
    let url = format!("ws://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await {
            let welcome = next_frame(&mut ws).await;
            assert!(matches!(welcome, ServerFrame::Welcome { .. }), "{welcome:?}");
            return ws;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the broker did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn next_frame(ws: &mut Ws) -> ServerFrame {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return decode_server(&t),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

fn created(id: &str, nombre: &str) -> String {
    ProducerMessage { action: Action::Created, furniture: Furniture::new(id, nombre, "", 75, 120, "roble", "ana") }.encode()
}

/// Asks for the catalog; returns its ids and the broker's last `seq`.
async fn catalog(ws: &mut Ws) -> (Vec<String>, u64) {
    ws.send(Message::text(SyncRequest { since: None, batch: false, parts: false }.encode())).await.unwrap();
    loop {
        if let ServerFrame::Sync(reply) = next_frame(ws).await {
            let mut ids: Vec<String> = reply.catalog.iter().filter_map(|e| e.furniture.id()).collect();
            ids.sort();
            return (ids, reply.seq);
        }
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(started.elapsed() < within, "still running after {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A switch in the environment reads as people write it: `BROKER_IN_MEMORY=1` keeps the state
/// in memory (it was refused: only `true` was taken), and `0` does not.
#[tokio::test]
async fn switches_from_the_environment_take_1_and_0() {
    for (value, in_memory) in [("1", true), ("yes", true), ("0", false)] {
        let (port, data, log) = (free_port(), temp_dir(&format!("env-{value}")), temp_dir(&format!("env-{value}.log")));
        let mut broker = Command::new(BIN)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data)
            .env("BROKER_IN_MEMORY", value)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let _ws = connect(port).await;
        let said = killed_log(&mut broker, &log);
        assert_eq!(said.contains("state=memory only"), in_memory, "BROKER_IN_MEMORY={value}: {said}");
        assert_eq!(data.exists(), !in_memory, "BROKER_IN_MEMORY={value}: the state folder");
        let _ = std::fs::remove_dir_all(&data);
        let _ = std::fs::remove_file(&log);
    }
}

/// SIGTERM: every client gets 1001, the process exits 0 within 5 s, and the state it wrote is
/// there at the next start.
#[tokio::test]
async fn sigterm_closes_clients_with_1001_exits_0_and_keeps_the_state() {
    let (port, data, log) = (free_port(), temp_dir("term"), temp_dir("term.log"));
    let mut broker = start(port, &data, &log, &[]);
    let mut ws = connect(port).await;
    ws.send(Message::text(created("t-1", "Mesa"))).await.unwrap();
    assert!(matches!(next_frame(&mut ws).await, ServerFrame::Notification(_)));
    Command::new("kill").args(["-TERM", &broker.id().to_string()]).status().unwrap();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(f))) => break f.map(|f| f.code),
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, Some(CloseCode::Away));
    let status = tokio::task::spawn_blocking(move || wait_exit(&mut broker, Duration::from_secs(5))).await.unwrap();
    assert!(status.success(), "{status:?}");
    // A graceful stop folds the write-ahead log into the one file.
    assert_eq!(std::fs::metadata(data.join("state.sqlite3-wal")).map(|m| m.len()).unwrap_or(0), 0);

    let mut again = start(port, &data, &log, &[]);
    let mut ws = connect(port).await;
    assert_eq!(catalog(&mut ws).await, (vec!["t-1".to_owned()], 1));
    again.kill().unwrap();
    again.wait().unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

/// SIGKILL in the middle of a stream: every notification a viewer received is in the catalog
/// after the restart, and `seq` goes on without reuse.
#[tokio::test]
async fn after_sigkill_mid_stream_everything_broadcast_is_in_the_catalog_and_seq_goes_on() {
    let (port, data, log) = (free_port(), temp_dir("kill"), temp_dir("kill.log"));
    let mut broker = start(port, &data, &log, &[]);
    let mut viewer = connect(port).await;
    let mut producer = connect(port).await;
    let sender = tokio::spawn(async move {
        for i in 0..100_000 {
            if producer.send(Message::text(created(&format!("k-{i}"), "Silla"))).await.is_err() {
                break;
            }
        }
    });
    let mut received = Vec::new();
    while received.len() < 300 {
        if let ServerFrame::Notification(n) = next_frame(&mut viewer).await {
            received.push((n.seq.unwrap(), n.furniture.id().unwrap()));
        }
    }
    broker.kill().unwrap();
    broker.wait().unwrap();
    // Whatever was already on its way to the viewer before the kill was broadcast too.
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(500), viewer.next()).await {
        if let Message::Text(t) = msg {
            if let ServerFrame::Notification(n) = decode_server(&t) {
                received.push((n.seq.unwrap(), n.furniture.id().unwrap()));
            }
        }
    }
    sender.abort();
    let last_seen = received.iter().map(|(s, _)| *s).max().unwrap();
    assert_eq!(received.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (1..=last_seen).collect::<Vec<_>>(), "in order, none skipped");

    let mut broker = start(port, &data, &log, &[]);
    let mut ws = connect(port).await;
    let (ids, seq) = catalog(&mut ws).await;
    assert!(seq >= last_seen, "seq {seq} goes back below {last_seen}");
    for (s, id) in &received {
        assert!(ids.binary_search(id).is_ok(), "{id} (seq {s}) was broadcast but is not in the catalog after the restart");
    }
    ws.send(Message::text(created("after", "Mesa"))).await.unwrap();
    loop {
        if let ServerFrame::Notification(n) = next_frame(&mut ws).await {
            assert_eq!(n.seq, Some(seq + 1), "the next seq follows the last one written");
            break;
        }
    }
    broker.kill().unwrap();
    broker.wait().unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

/// A state file that is not a database stops the broker with a message that says what to do,
/// and the file is left as it was.
#[test]
fn an_unreadable_state_file_stops_the_broker_with_the_way_on() {
    let data = temp_dir("corrupt");
    std::fs::create_dir_all(&data).unwrap();
    let garbage = b"\x00\x01 not SQLite at all ".repeat(200);
    std::fs::write(data.join("state.sqlite3"), &garbage).unwrap();
    let out = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(&data)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("state.sqlite3") && err.contains("cannot be read"), "{err}");
    assert!(err.contains(&format!("mv {} {}.broken", data.display(), data.display())), "{err}");
    assert_eq!(std::fs::read(data.join("state.sqlite3")).unwrap(), garbage, "the file was not touched");
    let _ = std::fs::remove_dir_all(&data);
}

/// Names holding newlines and a forged log line stay inside one log line, in both formats; the
/// publish token never appears in the log.
#[tokio::test]
async fn log_lines_stay_one_per_event_and_never_show_the_token() {
    let hostile = "x\n2026-01-01T00:00:00.000000Z  INFO forged line\r\n\u{202e}";
    for format in ["text", "json"] {
        let (port, data, log) = (free_port(), temp_dir(&format!("log-{format}")), temp_dir(&format!("log-{format}.log")));
        let mut broker = start(port, &data, &log, &["--log-format", format, "--publish-token", "hunter2-secret"]);
        let url = format!("ws://127.0.0.1:{port}/?token=hunter2-secret");
        let starting = Instant::now();
        let mut ws = loop {
            if let Ok((ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await {
                break ws;
            }
            assert!(starting.elapsed() < Duration::from_secs(30), "the broker did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        next_frame(&mut ws).await;
        ws.send(Message::text(created(hostile, hostile))).await.unwrap();
        ws.send(Message::text(format!(r#"{{"type":{:?}}}"#, hostile))).await.unwrap();
        assert!(matches!(next_frame(&mut ws).await, ServerFrame::Notification(_)));
        // A wrong token is refused and logged without the token either.
        let _ = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/?token=wrong-guess")).await;
        ws.close(None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = killed_log(&mut broker, &log);
        assert!(!text.contains("hunter2") && !text.contains("wrong-guess"), "a token reached the log:\n{text}");
        assert!(text.contains("broadcast") && text.contains("connection refused"), "{text}");
        for line in text.lines() {
            assert!(!line.contains("INFO forged") || line.contains("broadcast") || line.contains("ignored"), "forged line: {line}");
            match format {
                "json" => assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "not one JSON object: {line}"),
                _ => assert!(line.get(..4).is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit())), "not a log line: {line:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(&data);
        let _ = std::fs::remove_file(&log);
    }
}

/// A client sending nothing but frames to ignore and publishes to refuse, and connections
/// refused as fast as they come, cannot flood the log: the first lines say what is wrong, the
/// rest are counted in /metrics.
#[tokio::test]
async fn bad_frames_and_refused_connections_are_logged_within_bounds() {
    let (port, data, log) = (free_port(), temp_dir("log-flood"), temp_dir("log-flood.log"));
    let mut broker = start(port, &data, &log, &["--publish-token", "t0ken", "--max-connections-per-ip", "3", "--max-messages-per-sec", "0"]);
    let mut viewer = connect(port).await;
    for i in 0..100 {
        let frame = if i % 2 == 0 { "not json".to_owned() } else { created("x", "Mesa") };
        viewer.send(Message::text(frame)).await.unwrap();
    }
    // Two more connections fill the address's three; 100 more are refused.
    let _held = (connect(port).await, connect(port).await);
    let refusing = Instant::now();
    for _ in 0..100 {
        let refused = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}")).await;
        assert!(refused.is_err());
    }
    let seconds = refusing.elapsed().as_secs() as usize + 1;
    viewer.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    while !matches!(next_frame(&mut viewer).await, ServerFrame::Pong { .. }) {}
    let text = killed_log(&mut broker, &log);
    let count = |says: &str| text.lines().filter(|l| l.contains(says)).count();
    assert_eq!(count("frame ignored") + count("publish refused"), 20, "{text}");
    assert_eq!(count("more ignored frames or refused publishes from this client"), 1, "{text}");
    // At most 10 a second, over however many seconds the 100 took.
    let refused = count("connection refused");
    assert!(refused >= 10 && refused <= 10 * (seconds + 1), "{refused} refusals logged of 100 in {seconds} s:\n{text}");
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_file(&log);
}

/// A broker run without the dashboard (as a drop-in for the Python one) says so once at the
/// start; asking for the page again and again adds no line (it was a warning per request).
#[tokio::test]
async fn a_missing_dashboard_is_said_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (port, data, log) = (free_port(), temp_dir("no-dashboard"), temp_dir("no-dashboard.log"));
    let mut broker = start(port, &data, &log, &["--dashboard-dir", "/nonexistent/dist"]);
    let _ready = connect(port).await;
    for _ in 0..50 {
        let mut http = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        http.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 404"), "{}", String::from_utf8_lossy(&answer));
    }
    let text = killed_log(&mut broker, &log);
    assert_eq!(text.lines().filter(|l| l.contains("dashboard")).count(), 2, "the start's line and its warning:\n{text}");
    assert!(text.lines().any(|l| l.contains("WARN") && l.contains("no dashboard there")), "{text}");
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_file(&log);
}

/// Handshakes from an origin not allowed, as fast as they come and with an `Origin` of any
/// length, cannot flood the log either: the first lines say which origin, cut short; the rest are
/// counted in /metrics.
#[tokio::test]
async fn refused_origins_are_logged_within_bounds() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (port, data, log) = (free_port(), temp_dir("origin-flood"), temp_dir("origin-flood.log"));
    let mut broker = start(port, &data, &log, &["--allowed-origins", "https://wall.example.com"]);
    let _ready = connect(port).await;
    let origin = format!("https://evil.example/{}", "x".repeat(5_000));
    let refusing = Instant::now();
    for _ in 0..100 {
        let mut request = format!("ws://127.0.0.1:{port}/").into_client_request().unwrap();
        request.headers_mut().insert("origin", origin.parse().unwrap());
        let refused = tokio_tungstenite::connect_async(request).await;
        assert!(matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 403), "{refused:?}");
    }
    let seconds = refusing.elapsed().as_secs() as usize + 1;
    let text = killed_log(&mut broker, &log);
    let said = text.lines().filter(|l| l.contains("https://evil.example/xxx")).count();
    assert!(said >= 1 && said <= 10 * (seconds + 1), "{said} lines of 100 refusals in {seconds} s:\n{text}");
    assert!(text.lines().all(|l| l.len() < 1_000), "a line longer than 1,000 bytes:\n{text}");
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_file(&log);
}

/// JSON logs are one object per line from the first line to the last: with the loud warning of a
/// broker open to anyone, and for a broker that cannot start.
#[tokio::test]
async fn json_logs_stay_json_with_the_open_warning_and_a_failed_start() {
    let port = free_port();
    let (data, log) = (temp_dir("json-open"), temp_dir("json-open.log"));
    let mut broker = start(port, &data, &log, &["--log-format", "json", "--allow-remote-publish"]);
    drop(connect(port).await);
    let (data2, log2) = (temp_dir("json-taken"), temp_dir("json-taken.log"));
    let status = start(port, &data2, &log2, &["--log-format", "json"]).wait().unwrap();
    assert!(!status.success(), "the port is taken");
    broker.kill().unwrap();
    broker.wait().unwrap();
    for (log, says) in [(&log, "ANYONE WHO CAN REACH THIS PORT CAN PUBLISH"), (&log2, "cannot listen on")] {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(text.contains(says), "{text}");
        for line in text.lines() {
            assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "not one JSON object: {line:?}");
        }
    }
    for path in [data, log, data2, log2] {
        let _ = std::fs::remove_dir_all(&path);
        let _ = std::fs::remove_file(&path);
    }
}
