//! The `furniture-notify` command as a script or a person runs it.

use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_furniture-notify");

/// A WebSocket server that records the text frames it receives, one connection after another.
async fn recording_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/path?token=abc", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(t) = msg {
                        let _ = tx.send(serde_json::from_str(&t).expect("the notifier sends JSON"));
                    }
                }
            });
        }
    });
    (url, rx)
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
    let (url, mut frames) = recording_server().await;
    let out = run(&["created", "--id", "abc", "--nombre", "Mesa de Roble", "--altura", "75", "--ancho", "120", "--material", "roble"], &url).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let frame = tokio::time::timeout(Duration::from_secs(5), frames.recv()).await.unwrap().unwrap();
    assert_eq!(
        frame,
        serde_json::json!({"type": "furniture_created", "furniture": {"furniture_id": "abc", "nombre": "Mesa de Roble", "altura": 75, "ancho": 120, "material": "roble"}})
    );
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
    use futures_util::SinkExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (tx, mut frames) = tokio::sync::mpsc::unbounded_channel::<(usize, String)>();
    tokio::spawn(async move {
        let mut connection = 0;
        while let Ok((stream, _)) = listener.accept().await {
            connection += 1;
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                let mut received = 0;
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(t) = msg {
                        received += 1;
                        let _ = tx.send((connection, t.to_string()));
                        if connection == 1 && received == 2 {
                            let doubt = r#"{"type":"error","reason":"in_doubt","message":"publish in doubt: the shared state stopped answering","timestamp":"2026-11-29T22:00:00.000000"}"#;
                            let _ = ws.send(Message::text(doubt)).await;
                        }
                    }
                }
            });
        }
    });
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
    let (url, mut frames) = recording_server().await;
    let out = run(&["demo", "--rate", "200", "--count", "25", "--seed", "4", "--quiet"], &url).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for _ in 0..25 {
        let f = tokio::time::timeout(Duration::from_secs(5), frames.recv()).await.unwrap().unwrap();
        assert!(f["type"].as_str().unwrap().starts_with("furniture_"));
        assert_eq!(f["furniture"]["furniture_id"].as_str().map(str::len), Some(24));
    }
    assert!(tokio::time::timeout(Duration::from_millis(300), frames.recv()).await.is_err(), "no more than 25");
}
