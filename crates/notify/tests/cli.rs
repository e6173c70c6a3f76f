//! The `furniture-notify` command as a script or a person runs it.

use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_furniture-notify");

/// A WebSocket server that records the text frames it receives, one connection after another;
/// one that never answers them (a one-shot send then waits its 15 s for the echo, and fails).
async fn recording_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    server(false, "abc").await
}

/// Records the frames like [`recording_server`] and, when `echo`, sends each change back as a
/// notification, as brokers do, so that the command returns at once. Its URL carries `token`.
async fn server(echo: bool, token: &str) -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    use futures_util::SinkExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/path?token={token}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(t) = msg else { continue };
                    let v: Value = serde_json::from_str(&t).expect("the notifier sends JSON");
                    if echo {
                        let _ = ws.send(Message::text(self::echo(&t))).await;
                    }
                    let _ = tx.send(v);
                }
            });
        }
    });
    (url, rx)
}

/// The notification a broker sends back for the change `frame` (as it sends every one to its
/// sender too).
fn echo(frame: &str) -> String {
    let v: Value = serde_json::from_str(frame).expect("the notifier sends JSON");
    let action = v["type"].as_str().unwrap_or_default().trim_start_matches("furniture_").to_owned();
    serde_json::json!({"type": "furniture_notification", "action": action, "furniture": v["furniture"], "message": "x", "timestamp": "2026-12-06T10:00:00"}).to_string()
}

/// What a fake broker does with a change it read.
enum Answer {
    /// Sends it back as a notification, as brokers do.
    Echo,
    /// Sends this frame instead.
    Say(&'static str),
    /// Closes with 1001 without answering it, and answers nothing more on that connection.
    GoAway,
}

/// A broker that answers the `n`th change (from 1) of its `connection`th connection (from 1) as
/// `answer` says. Gives its URL, every change it read with its connection, and how many it
/// echoed.
async fn fake_broker(
    answer: impl Fn(usize, usize) -> Answer + Send + Sync + 'static,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<(usize, String)>, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (tx, frames) = tokio::sync::mpsc::unbounded_channel();
    let echoed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (counted, answer) = (echoed.clone(), std::sync::Arc::new(answer));
    tokio::spawn(async move {
        let mut connection = 0;
        while let Ok((stream, _)) = listener.accept().await {
            connection += 1;
            let (tx, counted, answer) = (tx.clone(), counted.clone(), answer.clone());
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                let (mut n, mut gone) = (0, false);
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(t) = msg else { continue };
                    n += 1;
                    let _ = tx.send((connection, t.to_string()));
                    match answer(connection, n) {
                        _ if gone => {}
                        Answer::Echo => {
                            let _ = ws.send(Message::text(echo(&t))).await;
                            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Answer::Say(frame) => {
                            let _ = ws.send(Message::text(frame)).await;
                        }
                        Answer::GoAway => {
                            gone = true;
                            let _ = ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Away, reason: "going away".into() }))).await;
                        }
                    }
                }
            });
        }
    });
    (url, frames, echoed)
}

/// This project's broker on a port of its own, in this process, set as `set` says; it stops
/// when the token is cancelled.
async fn this_projects_broker(set: impl FnOnce(&mut furniture_broker::Config)) -> (std::net::SocketAddr, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = furniture_broker::Config::on(addr);
    set(&mut config);
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(furniture_broker::run(listener, config, shutdown.clone()));
    (addr, shutdown)
}

async fn run(args: &[&str], url: &str) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("WEBSOCKET_URL", url);
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

/// `created` with one flag per field sends the producer's frame, taking the broker from
/// `WEBSOCKET_URL`; omitted fields are left out of the record.
#[tokio::test]
async fn created_sends_the_producer_frame() {
    let (url, mut frames) = server(true, "abc").await;
    let out = run(&["created", "--id", "abc", "--nombre", "Mesa de Roble", "--altura", "75", "--ancho", "120", "--material", "roble"], &url).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let frame = tokio::time::timeout(Duration::from_secs(5), frames.recv()).await.unwrap().unwrap();
    assert_eq!(
        frame,
        serde_json::json!({"type": "furniture_created", "furniture": {"furniture_id": "abc", "nombre": "Mesa de Roble", "altura": 75, "ancho": 120, "material": "roble"}})
    );
}

