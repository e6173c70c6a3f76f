//! The `furniture-broker` binary: SIGTERM closes every client with 1001 and exits 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// SIGTERM: every client gets 1001, and the process exits 0 within the shutdown grace.
#[tokio::test]
async fn sigterm_closes_clients_with_1001_and_exits_0() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut broker = Command::new(env!("CARGO_BIN_EXE_furniture-broker"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("ws://127.0.0.1:{port}");
    let mut ws = None;
    for _ in 0..100 {
        if let Ok((s, _)) = tokio_tungstenite::connect_async(url.as_str()).await {
            ws = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ws = ws.expect("the broker accepts connections");
    assert!(matches!(ws.next().await, Some(Ok(Message::Text(_)))), "welcome");
    Command::new("kill").args(["-TERM", &broker.id().to_string()]).status().unwrap();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(f))) => break f.map(|f| f.code),
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, Some(CloseCode::Away));
    let status = tokio::task::spawn_blocking(move || broker.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status:?}");
}