/// An id holding control characters is sent as given and printed escaped, on one line: it
/// cannot move the cursor or colour the terminal.
#[tokio::test]
async fn an_id_is_printed_with_its_control_characters_escaped() {
    let (url, mut frames) = server(true, "abc").await;
    let out = run(&["created", "--id", "a\nb\u{1b}[31mRED", "--nombre", "Mesa"], &url).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let frame = tokio::time::timeout(Duration::from_secs(5), frames.recv()).await.unwrap().unwrap();
    assert_eq!(frame["furniture"]["furniture_id"], "a\nb\u{1b}[31mRED");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("sent furniture_created a\\nb\\u{1b}[31mRED to "), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

/// A broker that takes the change but never echoes it back (stopped, or behind a dead
/// connection) has not confirmed it: status 1, saying so, after the 15 s the echo may take.
#[tokio::test]
async fn a_change_never_echoed_is_not_reported_as_sent() {
    let (url, mut frames) = recording_server().await;
    let out = run(&["updated", "--id", "abc", "--nombre", "Mesa"], &url).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("may or may not have been made") && err.contains("no echo within 15 s"), "{err}");
    assert!(frames.recv().await.is_some(), "the change was written");
}

/// A server that answers every request with HTTP `status` and `body`, as this project's broker
/// refuses a wrong token (401) or an origin off its list (403).
async fn refusing_server(status: &str, body: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/?token=S3CRET", listener.local_addr().unwrap());
    let status = status.to_owned();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let status = status.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = tcp.read(&mut request).await;
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = tcp.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

/// A wrong publish token is a refusal, said with the broker's reason: status 1 at once, for a
/// one-shot send and for the demo (which does not retry what cannot work); a broker too busy
/// (503) is one to reach again later.
#[tokio::test]
async fn a_wrong_token_is_a_refusal_not_an_unreachable_broker() {
    let url = refusing_server("401 Unauthorized", "wrong publish token").await;
    let out = run(&["created", "--nombre", "Mesa"], &url).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the change") && err.contains("HTTP 401") && err.contains("wrong publish token"), "{err}");
    assert!(!err.contains("S3CRET"), "{err}");
    let started = std::time::Instant::now();
    let out = run(&["demo", "--count", "3", "--quiet"], &url).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(30), "the demo stopped, not retrying for ever: {:?}", started.elapsed());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong publish token"));
    let busy = refusing_server("503 Service Unavailable", "too many connections").await;
    let err = String::from_utf8(run(&["created"], &busy).await.stderr).unwrap();
    assert!(err.contains("cannot reach the broker") && err.contains("too many connections"), "{err}");
    // A body that echoes the request (a redirect's) shows the token hidden, as the URL does.
    let moved = refusing_server("301 Moved Permanently", "Moved to <a href=\"/ws/?token=S3CRET\">/ws/</a>").await;
    let err = String::from_utf8(run(&["created"], &moved).await.stderr).unwrap();
    assert!(err.contains("HTTP 301") && err.contains("/ws/?token=***") && !err.contains("S3CRET"), "{err}");
}

/// A token added to the Python producer's default URL, `ws://host:8765?token=…` (no path before
/// the query), reaches this project's broker, which refused the request for `?token=…` (HTTP
/// 400): it asks for `/?token=…`, as Python's `websockets` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_no_path_before_it_reaches_the_broker() {
    let (addr, shutdown) = this_projects_broker(|c| c.publish_token = Some("S3CRET".parse().unwrap())).await;
    let out = run(&["created", "--nombre", "Mesa"], &format!("ws://{addr}?token=S3CRET")).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("sent furniture_created ") && stdout.contains("?token=***"), "{stdout}");
    shutdown.cancel();
}

/// Its standard output closed (`| head -3`), the demo stops as on Ctrl-C (status 0, the summary
/// written) rather than panicking with status 101; a one-shot send that was made says so with
/// status 0 whether or not its line could be written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_output_stops_the_demo_and_fails_no_change() {
    use std::io::BufRead;
    use std::process::Stdio;
    let (addr, shutdown) = this_projects_broker(|_| {}).await;
    let url = format!("ws://{addr}");
    let demo = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            let mut child = Command::new(BIN).args(["demo", "--rate", "100", "--count", "1000"]).env("WEBSOCKET_URL", url).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            let mut first = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
            // The pipe's reading end is closed here.
            (first, child.wait_with_output().unwrap())
        }
    });
    let (first, out) = tokio::time::timeout(Duration::from_secs(30), demo).await.expect("the demo stopped").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.trim_start().starts_with("1 created"), "{first}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("demo: sent ") && !stderr.contains("panicked"), "{stderr}");
    let once = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN).args(["created", "--nombre", "Mesa"]).env("WEBSOCKET_URL", url).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    });
    let out = once.await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    shutdown.cancel();
}

/// Its standard error closed too (`2>&1 | head -3`), the demo still stops with status 0, and a
/// change that could not be sent still fails with 1: a line to standard error that cannot be
/// written is lost, not a panic with status 101.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_standard_error_changes_no_exit_status() {
    use std::io::BufRead;
    use std::process::Stdio;
    let (addr, shutdown) = this_projects_broker(|_| {}).await;
    let url = format!("ws://{addr}");
    let demo = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN).args(["demo", "--rate", "100", "--count", "1000"]).env("WEBSOCKET_URL", url).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stderr.take());
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        child.wait().unwrap()
    });
    let status = tokio::time::timeout(Duration::from_secs(30), demo).await.expect("the demo stopped").unwrap();
    assert_eq!(status.code(), Some(0));
    shutdown.cancel();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let once = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN).args(["deleted", "--id", "x"]).env("WEBSOCKET_URL", format!("ws://127.0.0.1:{port}")).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stderr.take());
        child.wait().unwrap()
    });
    assert_eq!(once.await.unwrap().code(), Some(1), "not delivered");
}

/// A change too big for the broker (closed with 1009 before it reads the frame) was certainly
/// not made: refused, status 1, not "may or may not have been made".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_too_big_for_the_broker_is_refused_not_in_doubt() {
    let (addr, shutdown) = this_projects_broker(|c| c.max_frame_bytes = 1024).await;
    let out = run(&["created", "--nombre", &"x".repeat(2_000)], &format!("ws://{addr}")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused the change: the change is too big for it (close 1009"), "{stderr}");
    assert!(!stderr.contains("may or may not"), "{stderr}");
    shutdown.cancel();
}

/// The demo's waits end at its `--duration`: a slow rate does not keep it going past it.
#[tokio::test]
async fn the_demo_stops_at_its_duration_between_slow_changes() {
    let (url, mut frames) = server(true, "abc").await;
    let started = std::time::Instant::now();
    let out = run(&["demo", "--rate", "0.01", "--duration", "2", "--quiet"], &url).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(60), "stopped after {:?}, not at the next change 100 s on", started.elapsed());
    assert!(frames.recv().await.is_some(), "the first change");
}

/// An unreachable broker gives one clear line on stderr and exit status 1.
#[tokio::test]
async fn unreachable_broker_is_one_line_and_status_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("ws://127.0.0.1:{port}");
    let out = run(&["deleted", "--id", "x"], &url).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("furniture-notify: cannot reach the broker at {url}")), "{err}");
}

/// A server there that is not a WebSocket one (a web server answering HTTP/1.0, as Python's
/// `http.server` does, or a 404) is said to be so, status 1; the demo stops at once (it retried
/// every 5 s for ever).
#[tokio::test]
async fn a_server_that_does_not_speak_websocket_is_named_so() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for (answer, says) in [
        (&b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html></html>"[..], "the server there does not speak WebSocket"),
        (&b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno socket"[..], "HTTP 404 Not Found instead of a WebSocket: no socket"),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = tcp.read(&mut request).await;
                let _ = tcp.write_all(answer).await;
            }
        });
        for args in [&["deleted", "--id", "x"][..], &["demo", "--count", "1"][..]] {
            let out = tokio::time::timeout(Duration::from_secs(30), run(args, &url)).await.expect("stopped, not retrying");
            assert_eq!(out.status.code(), Some(1));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("is not a WebSocket broker") && err.contains(says), "{args:?}: {err}");
        }
    }
}

/// Usage errors exit with status 2.
#[tokio::test]
async fn bad_usage_is_status_2() {
    let out = run(&["created", "--altura", "alta"], "ws://127.0.0.1:1").await;
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["demo", "--rate", "0"], "ws://127.0.0.1:1").await;
    assert_eq!(out.status.code(), Some(2));
}

/// A broker on Redis that cannot tell whether a change was made says `in_doubt`: the demo does
/// not send that change again (it could appear twice) and goes on, on a new connection, until it
/// has sent what it was asked to.
#[tokio::test]
async fn demo_goes_on_after_a_change_in_doubt_without_sending_it_twice() {
    let doubt = r#"{"type":"error","reason":"in_doubt","message":"publish in doubt: the shared state stopped answering","timestamp":"2026-11-29T22:00:00.000000"}"#;
    let (url, mut frames, _) = fake_broker(move |connection, n| if (connection, n) == (1, 2) { Answer::Say(doubt) } else { Answer::Echo }).await;
    let out = run(&["demo", "--rate", "20", "--count", "6", "--seed", "7", "--quiet"], &url).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot tell whether the change was made"), "{stderr}");
    let mut got = Vec::new();
    while let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(500), frames.recv()).await {
        got.push(f);
    }
    assert_eq!(got.len(), 6, "six changes, none sent twice: {got:?}");
    let distinct: std::collections::HashSet<&String> = got.iter().map(|(_, t)| t).collect();
    assert_eq!(distinct.len(), 6, "{got:?}");
    assert!(got.iter().any(|(c, _)| *c > 1), "the demo went on on a new connection: {got:?}");
}

/// `demo --count N` sends N well-formed changes and stops.
#[tokio::test]
async fn demo_sends_the_requested_number_of_changes() {
    let (url, mut frames) = server(true, "abc").await;
    let out = run(&["demo", "--rate", "200", "--count", "25", "--seed", "4", "--quiet"], &url).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for _ in 0..25 {
        let f = tokio::time::timeout(Duration::from_secs(5), frames.recv()).await.unwrap().unwrap();
        assert!(f["type"].as_str().unwrap().starts_with("furniture_"));
        assert_eq!(f["furniture"]["furniture_id"].as_str().map(str::len), Some(24));
    }
    assert!(tokio::time::timeout(Duration::from_millis(300), frames.recv()).await.is_err(), "no more than 25");
}

/// Against this project's broker, `demo --count N` makes exactly N changes. (It answers a
/// close at once, before an echo still on its way: closing before the last echoes came counted
/// those changes as perhaps not made, and the demo made up for them with as many more, which
/// were made too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_makes_exactly_its_count_on_this_projects_broker() {
    let (addr, shutdown) = this_projects_broker(|_| {}).await;
    let url = format!("ws://{addr}");
    let (mut viewer, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    for run_no in 0..3 {
        let out = run(&["demo", "--rate", "50", "--count", "4", "--quiet"], &url).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("sent 4 changes") && !stderr.contains("may or may not"), "run {run_no}: {stderr}");
    }
    // The viewer saw 12 notifications, and no more come.
    let mut seen = 0;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_millis(500), viewer.next()).await {
        if let Message::Text(text) = frame {
            seen += usize::from(text.contains(r#""type":"furniture_notification""#));
        }
    }
    assert_eq!(seen, 12);
    shutdown.cancel();
}

/// A broker that never sends changes back to their sender: the demo cannot tell which were made,
/// and stops (status 1) rather than making up for them with as many more, again and again.
#[tokio::test]
async fn a_demo_whose_changes_are_never_answered_stops() {
    let (url, mut frames) = server(false, "abc").await;
    // The duration only ends a demo that would go on for ever.
    let out = run(&["demo", "--rate", "100", "--count", "3", "--duration", "60", "--quiet"], &url).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("answered none of the 3 changes"), "{stderr}");
    let mut got = 0;
    while frames.try_recv().is_ok() {
        got += 1;
    }
    assert_eq!(got, 3, "no change made up for: {stderr}");
    // One that closes on each change without answering it: stopped after three connections so,
    // not reconnecting for ever before its count.
    let (url, mut frames, _) = fake_broker(|_, _| Answer::GoAway).await;
    let out = run(&["demo", "--rate", "100", "--count", "3", "--duration", "60", "--quiet"], &url).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("answered none of the changes sent on its last 3 connections"), "{stderr}");
    let mut connections = std::collections::BTreeSet::new();
    while let Ok((connection, _)) = frames.try_recv() {
        connections.insert(connection);
    }
    assert_eq!(connections.len(), 3, "{stderr}");
}

/// A broker that goes away (1001) at every third change, answering no more: that change and
/// those the demo wrote meanwhile were never answered, and it makes up for them on the next connection,
/// so that the brokers answered (echoed) exactly the count asked for.
#[tokio::test]
async fn the_demo_makes_up_for_changes_a_closing_broker_never_answered() {
    let (url, _, echoed) = fake_broker(|_, n| if n == 3 { Answer::GoAway } else { Answer::Echo }).await;
    let out = run(&["demo", "--rate", "1000", "--count", "30", "--seed", "3", "--quiet"], &url).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(echoed.load(std::sync::atomic::Ordering::SeqCst), 30, "{stderr}");
}

/// The last change of the count unanswered (the broker went away as it came): the demo makes
/// up for it on a new connection rather than stopping one short.
#[tokio::test]
async fn the_demo_makes_up_for_its_last_change_when_the_broker_goes_away_with_it() {
    let (url, _, echoed) = fake_broker(|connection, n| if (connection, n) == (1, 5) { Answer::GoAway } else { Answer::Echo }).await;
    let out = run(&["demo", "--rate", "1000", "--count", "5", "--seed", "5", "--quiet"], &url).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(echoed.load(std::sync::atomic::Ordering::SeqCst), 5, "{stderr}");
    assert!(stderr.contains("may or may not have been made"), "{stderr}");
}

/// `updated` and `deleted` need `--id` (usage error 2 without it, nothing sent), `created`
/// makes one up, an empty `--id` is an error for all three; the token in the URL is not printed,
/// not even by `--help`.
#[tokio::test]
async fn only_created_makes_up_an_id_and_the_token_is_never_printed() {
    let (url, mut frames) = server(true, "S3CRET").await;
    for command in ["updated", "deleted"] {
        let out = run(&[command, "--nombre", "Mesa"], &url).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains(&format!("{command} needs --id")), "{stderr}");
    }
    for command in ["created", "updated", "deleted"] {
        for id in ["", " "] {
            let out = run(&[command, "--id", id, "--nombre", "Mesa"], &url).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {id:?}: {stderr}");
            assert!(stderr.contains("--id is empty"), "{stderr}");
        }
    }
    for (command, id) in [("updated", "a1"), ("deleted", "a1"), ("created", "")] {
        let args: &[&str] = if id.is_empty() { &[command, "--nombre", "Mesa"] } else { &[command, "--id", id, "--nombre", "Mesa"] };
        let out = run(args, &url).await;
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(printed.contains("token=***") && !printed.contains("S3CRET"), "{command}: {printed}");
        let frame = tokio::time::timeout(Duration::from_secs(5), frames.recv()).await.unwrap().unwrap();
        assert_eq!(frame["type"], format!("furniture_{command}"), "{frame}");
        let sent_id = frame["furniture"]["furniture_id"].as_str().unwrap_or_default().to_owned();
        assert!(if id.is_empty() { sent_id.len() == 24 } else { sent_id == id }, "{command}: {frame}");
    }
    let help = run(&["--help"], &url).await;
    assert!(help.status.success());
    assert!(!String::from_utf8_lossy(&help.stdout).contains("S3CRET"), "--help shows no token");
}

/// Numbers of seconds too large for a clock, or a rate too small, are usage errors (status 2),
/// not a crash; so is a URL that is not ws://.
#[tokio::test]
async fn huge_or_tiny_numbers_and_other_schemes_are_usage_errors() {
    for args in [
        &["--timeout", "1e20", "created"][..],
        &["demo", "--rate", "1e-20"][..],
        &["demo", "--duration", "1e20"][..],
        &["demo", "--rate", "inf"][..],
        // Nothing to do: no change, no time, no item.
        &["demo", "--count", "0"][..],
        &["demo", "--duration", "0"][..],
        &["demo", "--max-items", "0"][..],
    ] {
        let out = run(args, "ws://127.0.0.1:1").await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{args:?}");
    }
    // Sizes are whole centimetres, not negative, and the error says so.
    for size in ["75.5", "-3", "alta", "", "9223372036854775808"] {
        let out = run(&["created", "--altura", size], "ws://127.0.0.1:1").await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{size}: {stderr}");
        assert!(stderr.contains("a size is whole centimetres from 0 to 9223372036854775807"), "{size}: {stderr}");
    }
    let out = run(&["created"], "wss://127.0.0.1:1/").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wss:// (TLS) is not supported"));
    // A port beyond 65535 (which would otherwise be dropped, and port 80 tried), a space, no
    // host: for a one-shot send and for the demo, which cannot get anywhere by retrying.
    for (url, says) in [
        ("ws://127.0.0.1:87650", "its port"),
        ("ws://local host:8765", "it has a space in it"),
        ("ws:///path", "invalid broker URL"),
        ("ws://:8765/", "it names no host"),
        ("ws://", "it names no host"),
        ("ws://[::1", "it is not a URL (invalid authority)"),
    ] {
        for args in [&["created"][..], &["demo", "--count", "1"][..]] {
            let out = run(args, url).await;
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{url} {args:?}: {err}");
            assert!(err.contains(says), "{url}: {err}");
        }
    }
}

/// A refusal of the demo's last change (it came after the last send) is still reported, with
/// status 1: the broker does not have every change the demo counted.
#[tokio::test]
async fn a_demo_whose_last_change_is_refused_fails() {
    use futures_util::SinkExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(_) = msg {
                        let no = r#"{"type":"error","reason":"protected_mode","message":"publish refused: loopback only","timestamp":"2026-12-06T10:00:00.000000"}"#;
                        let _ = ws.send(Message::text(no)).await;
                    }
                }
            });
        }
    });
    let out = run(&["demo", "--count", "1", "--quiet"], &url).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused the change: publish refused: loopback only"), "{stderr}");
}

/// Ctrl-C, or the SIGTERM of a service manager, stops a running demo cleanly: the last changes
/// are waited for, the count is printed, and the status is 0.
#[tokio::test]
async fn ctrl_c_or_sigterm_stops_the_demo_with_status_0() {
    for signal in ["-INT", "-TERM"] {
        let (url, mut frames) = server(true, "abc").await;
        let mut cmd = Command::new(BIN);
        cmd.args(["demo", "--rate", "50", "--quiet"]).env("WEBSOCKET_URL", &url).stderr(std::process::Stdio::piped());
        let child = cmd.spawn().unwrap();
        for _ in 0..3 {
            tokio::time::timeout(Duration::from_secs(10), frames.recv()).await.expect("the demo sends").unwrap();
        }
        let kill = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{signal}: {stderr}");
        assert!(stderr.contains("demo: sent "), "{signal}: {stderr}");
    }
}

/// A demo that could deliver nothing before its deadline fails (status 1), saying so, rather
/// than reporting success.
#[tokio::test]
async fn a_demo_short_of_its_count_at_the_deadline_fails() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("ws://127.0.0.1:{port}");
    let out = run(&["demo", "--count", "3", "--duration", "1", "--quiet"], &url).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("only 0 of 3 changes delivered"), "{stderr}");
    let out = run(&["demo", "--duration", "1", "--quiet"], &url).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no change delivered"), "{stderr}");
}
